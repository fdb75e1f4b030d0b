package tierfs_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tierfs/tierfs"
	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/internal/s3test"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/memstore"
	"github.com/tierfs/tierfs/objstore/s3store"
	"github.com/tierfs/tierfs/objstore/storetest"
	"github.com/tierfs/tierfs/peer"
)

// The peer ring through tierfs.FS: members are real FS values with real
// memberlist and HTTP on loopback, over one origin.

const (
	prBlock = 256 << 10
	prStore = "mem://fleet"
)

var prSecret = []byte("fleet secret of thirty-two bytes")

// peerConfig is a member's config for these tests. The stall timeout is
// generous: under -race, with other packages' tests sharing two cores, a
// healthy owner can go a second without a frame, and a false stall costs
// an origin fetch the ratios count.
func peerConfig(name string, seeds ...string) peer.Config {
	return peer.Config{
		Name: name, BindAddr: "127.0.0.1", DataAddr: "127.0.0.1:0", Seeds: seeds, Secret: prSecret, Cluster: "fleet",
		Local: true, FrameSize: 64 << 10, StallTimeout: 5 * time.Second, FetchTimeout: 20 * time.Second,
	}
}

// startFleet starts n FS members over store (stores[i] for member i if
// given), each joining through every member started before it (a static
// membership), and waits until each sees all n.
// edit, if not nil, changes member i's peer config.
func startFleet(t *testing.T, store objstore.Store, n int, edit func(i int, c *peer.Config), stores ...objstore.Store) []*tierfs.FS {
	t.Helper()
	var fleet []*tierfs.FS
	for i := range n {
		var seeds []string
		for _, f := range fleet {
			seeds = append(seeds, f.Peer().GossipAddr())
		}
		st := store
		if i < len(stores) && stores[i] != nil {
			st = stores[i]
		}
		cfg := peerConfig(fmt.Sprintf("fs%d", i), seeds...)
		if edit != nil {
			edit(i, &cfg)
		}
		fsys, err := tierfs.New(st, tierfs.WithStoreID(prStore), tierfs.WithBlockSize(prBlock),
			tierfs.WithMemoryCache(64<<20), tierfs.WithPeers(cfg))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fsys.Close() })
		fleet = append(fleet, fsys)
	}
	if edit == nil {
		waitViews(t, fleet, n)
	}
	return fleet
}

