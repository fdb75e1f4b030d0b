package peer

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/objstore"
)

// Loader is what a member serves blocks from: the cache it belongs to.
// *cache.Blocks implements it. The server calls Load with
// cache.LoadOptions{Local: true}, so serving never asks another peer.
type Loader interface {
	Load(ctx context.Context, obj objstore.Object, idx int64, opts cache.LoadOptions) (*cache.Handle, error)
}

// Member is one process's place in a ring: it gossips membership, serves
// the blocks it owns to other members, and, as the cache's cache.Peers,
// fetches blocks owned by others. Make one with New, hand it to the cache
// as cache.Config.Peers, then Start it with the cache. A Member is safe
// for concurrent use.
type Member struct {
	cfg   Config
	keys  keys
	self  meta
	store [16]byte
	log   *slog.Logger

	view atomic.Pointer[View]

	// mu guards nodes, the members memberlist reported alive with
	// metadata of our store and block size, by name, and is held while a
	// new View is published. memberlist calls the event delegate under
	// its own lock, never concurrently; nothing here calls memberlist
	// while holding mu.
	mu    sync.Mutex
	nodes map[string]Node

	// started is set when Start begins; running once every field below
	// is set, so a Fetch that sees it running sees them.
	started, running, closed atomic.Bool
	ml                       *memberlist.Memberlist
	ln                       net.Listener
	srv                      *http.Server
	client                   *http.Client
	dataAddr                 string // advertised data address
	scheme                   string // "http", or "https" with Config.TLS

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the rejoin loop and the HTTP server

	serving chan struct{} // a slot per request being served

	// hmu guards stopping and calls to handlers.Add, so Close's Wait
	// never races an Add from zero.
	hmu       sync.Mutex
	stopping  bool
	handlers  sync.WaitGroup // requests being served
	nonces    *nonces
	penalty   penaltyBox
	fallbacks fallbacks
	inflight  inflight
	stats     counters
}

var _ cache.Peers = (*Member)(nil)

// New validates cfg and returns a Member that has not started: until
// Start, Fetch answers cache.ErrNoPeer. Errors wrap fs.ErrInvalid.
func New(cfg Config) (*Member, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		host, _ := os.Hostname()
		var r [4]byte
		rand.Read(r[:])
		cfg.Name = host + "-" + hex.EncodeToString(r[:])
	}
	cfg.Secret = append([]byte(nil), cfg.Secret...)
	cfg.Seeds = append([]string(nil), cfg.Seeds...)
	ctx, cancel := context.WithCancel(context.Background())
	m := &Member{
		cfg: cfg, keys: deriveKeys(cfg.Secret), store: storeHash(cfg.StoreID), log: cfg.Logger,
		nodes: make(map[string]Node), ctx: ctx, cancel: cancel, nonces: newNonces(1 << 20),
		serving: make(chan struct{}, cfg.MaxServing),
	}
	m.penalty.init(cfg.Penalty, cfg.MaxPenalty, cfg.Now)
	m.fallbacks.init(cfg.MaxFallbacks)
	m.view.Store(newView(nil))
	return m, nil
}

// Name returns the member's name in the ring.
func (m *Member) Name() string { return m.cfg.Name }

