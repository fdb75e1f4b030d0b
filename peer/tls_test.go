package peer

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/objstore/memstore"
)

// testTLS returns a mutual-TLS configuration with a self-signed
// certificate for 127.0.0.1 that is its own CA.
func testTLS(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tierfs test ring"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		RootCAs:      pool, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS13,
	}
}

// TestMutualTLS: members share blocks over mutual TLS; a client without a
// certificate is refused at the handshake.
func TestMutualTLS(t *testing.T) {
	store := memstore.New()
	cfg := testTLS(t)
	ms := startRing(t, store, 2, func(i int, c *Config) { c.TLS = cfg })
	obj, data := putObject(t, store, "tls.bin", 8*testBlock)
	a, b := ms[0], ms[1]
	idx := ownedBy(t, a, obj, b.Name(), a.Name())
	dst := make([]byte, testBlock)
	if n, err := a.Fetch(t.Context(), refOf(obj, idx), dst, 0, func(int64) {}); err != nil || n != testBlock ||
		!bytes.Equal(dst, data[idx*testBlock:(idx+1)*testBlock]) {
		t.Fatalf("fetch over TLS: %d, %v", n, err)
	}
	if got := a.Stats().BytesFetched; got != testBlock {
		t.Errorf("fetched %d verified bytes; want %d", got, testBlock)
	}
	got := make([]byte, len(data))
	if _, err := a.blocks.ReadAt(t.Context(), obj, got, 0, cache.ReadOptions{}); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read through the ring over TLS: %v", err)
	}

	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cfg.RootCAs}}}
	defer noCert.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://"+b.DataAddr()+blockPath, nil)
	if resp, err := noCert.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("a client without a certificate got %s", resp.Status)
	}
	plain := &http.Client{}
	defer plain.CloseIdleConnections()
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+b.DataAddr()+blockPath, nil)
	if resp, err := plain.Do(req); err == nil {
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP to a TLS member got %s", resp.Status)
		}
		resp.Body.Close()
	}
}