// waitViews waits until each member's view holds n members.
func waitViews(t *testing.T, fleet []*tierfs.FS, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, fsys := range fleet {
		if err := fsys.Peer().WaitMembers(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
}

func putRandom(t *testing.T, s *memstore.Store, key string, size int) []byte {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	if _, err := s.Put(t.Context(), key, bytes.NewReader(data), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	return data
}

// TestPeersFleetColdRead: 6 members read one object at once, cold; every
// one gets exact bytes and the origin sends the object about once.
func TestPeersFleetColdRead(t *testing.T) {
	s := memstore.New()
	data := putRandom(t, s, "model.bin", 32*prBlock+777)
	fleet := startFleet(t, s, 6, nil)
	s.ResetStats()
	var wg sync.WaitGroup
	for _, fsys := range fleet {
		wg.Go(func() {
			got, err := fs.ReadFile(fsys, "model.bin")
			if err != nil {
				t.Error(err)
				return
			}
			if !bytes.Equal(got, data) {
				t.Errorf("%s read wrong bytes", fsys.Peer().Name())
			}
		})
	}
	wg.Wait()
	st := s.Stats("model.bin")
	ratio := float64(st.BodyBytes) / float64(len(data))
	var fetched, served, fallbacks int64
	maxServed := int64(0)
	for _, fsys := range fleet {
		ps := fsys.Stats().Peers
		fetched += ps.BytesFetched
		served += ps.BytesServed
		maxServed = max(maxServed, ps.BytesServed)
		fb := ps.Fallbacks
		fallbacks += fb.Error + fb.Stall + fb.Corrupt + fb.Busy
		if ps.Members != len(fleet) {
			t.Errorf("%s sees %d members", fsys.Peer().Name(), ps.Members)
		}
	}
	mean := float64(served) / float64(len(fleet))
	t.Logf("origin body bytes ÷ object = %.3f (%d GETs: one per block); bytes from peers %d; busiest member served %.2f× the mean; fallbacks %d",
		ratio, st.Gets, fetched, float64(maxServed)/mean, fallbacks)
	if ratio > 1.05 {
		t.Errorf("origin sent %.3f× the object to %d members; want ≤ 1.05×", ratio, len(fleet))
	}
	if limit := 1.25*mean + float64((len(fleet)-1)*prBlock); float64(maxServed) > limit {
		t.Errorf("the busiest member served %d bytes; want ≤ 1.25× the mean (%.0f) + a block to each other member", maxServed, mean)
	}
	if fetched < int64(len(fleet)-2)*int64(len(data)) {
		t.Errorf("members fetched %d bytes from peers; want most of %d", fetched, int64(len(fleet)-1)*int64(len(data)))
	}
}

// TestPeersOwnerClosedMidRead: a member closes while the others are
// reading the blocks it owns; every reader still gets exact bytes.
func TestPeersOwnerClosedMidRead(t *testing.T) {
	s := memstore.New()
	data := putRandom(t, s, "shard.tar", 32*prBlock)
	// The victim's origin holds every body until the victim is closed, so
	// that it closes with the blocks it owns in flight to the readers.
	gate := &gatedStore{Store: s, arrived: make(chan struct{}, 1024)}
	fleet := startFleet(t, s, 4, nil, gate)
	victim := fleet[0]
	var wg sync.WaitGroup
	for _, fsys := range fleet[1:] {
		wg.Go(func() {
			got, err := fs.ReadFile(fsys, "shard.tar")
			if err != nil {
				t.Error(err)
				return
			}
			if !bytes.Equal(got, data) {
				t.Errorf("%s read wrong bytes", fsys.Peer().Name())
			}
		})
	}
	// The readers are waiting on the origin through their owners: close
	// the victim, then let the origin go.
	timeout := time.After(10 * time.Second)
	for range 3 {
		select {
		case <-gate.arrived:
		case <-timeout:
			t.Fatal("the owner was asked for no block")
		}
	}
	if err := victim.Close(); err != nil {
		t.Logf("closing the owner: %v", err)
	}
	wg.Wait()
	st := s.Stats("shard.tar")
	var fb peer.Fallbacks
	for _, fsys := range fleet[1:] {
		f := fsys.Stats().Peers.Fallbacks
		fb.Error += f.Error
		fb.Stall += f.Stall
		fb.Busy += f.Busy
		fb.Penalized += f.Penalized
	}
	t.Logf("origin body bytes ÷ object = %.3f (%d GETs for %d blocks); fallbacks %+v",
		float64(st.BodyBytes)/float64(len(data)), st.Gets, len(data)/prBlock, fb)
	if fb.Error+fb.Stall == 0 {
		t.Error("no reader fell back from the closed owner")
	}
	if extra := st.Gets - int64(len(data)/prBlock); extra > int64(len(data)/prBlock) {
		t.Errorf("%d origin GETs for %d blocks", st.Gets, len(data)/prBlock)
	}
}

// TestPeersNeedStoreID: WithPeers refuses New's default store identity
// and a peer config that disagrees with the FS.
func TestPeersNeedStoreID(t *testing.T) {
	s := memstore.New()
	for name, opts := range map[string][]tierfs.Option{
		"no store id":      {tierfs.WithPeers(peerConfig("a"))},
		"other store id":   {tierfs.WithStoreID("x"), tierfs.WithPeers(func() peer.Config { c := peerConfig("b"); c.StoreID = "y"; return c }())},
		"other block size": {tierfs.WithStoreID("x"), tierfs.WithPeers(func() peer.Config { c := peerConfig("c"); c.BlockSize = 1 << 20; return c }())},
		"short secret":     {tierfs.WithStoreID("x"), tierfs.WithPeers(func() peer.Config { c := peerConfig("d"); c.Secret = []byte("x"); return c }())},
	} {
		fsys, err := tierfs.New(s, opts...)
		if !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("%s: New = %v; want fs.ErrInvalid", name, err)
		}
		if fsys != nil {
			fsys.Close()
		}
	}
}

// gatedStore holds every body it is asked for until the caller gives up,
// signalling arrived for each.
type gatedStore struct {
	objstore.Store
	arrived chan struct{}
}

func (g *gatedStore) NewRangeReader(ctx context.Context, key string, off, length int64, opts objstore.ReadOptions) (*objstore.Reader, error) {
	select {
	case g.arrived <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestPeersZones: 2 zones × 4 members read one object at once. Zone-local
// rings keep every block inside its zone: each zone reads the object from
// the origin about once. One global ring over both zones reads it about
// once in all.
func TestPeersZones(t *testing.T) {
	for _, tc := range []struct {
		name      string
		zoneLocal bool
	}{{"zone-local", true}, {"global", false}} {
		t.Run(tc.name, func(t *testing.T) {
			s := memstore.New()
			data := putRandom(t, s, "model.bin", 16*prBlock)
			zone := func(i int) string { return fmt.Sprintf("zone-%c", 'a'+i%2) }
			fleet := startFleet(t, s, 8, func(i int, c *peer.Config) {
				c.Zone, c.ZoneLocal = zone(i), tc.zoneLocal
			})
			if tc.zoneLocal {
				waitViews(t, fleet, 4)
			} else {
				waitViews(t, fleet, 8)
			}
			s.ResetStats()
			var wg sync.WaitGroup
			for _, fsys := range fleet {
				wg.Go(func() {
					got, err := fs.ReadFile(fsys, "model.bin")
					if err != nil {
						t.Error(err)
					} else if !bytes.Equal(got, data) {
						t.Errorf("%s read wrong bytes", fsys.Peer().Name())
					}
				})
			}
			wg.Wait()
			fetched, served := map[string]int64{}, map[string]int64{}
			var fallbacks int64                   // block loads that went to the origin past their owner
			causes := map[string]peer.Fallbacks{} // of the members that gave up on a peer
			for i, fsys := range fleet {
				ps := fsys.Stats().Peers
				fetched[zone(i)] += ps.BytesFetched
				served[zone(i)] += ps.BytesServed
				fallbacks += ps.OriginFallbacks
				if ps.Fallbacks != (peer.Fallbacks{}) {
					causes[fsys.Peer().Name()] = ps.Fallbacks
				}
				if tc.zoneLocal && ps.Members != 4 {
					t.Errorf("%s sees %d members; want its zone's 4", fsys.Peer().Name(), ps.Members)
				}
			}
			body := s.Stats("model.bin").BodyBytes
			ratio := float64(body) / float64(len(data))
			t.Logf("origin bytes ÷ object = %.3f; %d origin fallbacks (peers given up on: %+v); from peers by zone %v, served by zone %v", ratio, fallbacks, causes, fetched, served)
			// Each ring reads each block once from the origin, and again
			// for each load that gave up on its owner (a loaded machine
			// can make an owner late): those are counted, and few.
			rings := int64(1)
			if tc.zoneLocal {
				rings = 2
			}
			if want := rings*int64(len(data)) + fallbacks*prBlock; body != want || fallbacks > 2 {
				t.Errorf("origin sent %.3f× the object (%d bytes) with %d origin fallbacks; want %d rings' reads and the fallbacks' blocks (%d bytes), and at most 2 fallbacks", ratio, body, fallbacks, rings, want)
			}
			if tc.zoneLocal {
				for z := range fetched {
					if fetched[z] != served[z] {
						t.Errorf("%s fetched %d bytes from peers and served %d: bytes crossed zones", z, fetched[z], served[z])
					}
				}
			}
		})
	}
}

// TestPeersFSTestFS: a ring member passes fstest.TestFS. (Its reads of a
// few bytes are sparse, which the cache serves from the origin, not the
// ring.)
func TestPeersFSTestFS(t *testing.T) {
	files := map[string][]byte{"hello.txt": fstestFiles["hello.txt"], "dir/b.txt": storetest.Data(3, 5000), "dir/sub/d.txt": {'d'}}
	s, err := memstore.FromMap(files)
	if err != nil {
		t.Fatal(err)
	}
	fleet := startFleet(t, s, 2, nil)
	if err := fstest.TestFS(fleet[1], "hello.txt", "dir/b.txt", "dir/sub/d.txt"); err != nil {
		t.Fatal(err)
	}
}

// TestPeersChurn: while members read, one joins and one leaves: no read
// fails, every byte is exact, and the views of the members left agree.
func TestPeersChurn(t *testing.T) {
	s := memstore.New()
	var names []string
	data := map[string][]byte{}
	for i := range 6 {
		n := fmt.Sprintf("shards/%02d.tar", i)
		names = append(names, n)
		data[n] = putRandom(t, s, n, 8*prBlock+i)
	}
	// A member that misses the leave's gossip learns of it at the next
	// full exchange; without one it waits out memberlist's suspicion of
	// the member gone, up to 18 s with DefaultLocalConfig.
	sync1s := func(i int, c *peer.Config) { c.SyncInterval = time.Second }
	fleet := startFleet(t, s, 4, sync1s)
	waitViews(t, fleet, 4)
	firstDone := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for _, fsys := range fleet[1:] {
		wg.Go(func() {
			for _, n := range names {
				got, err := fs.ReadFile(fsys, n)
				if err != nil {
					t.Errorf("%s: %v", fsys.Peer().Name(), err)
				} else if !bytes.Equal(got, data[n]) {
					t.Errorf("%s: %s: wrong bytes", fsys.Peer().Name(), n)
				}
				once.Do(func() { close(firstDone) })
			}
		})
	}
	<-firstDone
	var seeds []string
	for _, f := range fleet {
		seeds = append(seeds, f.Peer().GossipAddr())
	}
	// A graceful leave, then a join.
	if err := fleet[0].Close(); err != nil {
		t.Errorf("graceful leave: %v", err)
	}
	jcfg := peerConfig("joiner", seeds...)
	sync1s(0, &jcfg)
	joiner, err := tierfs.New(s, tierfs.WithStoreID(prStore), tierfs.WithBlockSize(prBlock),
		tierfs.WithMemoryCache(64<<20), tierfs.WithPeers(jcfg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { joiner.Close() })
	wg.Go(func() {
		for _, n := range names {
			got, err := fs.ReadFile(joiner, n)
			if err != nil || !bytes.Equal(got, data[n]) {
				t.Errorf("joiner: %s: %v", n, err)
			}
		}
	})
	wg.Wait()
	// The members left converge on one view of 4.
	left := append(fleet[1:4:4], joiner)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, f := range left {
		for {
			v := f.Peer().View()
			if len(v.Nodes) == 4 {
				break
			}
			select {
			case <-v.Changed():
			case <-ctx.Done():
				t.Fatalf("%s sees %d members; want 4", f.Peer().Name(), len(v.Nodes))
			}
		}
	}
	h := left[0].Peer().View().Hash()
	for _, f := range left[1:] {
		if f.Peer().View().Hash() != h {
			t.Errorf("%s's view differs from %s's", f.Peer().Name(), left[0].Peer().Name())
		}
	}
	var fb peer.Fallbacks
	for _, f := range left {
		x := f.Stats().Peers.Fallbacks
		fb.Error += x.Error
		fb.Stall += x.Stall
		fb.Busy += x.Busy
	}
	st := s.Total()
	var size int64
	for _, d := range data {
		size += int64(len(d))
	}
	t.Logf("origin body bytes ÷ data = %.3f; fallbacks %+v", float64(st.BodyBytes)/float64(size), fb)
}

// TestPeersSmallFiles: 4 members read the same 80 files of 48 KiB at
// once with ReadFile: the origin sends each file's bytes about once (the
// version comes by HEAD, the bytes from the ring).
func TestPeersSmallFiles(t *testing.T) {
	s := memstore.New()
	const files, size = 80, 48 << 10
	data := map[string][]byte{}
	var names []string
	for i := range files {
		n := fmt.Sprintf("images/%04d.jpg", i)
		names = append(names, n)
		data[n] = putRandom(t, s, n, size)
	}
	fleet := startFleet(t, s, 4, nil)
	s.ResetStats()
	var wg sync.WaitGroup
	for k, fsys := range fleet {
		wg.Go(func() {
			for i := range names {
				n := names[(i+k*files/len(fleet))%files] // each member starts elsewhere
				got, err := fs.ReadFile(fsys, n)
				if err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(got, data[n]) {
					t.Errorf("%s: %s: wrong bytes", fsys.Peer().Name(), n)
				}
			}
		})
	}
	wg.Wait()
	st := s.Total()
	ratio := float64(st.BodyBytes) / float64(files*size)
	t.Logf("origin body bytes ÷ data set = %.3f (%d GETs, %d HEADs for %d files × %d members)", ratio, st.Gets, st.Heads, files, len(fleet))
	if ratio > 1.05 {
		t.Errorf("origin sent %.3f× the data set; want ≤ 1.05×", ratio)
	}
}

// TestPeersChildMember is not a test: it is the member process that
// TestPeersOwnerKilled starts and kills, and returns at once otherwise.
func TestPeersChildMember(t *testing.T) {
	env := os.Getenv("TIERFS_PEER_CHILD") // endpoint, then the seeds, space-separated
	if env == "" {
		return
	}
	f := strings.Fields(env)
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(f[0]), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	st, err := s3store.New(t.Context(), "test", "root", &s3store.Options{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := tierfs.New(st, tierfs.WithStoreID(prStore), tierfs.WithBlockSize(prBlock),
		tierfs.WithMemoryCache(64<<20), tierfs.WithPeers(peerConfig("child", f[1:]...)))
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	fmt.Println("up", fsys.Peer().GossipAddr())
	io.Copy(io.Discard, os.Stdin) // serve until killed
}

// TestPeersOwnerKilled: a member process that owns blocks is killed
// (SIGKILL) while two members read from it: both get exact bytes, with at
// most one extra origin GET per block it owned.
func TestPeersOwnerKilled(t *testing.T) {
	srv, st := s3Store(t, s3test.Shaping{ConnBandwidth: 8 << 20})
	data := make([]byte, 16*prBlock)
	rand.Read(data)
	if _, err := st.Put(t.Context(), "model.bin", bytes.NewReader(data), objstore.PutOptions{Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	fleet := startFleet(t, st, 2, nil)
	cmd := exec.Command(os.Args[0], "-test.run=^TestPeersChildMember$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TIERFS_PEER_CHILD="+srv.URL()+" "+fleet[0].Peer().GossipAddr()+" "+fleet[1].Peer().GossipAddr())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	kill := func() {
		if !killed {
			killed = true
			cmd.Process.Kill() // SIGKILL
			cmd.Wait()
		}
	}
	defer stdin.Close()
	defer kill()
	up := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		found := false
		for sc.Scan() {
			if !found && strings.HasPrefix(sc.Text(), "up ") {
				found = true
				up <- true
			}
		}
		if !found {
			up <- false
		}
	}()
	select {
	case ok := <-up:
		if !ok {
			t.Fatal("the member process exited before it was up")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the member process did not come up")
	}
	waitViews(t, fleet, 3)
	obj, err := st.Stat(t.Context(), "model.bin")
	if err != nil {
		t.Fatal(err)
	}
	v := fleet[0].Peer().View()
	nb := cache.NumBlocks(obj.Size, prBlock)
	owned := 0
	for i := range nb {
		p, _ := v.BlockOwners(cache.Key(prStore, obj, prBlock, -1), nb, i, func(i int64) string { return cache.Key(prStore, obj, prBlock, i) })
		if v.Nodes[p].Name == "child" {
			owned++
		}
	}
	srv.ResetStats()
	start := time.Now()
	firstBlock := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for _, fsys := range fleet {
		wg.Go(func() {
			f, err := fsys.Open("model.bin")
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			got := make([]byte, len(data))
			if _, err := io.ReadFull(f, got[:prBlock]); err != nil {
				t.Error(err)
				return
			}
			once.Do(func() { close(firstBlock) })
			if _, err := io.ReadFull(f, got[prBlock:]); err != nil {
				t.Error(err)
				return
			}
			if !bytes.Equal(got, data) {
				t.Errorf("%s read wrong bytes", fsys.Peer().Name())
			}
		})
	}
	<-firstBlock
	kill()
	wg.Wait()
	gets := srv.Stats("test", "root/model.bin").Gets
	var fb peer.Fallbacks
	for _, f := range fleet {
		x := f.Stats().Peers.Fallbacks
		fb.Error += x.Error
		fb.Stall += x.Stall
		fb.Penalized += x.Penalized
	}
	t.Logf("the killed member owned %d of %d blocks; %d origin GETs; readers done in %v; fallbacks %+v", owned, nb, gets, time.Since(start), fb)
	if gets > nb+int64(owned) {
		t.Errorf("%d origin GETs for %d blocks, %d of them owned by the killed member; want ≤ %d", gets, nb, owned, nb+int64(owned))
	}
}

// hangStore's range reads send the first part bytes of the range and
// then hang until the read is given up (part 0: nothing, as an origin
// that never answers).
type hangStore struct {
	objstore.Store
	part float64
}

func (h hangStore) NewRangeReader(ctx context.Context, key string, off, length int64, opts objstore.ReadOptions) (*objstore.Reader, error) {
	if h.part == 0 {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	r, err := h.Store.NewRangeReader(ctx, key, off, length, opts)
	if err != nil {
		return nil, err
	}
	open := func(context.Context, int64, int64, objstore.Version) (io.ReadCloser, objstore.Object, error) {
		return &hangBody{r: r, left: int64(h.part * float64(r.Remaining())), ctx: ctx}, r.Object(), nil
	}
	return objstore.NewReader(ctx, key, off, length, opts, objstore.RetryPolicy{MaxResumes: -1, StallTimeout: -1}, open)
}

type hangBody struct {
	r    io.ReadCloser
	left int64
	ctx  context.Context
}

func (b *hangBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		<-b.ctx.Done()
		return 0, b.ctx.Err()
	}
	n, err := b.r.Read(p[:min(int64(len(p)), b.left)])
	b.left -= int64(n)
	return n, err
}

func (b *hangBody) Close() error { return b.r.Close() }

// TestPeersOwnerHangs: a member sends its response headers (and, in one
// case, half of each block) and then hangs, while three members read the
// object through the ring at once. Every reader gets exact bytes; a
// fetch gives up on the hung owner once per block at most and goes on
// from its last verified byte; the origin sends at most one extra GET per
// block the hung member owns; and once every member is closed no
// goroutine is left.
func TestPeersOwnerHangs(t *testing.T) {
	for _, tc := range []struct {
		name string
		part float64
	}{{"after headers", 0}, {"mid-block", 0.5}} {
		t.Run(tc.name, func(t *testing.T) {
			base := runtime.NumGoroutine()
			s := memstore.New()
			data := putRandom(t, s, "model.bin", 24*prBlock)
			const stall = 2 * time.Second
			var fleet []*tierfs.FS
			func() {
				hung := hangStore{Store: s, part: tc.part}
				fleet = startFleet(t, s, 4, func(i int, c *peer.Config) { c.StallTimeout = stall }, hung)
				waitViews(t, fleet, 4)
				defer func() {
					for _, f := range fleet {
						f.Close()
					}
				}()
				obj, err := s.Stat(t.Context(), "model.bin")
				if err != nil {
					t.Fatal(err)
				}
				nb := cache.NumBlocks(obj.Size, prBlock)
				v := fleet[1].Peer().View()
				var affected int64
				for i := range nb {
					p, _ := v.BlockOwners(cache.Key(prStore, obj, prBlock, -1), nb, i, func(i int64) string { return cache.Key(prStore, obj, prBlock, i) })
					if v.Nodes[p].Name == fleet[0].Peer().Name() {
						affected++
					}
				}
				s.ResetStats()
				start := time.Now()
				var wg sync.WaitGroup
				for _, fsys := range fleet[1:] {
					wg.Go(func() {
						got, err := fs.ReadFile(fsys, "model.bin")
						if err != nil {
							t.Error(err)
						} else if !bytes.Equal(got, data) {
							t.Errorf("%s read wrong bytes", fsys.Peer().Name())
						}
					})
				}
				wg.Wait()
				took := time.Since(start)
				gets := s.Stats("model.bin").Gets
				var fb peer.Fallbacks
				for _, f := range fleet[1:] {
					x := f.Stats().Peers.Fallbacks
					fb.Error += x.Error
					fb.Stall += x.Stall
					fb.Busy += x.Busy
					fb.Penalized += x.Penalized
				}
				t.Logf("the hung member owned %d of %d blocks; %d origin GETs; readers done in %v (stall timeout %v); fallbacks %+v",
					affected, nb, gets, took, stall, fb)
				if affected == 0 {
					t.Fatal("the hung member owns no block")
				}
				if fb.Stall == 0 {
					t.Error("no fetch gave up on the hung owner")
				}
				if fb.Stall > 3*affected {
					t.Errorf("%d fetches stalled; want at most one per reader and block of the hung member (%d)", fb.Stall, 3*affected)
				}
				if limit := nb + affected; gets > limit {
					t.Errorf("%d origin GETs for %d blocks, %d of them owned by the hung member; want ≤ %d", gets, nb, affected, limit)
				}
			}()
			if n := goroutinesBack(base); n > base {
				buf := make([]byte, 1<<20)
				t.Errorf("%d goroutines after Close; %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
			}
		})
	}
}

// TestPeersSparseReads: member A reads an object whole, which leaves each
// of its blocks cached at its owner; member B's random reads of 4–64 KiB
// of it, sparse, are answered from the owners' caches (cached-only
// requests): exact bytes and no origin GET. B's sparse reads of an object
// nobody holds go to the origin, and no member starts a load for them.
func TestPeersSparseReads(t *testing.T) {
	s := memstore.New()
	held := putRandom(t, s, "held.bin", 24*prBlock+999)
	cold := putRandom(t, s, "cold.bin", 40*prBlock)
	fleet := startFleet(t, s, 3, nil)
	a, b := fleet[0], fleet[1]
	if got, err := fs.ReadFile(a, "held.bin"); err != nil || !bytes.Equal(got, held) {
		t.Fatalf("A's read: %v", err)
	}
	for _, fsys := range fleet {
		fsys.WaitLoads()
		tierfs.SettleTiers(fsys)
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	readAt := func(name string, data []byte, off int64, n int) {
		t.Helper()
		f, err := b.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got := make([]byte, n)
		if _, err := f.(io.ReaderAt).ReadAt(got, off); err != nil {
			t.Fatalf("B's read of %d bytes of %s at %d: %v", n, name, off, err)
		}
		if !bytes.Equal(got, data[off:off+int64(n)]) {
			t.Fatalf("B's read of %d bytes of %s at %d: wrong bytes", n, name, off)
		}
	}
	type figures struct {
		fs   []tierfs.Stats
		gets int64
	}
	snap := func(key string) figures {
		var f figures
		for _, fsys := range fleet {
			// Loads still running (readahead of the reads before, or a
			// load for a peer) would count in the next phase's figures.
			fsys.WaitLoads()
		}
		for _, fsys := range fleet {
			f.fs = append(f.fs, fsys.Stats())
		}
		f.gets = s.Stats(key).Gets
		return f
	}
	// served sums the cached-only requests the other members answered
	// with bytes and without, and the bytes they sent, between x and y.
	served := func(x, y figures) (hits, misses, bytes int64) {
		for i := range fleet {
			if i == 1 {
				continue
			}
			hits += y.fs[i].Peers.CachedServed - x.fs[i].Peers.CachedServed
			misses += y.fs[i].Peers.CachedMissed - x.fs[i].Peers.CachedMissed
			bytes += y.fs[i].Peers.CachedBytesServed - x.fs[i].Peers.CachedBytesServed
		}
		return hits, misses, bytes
	}

	// Random reads of the held object, each on a fresh handle (as an
	// HTTP server's range requests are) and past the first MiB, where a
	// handle's opening stream would take it for a sequential read and
	// load whole blocks: every read is sparse. (Random reads on one
	// handle of this 6 MiB object would be one stream: its Forward and
	// Backward bands span the object.)
	before := snap("held.bin")
	var asked int64
	for range 60 {
		n := 4<<10 + rng.IntN(60<<10+1)
		off := 1<<20 + 1 + rng.Int64N(int64(len(held)-n-1<<20-1))
		readAt("held.bin", held, off, n)
		asked += int64(n)
	}
	after := snap("held.bin")
	bp, ap := before.fs[1].Peers, after.fs[1].Peers
	fetches, hits, fetched := ap.CachedFetches-bp.CachedFetches, ap.CachedHits-bp.CachedHits, ap.CachedBytesFetched-bp.CachedBytesFetched
	sh, sm, sb := served(before, after)
	fromPeers := after.fs[1].PeerBytesServed - before.fs[1].PeerBytesServed
	t.Logf("held object: %d bytes read by B in 60 random reads; origin GETs %d; cached-only requests %d (hits %d), %d bytes; B's bytes served from peers %d",
		asked, after.gets-before.gets, fetches, hits, fetched, fromPeers)
	// B's OriginFetches counts the fetches it started, also those of
	// loads cancelled (readahead let go when the reads turned random)
	// before their request went out: at most one per cancelled load.
	cancelled := func(x, y figures) int64 { return y.fs[1].CancelledLoads - x.fs[1].CancelledLoads }
	if counted := after.fs[1].OriginFetches - before.fs[1].OriginFetches; after.gets != before.gets || counted > cancelled(before, after) {
		t.Errorf("B's random reads of a held object cost %d origin GETs (B counts %d, %d loads cancelled); want 0", after.gets-before.gets, counted, cancelled(before, after))
	}
	if hits == 0 || hits != fetches || sh != hits || sm != 0 || sb != fetched || fetched == 0 {
		t.Errorf("cached-only: B sent %d and got %d hits, %d bytes; the owners answered %d with bytes, %d without, %d bytes", fetches, hits, fetched, sh, sm, sb)
	}
	if fromPeers == 0 || fromPeers > asked {
		t.Errorf("B's readers got %d bytes from peers of %d read", fromPeers, asked)
	}
	for i, fsys := range fleet {
		if n := after.fs[i].Loads - before.fs[i].Loads; n != 0 {
			t.Errorf("%s started %d loads for B's sparse reads of a held object; want none", fsys.Peer().Name(), n)
		}
	}

	// Sparse reads of the cold object: descending and over 1 MiB apart,
	// so none continues a stream (which would load whole blocks).
	before = snap("cold.bin")
	var reads int64
	for blk := int64(39); blk >= 9; blk -= 5 {
		n := 4<<10 + rng.IntN(60<<10+1)
		off := blk*prBlock + rng.Int64N(prBlock-int64(n))
		readAt("cold.bin", cold, off, n)
		reads++
	}
	after = snap("cold.bin")
	bp, ap = before.fs[1].Peers, after.fs[1].Peers
	fetches, hits = ap.CachedFetches-bp.CachedFetches, ap.CachedHits-bp.CachedHits
	sh, sm, _ = served(before, after)
	gets, counted := after.gets-before.gets, after.fs[1].OriginFetches-before.fs[1].OriginFetches
	t.Logf("cold object: %d reads by B; origin GETs %d (B counts %d); cached-only requests %d, all misses: %v", reads, gets, counted, fetches, sm == fetches)
	if gets == 0 || counted < gets || counted > gets+cancelled(before, after) || gets > reads {
		t.Errorf("%d reads of a cold object: %d origin GETs, B counts %d (%d loads cancelled); want 1 to %d, B's count within the cancelled loads of it", reads, gets, counted, cancelled(before, after), reads)
	}
	if hits != 0 || sh != 0 || sm != fetches {
		t.Errorf("cached-only: B sent %d, got %d hits; the owners answered %d with bytes, %d without", fetches, hits, sh, sm)
	}
	for i, fsys := range fleet {
		if n := after.fs[i].Loads - before.fs[i].Loads; n != 0 {
			t.Errorf("%s started %d loads for B's sparse reads of a cold object; want none", fsys.Peer().Name(), n)
		}
	}
}