// Start opens the block server, serving blocks from l, and joins the ring
// through Config.Seeds. A failed join is logged and retried every
// RejoinInterval, so members may start in any order. ctx bounds only the
// start.
func (m *Member) Start(ctx context.Context, l Loader) error {
	if m.closed.Load() {
		return fmt.Errorf("peer: start: %w", fs.ErrClosed)
	}
	if !m.started.CompareAndSwap(false, true) {
		return errors.New("peer: started twice")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", m.cfg.DataAddr)
	if err != nil {
		return fmt.Errorf("peer: listen for blocks: %w", err)
	}
	m.ln = ln

	mc := memberlist.DefaultLANConfig()
	if m.cfg.Local {
		mc = memberlist.DefaultLocalConfig()
	}
	mc.Name = m.cfg.Name
	if m.cfg.SyncInterval > 0 {
		mc.PushPullInterval = m.cfg.SyncInterval
	}
	mc.BindAddr, mc.BindPort = m.cfg.BindAddr, m.cfg.BindPort
	mc.AdvertisePort = m.cfg.BindPort
	if m.cfg.AdvertiseAddr != "" {
		h, p, _ := net.SplitHostPort(m.cfg.AdvertiseAddr)
		mc.AdvertiseAddr = h
		mc.AdvertisePort, _ = strconv.Atoi(p)
	}
	mc.SecretKey = m.keys.gossip
	mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	mc.Label = "tierfs/" + m.cfg.Cluster
	mc.DeadNodeReclaimTime = m.cfg.DeadNodeReclaim
	mc.Events = (*events)(m)
	mc.Delegate = (*delegate)(m)
	mc.Logger = slog.NewLogLogger(m.log.Handler(), slog.LevelDebug)
	// The advertised data address: the listener's port, and its host
	// unless it is unspecified, then the gossip address's.
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = ""
	}
	m.dataAddr = net.JoinHostPort(host, port)
	if host != "" {
		m.setSelf()
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		ln.Close()
		return fmt.Errorf("peer: start gossip: %w", err)
	}
	m.ml = ml
	if host == "" {
		ln := ml.LocalNode()
		m.dataAddr = net.JoinHostPort(ln.Addr.String(), port)
		m.setSelf()
		if err := ml.UpdateNode(time.Second); err != nil {
			m.log.Debug("peer: advertising the data address", "err", err)
		}
	}

	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: m.cfg.StallTimeout}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	m.scheme = "http"
	if m.cfg.TLS != nil {
		tr.TLSClientConfig = m.cfg.TLS.Clone()
		tr.ForceAttemptHTTP2 = false
		ln = tls.NewListener(ln, m.cfg.TLS.Clone())
		m.scheme = "https"
	}
	m.client = &http.Client{Transport: tr}
	m.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m.serve(w, r, l) }),
		ReadHeaderTimeout: m.cfg.StallTimeout, BaseContext: func(net.Listener) context.Context { return m.ctx }}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Debug("peer: block server stopped", "err", err)
		}
	}()
	if len(m.cfg.Seeds) > 0 {
		if err := m.join(ctx); err != nil {
			m.log.Debug("peer: join failed; will retry", "seeds", m.cfg.Seeds, "err", err)
		}
	}
	if len(m.cfg.Seeds) > 0 && m.cfg.RejoinInterval > 0 {
		m.wg.Add(1)
		go m.rejoin()
	}
	m.running.Store(true)
	return nil
}

// setSelf sets the metadata this member advertises.
func (m *Member) setSelf() {
	m.mu.Lock()
	m.self = meta{DataAddr: m.dataAddr, Zone: m.cfg.Zone, Weight: m.cfg.Weight, Store: m.store, BlockSize: m.cfg.BlockSize}
	m.mu.Unlock()
}

// rejoin joins through the seeds every RejoinInterval (resolving their
// names again), healing a ring split by a partition or started out of
// order, and finding members a DNS name has gained.
func (m *Member) rejoin() {
	defer m.wg.Done()
	t := time.NewTicker(m.cfg.RejoinInterval)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
			if err := m.join(m.ctx); err != nil {
				m.log.Debug("peer: rejoin failed", "err", err)
			}
		}
	}
}

// resolveTimeout bounds the lookup of the seeds' names in one join.
const resolveTimeout = 5 * time.Second

// join resolves the seeds (every address of every name, looked up anew)
// and joins the ring through them.
func (m *Member) join(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	var addrs []string
	var errs []error
	for _, s := range m.cfg.Seeds {
		host, port, err := net.SplitHostPort(s)
		if err != nil || strings.Contains(s, "/") || net.ParseIP(host) != nil {
			addrs = append(addrs, s) // an address, or a form memberlist reads itself
			continue
		}
		ips, err := m.cfg.Resolver.LookupHost(ctx, host)
		if err != nil {
			errs = append(errs, fmt.Errorf("peer: resolve seed %q: %w", s, err))
			continue
		}
		for _, ip := range ips {
			addrs = append(addrs, net.JoinHostPort(ip, port))
		}
	}
	if len(addrs) > 0 {
		if _, err := m.ml.Join(addrs); err != nil {
			errs = append(errs, fmt.Errorf("peer: join: %w", err))
		}
	}
	return errors.Join(errs...)
}

