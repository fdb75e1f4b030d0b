// Command fleet starts N member processes on loopback (127.0.0.2, .3, …
// on Linux; 127.0.0.1 elsewhere) that form a tierfs peer ring and load
// one model at once, cold, from an S3-protocol server on loopback that
// behaves like a real object store. It prints origin bytes ÷ model size
// (about 1 when the ring works: each block comes from the origin once)
// and each member's throughput, and exits non-zero if any member read
// wrong bytes.
//
//	go run ./examples/fleet
//	go run ./examples/fleet -n 8 -size 256MiB -latency 20ms -bandwidth 100MB
//
// The parent runs the store and starts the members (this program again,
// with -member) and talks to each over its stdin and stdout: "up ADDR"
// once its FS is made, "go" when all are, "done …" when it has read the
// model, "exit" once all have (so owners stay up while others read).
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tierfs/tierfs"
	"github.com/tierfs/tierfs/internal/s3test"
	_ "github.com/tierfs/tierfs/objstore/s3store" // registers s3://
	"github.com/tierfs/tierfs/peer"
)

const (
	bucket = "fleet"
	key    = "models/fleet/model.safetensors"
	secret = "tierfs fleet example secret, 32B"
)

func main() {
	n := flag.Int("n", 8, "members")
	size := flag.String("size", "64MiB", "model size (suffixes KiB, MiB, GiB, KB, MB, GB)")
	latency := flag.Duration("latency", 20*time.Millisecond, "first-byte latency the emulated store adds to every request")
	bandwidth := flag.String("bandwidth", "100MB", "bandwidth cap per connection (bytes/s)")
	member := flag.Int("member", -1, "internal: run as member i")
	origin := flag.String("origin", "", "internal: the store URL")
	seeds := flag.String("seeds", "", "internal: comma-separated gossip addresses to join")
	flag.Parse()
	var err error
	if *member >= 0 {
		err = runMember(*member, *n, *origin, *seeds, *size)
	} else {
		err = runParent(*n, *size, *latency, *bandwidth)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

// addr returns member i's loopback address.
func addr(i int) string {
	if runtime.GOOS == "linux" {
		return "127.0.0." + strconv.Itoa(2+i%250)
	}
	return "127.0.0.1"
}

type child struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	addr string
	done string
}

func (c *child) line(want string) (string, error) {
	for c.out.Scan() {
		if rest, ok := strings.CutPrefix(c.out.Text(), want+" "); ok {
			return rest, nil
		}
	}
	if err := c.out.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("member exited before %q", want)
}

func runParent(n int, sizeFlag string, latency time.Duration, bwFlag string) error {
	if n < 1 || n > 250 {
		return fmt.Errorf("-n %d: want 1 to 250", n)
	}
	size, err := parseBytes(sizeFlag)
	if err != nil {
		return err
	}
	bw, err := parseBytes(bwFlag)
	if err != nil {
		return err
	}
	srv, err := s3test.New(s3test.Config{Shaping: s3test.Shaping{Latency: latency, ConnBandwidth: bw}})
	if err != nil {
		return err
	}
	defer srv.Close()
	if err := srv.CreateBucket(bucket); err != nil {
		return err
	}
	model := make([]byte, size)
	rand.NewChaCha8([32]byte{7}).Read(model)
	sum := sha256.Sum256(model)
	if err := srv.PutObject(bucket, key, model); err != nil {
		return err
	}
	model = nil
	srv.ResetStats()
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "fleet", "AWS_SECRET_ACCESS_KEY": "fleet", "AWS_EC2_METADATA_DISABLED": "true"} {
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
	url := "s3://" + bucket + "?region=us-east-1&path_style=true&endpoint=" + srv.URL()
	fmt.Printf("%d members load a %s model from %s (%v first-byte latency, %s/s per connection)\n",
		n, human(size), srv.URL(), latency, human(bw))

	self, err := os.Executable()
	if err != nil {
		return err
	}
	var kids []*child
	defer func() {
		for _, c := range kids {
			c.in.Close()
			c.cmd.Wait()
		}
	}()
	var seeds []string
	for i := range n {
		cmd := exec.Command(self, "-member", strconv.Itoa(i), "-n", strconv.Itoa(n), "-origin", url, "-seeds", strings.Join(seeds, ","), "-size", sizeFlag)
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		c := &child{cmd: cmd, in: in, out: bufio.NewScanner(out)}
		kids = append(kids, c)
		if c.addr, err = c.line("up"); err != nil {
			return fmt.Errorf("member %d: %w", i, err)
		}
		seeds = append(seeds, c.addr)
	}
	start := time.Now()
	for _, c := range kids {
		fmt.Fprintln(c.in, "go")
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, c := range kids {
		wg.Go(func() { c.done, errs[i] = c.line("done") })
	}
	wg.Wait()
	wall := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	st := srv.Stats(bucket, key)
	fmt.Printf("\n%-8s %-16s %10s %12s %12s %12s  %s\n", "member", "gossip", "seconds", "MB/s", "from peers", "served", "sha256")
	bad := 0
	for i, c := range kids {
		f := strings.Fields(c.done) // seconds, sha, fetched, served
		secs, _ := strconv.ParseFloat(f[0], 64)
		fetched, _ := strconv.ParseInt(f[2], 10, 64)
		served, _ := strconv.ParseInt(f[3], 10, 64)
		ok := f[1] == hex.EncodeToString(sum[:])
		mark := "ok"
		if !ok {
			mark = "WRONG"
			bad++
		}
		fmt.Printf("%-8d %-16s %10.2f %12.1f %12s %12s  %s\n", i, c.addr, secs, float64(size)/secs/1e6, human(fetched), human(served), mark)
	}
	for _, c := range kids {
		fmt.Fprintln(c.in, "exit")
	}
	ratio := float64(st.BodyBytes) / float64(size)
	fmt.Printf("\nall members done in %.2f s; origin: %d GETs, %s\norigin bytes ÷ model size = %.3f\n", wall.Seconds(), st.Gets, human(st.BodyBytes), ratio)
	if bad > 0 {
		return fmt.Errorf("%d members read wrong bytes", bad)
	}
	return nil
}

func runMember(i, n int, url, seedList, sizeFlag string) error {
	size, err := parseBytes(sizeFlag)
	if err != nil {
		return err
	}
	var seeds []string
	if seedList != "" {
		seeds = strings.Split(seedList, ",")
	}
	ctx := context.Background()
	fsys, err := tierfs.Open(ctx, url, tierfs.WithMemoryCache(size+64<<20), tierfs.WithPeers(peer.Config{
		Name: "member-" + strconv.Itoa(i), BindAddr: addr(i), DataAddr: addr(i) + ":0",
		Seeds: seeds, Secret: []byte(secret), Cluster: "fleet-example", Local: true,
	}))
	if err != nil {
		return err
	}
	defer fsys.Close()
	in := bufio.NewScanner(os.Stdin)
	fmt.Println("up", fsys.Peer().GossipAddr())
	if !in.Scan() || in.Text() != "go" {
		return errors.New("no go from the parent")
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := fsys.Peer().WaitMembers(wctx, n); err != nil {
		return err
	}
	start := time.Now()
	f, err := fsys.Open(key)
	if err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	f.Close()
	secs := time.Since(start).Seconds()
	ps := fsys.Stats().Peers
	fmt.Printf("done %.3f %s %d %d\n", secs, hex.EncodeToString(h.Sum(nil)), ps.BytesFetched, ps.BytesServed)
	for in.Scan() && in.Text() != "exit" {
	}
	return nil
}

func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("bad byte count %q", s)
	}
	return int64(f * mult), nil
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
