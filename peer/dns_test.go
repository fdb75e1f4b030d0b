package peer

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/tierfs/tierfs/objstore/memstore"
)

// dnsServer answers A queries for one name over UDP on loopback, with the
// addresses set last (none at first: "no such host"), as a headless
// service's records change while its pods start.
type dnsServer struct {
	conn    net.PacketConn
	name    string
	queries atomic.Int64
	mu      sync.Mutex // guards addrs
	addrs   []netip.Addr
}

func startDNS(t *testing.T, name string) *dnsServer {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{conn: conn, name: name}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if out, ok := s.answer(buf[:n]); ok {
				conn.WriteTo(out, from)
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return s
}

func (s *dnsServer) set(addrs ...netip.Addr) {
	s.mu.Lock()
	s.addrs = addrs
	s.mu.Unlock()
}

func (s *dnsServer) answer(query []byte) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	s.queries.Add(1)
	s.mu.Lock()
	addrs := s.addrs
	s.mu.Unlock()
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	if q.Name.String() != s.name || len(addrs) == 0 && q.Type == dnsmessage.TypeA {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	b.StartQuestions()
	b.Question(q)
	b.StartAnswers()
	if rh.RCode == dnsmessage.RCodeSuccess && q.Type == dnsmessage.TypeA {
		for _, a := range addrs {
			b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 0}, dnsmessage.AResource{A: a.As4()})
		}
	}
	out, err := b.Finish()
	return out, err == nil
}

// resolver returns a Go resolver that asks only s.
func (s *dnsServer) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", s.conn.LocalAddr().String())
	}}
}

// freePort returns a port free for UDP and TCP on each of ips.
func freePort(t *testing.T, ips ...string) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", ips[0]+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		ok := true
		for _, ip := range ips {
			a := net.JoinHostPort(ip, strconv.Itoa(port))
			l, err1 := net.Listen("tcp", a)
			u, err2 := net.ListenPacket("udp", a)
			ok = ok && err1 == nil && err2 == nil
			if l != nil {
				l.Close()
			}
			if u != nil {
				u.Close()
			}
		}
		if ok {
			return port
		}
	}
	t.Fatal("no port free on every address")
	return 0
}

// TestSeedsResolvedOnRejoin: three members on 127.0.0.2–4 join through
// one DNS name, as pods behind a headless service do. The name has no
// address while they start (each starts a ring of its own); once it
// resolves to all three, the next rejoin resolves it again and joins
// every address: all three see one ring.
func TestSeedsResolvedOnRejoin(t *testing.T) {
	const name = "ring.tierfs.test."
	dns := startDNS(t, name)
	ips := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}
	port := freePort(t, ips...)
	seed := net.JoinHostPort("ring.tierfs.test", strconv.Itoa(port))
	store := memstore.New()
	var ms []*member
	for i, ip := range ips {
		cfg := testConfig(seed)
		cfg.Name, cfg.BindAddr, cfg.BindPort, cfg.DataAddr = "m"+strconv.Itoa(i), ip, port, ip+":0"
		cfg.Resolver, cfg.RejoinInterval = dns.resolver(), 100*time.Millisecond
		ms = append(ms, startMember(t, store, cfg))
	}
	for _, m := range ms {
		if n := len(m.View().Nodes); n != 1 {
			t.Fatalf("%s sees %d members before the name resolves; want itself alone", m.Name(), n)
		}
	}
	before := dns.queries.Load()
	var addrs []netip.Addr
	for _, ip := range ips {
		addrs = append(addrs, netip.MustParseAddr(ip))
	}
	dns.set(addrs...)
	waitRing(t, ms, 3)
	h := ms[0].View().Hash()
	for _, m := range ms[1:] {
		if m.View().Hash() != h {
			t.Errorf("%s's view differs from %s's", m.Name(), ms[0].Name())
		}
	}
	t.Logf("%d DNS queries before the name resolved, %d after", before, dns.queries.Load()-before)
	if before < int64(len(ms)) {
		t.Errorf("%d DNS queries while the members started; want one per member at least", before)
	}
}