// GossipAddr returns the address ("host:port") other members join
// through, once started.
func (m *Member) GossipAddr() string {
	if m.ml == nil {
		return ""
	}
	n := m.ml.LocalNode()
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// DataAddr returns the block server's advertised address, once started.
func (m *Member) DataAddr() string { return m.dataAddr }

// View returns the member's current view of the ring.
func (m *Member) View() *View { return m.view.Load() }

// WaitMembers waits until the view holds at least n members, or ctx is
// done.
func (m *Member) WaitMembers(ctx context.Context, n int) error {
	for {
		v := m.View()
		if len(v.Nodes) >= n {
			return nil
		}
		select {
		case <-v.Changed():
		case <-ctx.Done():
			return fmt.Errorf("peer: waiting for %d members (have %d): %w", n, len(v.Nodes), ctx.Err())
		}
	}
}

// Close leaves the ring (telling the others, for up to a second), stops
// the block server and cancels fetches in flight, which then go on from
// the origin. It waits for its goroutines. Close is idempotent; later
// calls to Start fail with fs.ErrClosed and Fetch answers
// cache.ErrNoPeer.
func (m *Member) Close() error {
	if !m.closed.CompareAndSwap(false, true) {
		return nil
	}
	var errs []error
	if m.ml != nil {
		if err := m.ml.Leave(time.Second); err != nil {
			errs = append(errs, fmt.Errorf("peer: leave: %w", err))
		}
	}
	m.cancel() // ends the handlers' waits and the fetches in flight
	m.hmu.Lock()
	m.stopping = true
	m.hmu.Unlock()
	if m.srv != nil {
		// Not Shutdown: it waits up to 5 s for connections a client opened
		// and never used. The handlers end with m.ctx.
		m.srv.Close()
	}
	m.handlers.Wait()
	if m.ml != nil {
		if err := m.ml.Shutdown(); err != nil {
			errs = append(errs, fmt.Errorf("peer: shutdown: %w", err))
		}
	}
	m.wg.Wait()
	if m.client != nil {
		m.client.CloseIdleConnections()
	}
	m.publish(nil)
	return errors.Join(errs...)
}

// publish replaces the view with one built from m.nodes; with nil, an
// empty one (closed).
func (m *Member) publish(nodes map[string]Node) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.publishLocked(nodes)
}

// publishLocked is publish with m.mu held.
func (m *Member) publishLocked(nodes map[string]Node) {
	list := make([]Node, 0, len(nodes))
	for _, n := range nodes {
		list = append(list, n)
	}
	old := m.view.Swap(newView(list))
	close(old.changed)
}

// events is Member's memberlist.EventDelegate. memberlist calls it while
// holding its node lock, never concurrently: it must not call memberlist.
type events Member

func (e *events) NotifyJoin(n *memberlist.Node)   { (*Member)(e).update(n, true) }
func (e *events) NotifyUpdate(n *memberlist.Node) { (*Member)(e).update(n, true) }
func (e *events) NotifyLeave(n *memberlist.Node)  { (*Member)(e).update(n, false) }

// update records a member joining, changing or leaving and publishes a new
// view if the members sharing our store and block size changed.
func (m *Member) update(n *memberlist.Node, alive bool) {
	if m.closed.Load() {
		return
	}
	md, err := decodeMeta(n.Meta)
	keep := alive && err == nil && md.Store == m.store && md.BlockSize == m.cfg.BlockSize &&
		(!m.cfg.ZoneLocal || md.Zone == m.cfg.Zone)
	if alive && err != nil {
		m.log.Debug("peer: member with unreadable metadata ignored", "member", n.Name, "err", err)
	}
	m.mu.Lock()
	old, had := m.nodes[n.Name]
	node := Node{Name: n.Name, DataAddr: md.DataAddr, Zone: md.Zone, Weight: md.Weight}
	switch {
	case keep && (!had || old != node):
		m.nodes[n.Name] = node
	case !keep && had:
		delete(m.nodes, n.Name)
	default:
		m.mu.Unlock()
		return
	}
	m.publishLocked(m.nodes)
	count := len(m.nodes)
	m.mu.Unlock()
	m.log.Debug("peer: membership changed", "member", n.Name, "alive", keep, "members", count)
}

// delegate is Member's memberlist.Delegate: it advertises the metadata.
// Its methods may be called concurrently.
type delegate Member

func (d *delegate) NodeMeta(limit int) []byte {
	m := (*Member)(d)
	m.mu.Lock()
	b := m.self.encode()
	m.mu.Unlock()
	if len(b) > limit {
		return nil // checked by New; never happens
	}
	return b
}
func (d *delegate) NotifyMsg([]byte)                           {}
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *delegate) LocalState(join bool) []byte                { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool)     {}
