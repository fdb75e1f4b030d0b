package main

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "50MB": 50e6, "256MiB": 256 << 20, "1GiB": 1 << 30, "1.5KB": 1500, " 7 ": 7, "4096B": 4096} {
		got, err := parseBytes(in)
		if err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-1MB", "MB"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q): no error", in)
		}
	}
}

func TestParseFlags(t *testing.T) {
	c, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.latency != 20*time.Millisecond || c.connBW != 50e6 || c.size != 1<<30 || c.wideConnBW != 20e6 || c.wideTotalBW != 200e6 || c.tmRefs || len(c.scenarios) != 7 {
		t.Errorf("defaults: %+v", c)
	}
	c, err = parseFlags([]string{"-scenarios", "3, 1,3", "-total-bw", "0", "-size", "64MiB"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.scenarios) != 2 || c.scenarios[0] != 1 || c.scenarios[1] != 3 || c.totalBW != 0 || c.size != 64<<20 {
		t.Errorf("parsed: %+v", c)
	}
	for _, args := range [][]string{{"-scenarios", "8"}, {"-size", "1MiB"}, {"-latency", "-1s"}, {"-files", "0"}, {"extra"}} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q): no error", args)
		}
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i))
	}
	for p, want := range map[float64]time.Duration{50: 50, 99: 99, 100: 100, 0: 1, 1: 1} {
		if got := percentile(ds, p); got != want {
			t.Errorf("percentile(%v) = %v, want %v", p, got, want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("percentile of nothing is not 0")
	}
}

func TestLinkLimit(t *testing.T) {
	c := config{connBW: 50e6, totalBW: 200e6}
	if got := c.linkLimit(1); got != 50 {
		t.Errorf("1 conn: %v", got)
	}
	if got := c.linkLimit(16); got != 200 {
		t.Errorf("16 conns: %v", got)
	}
	if got := (config{}).linkLimit(4); !math.IsInf(got, 1) {
		t.Errorf("uncapped: %v", got)
	}
}

func TestJitteredOrder(t *testing.T) {
	const size, chunk, jitter = 64<<20 + 5, 128 << 10, 512 << 10
	order := jitteredOrder(size, chunk, jitter, rand.New(rand.NewPCG(1, 2)))
	seen := map[int64]bool{}
	moved := false
	for i, off := range order {
		if off%chunk != 0 || off >= size || seen[off] {
			t.Fatalf("order[%d] = %d: not a new chunk offset", i, off)
		}
		seen[off] = true
		// A chunk's key is within ±jitter of its offset, so it is taken
		// at most 2×jitter away from its place in order.
		if d := off - int64(i)*chunk; d > 2*jitter || d < -2*jitter {
			t.Errorf("order[%d] = %d: displaced by %d", i, off, d)
		}
		moved = moved || off != int64(i)*chunk
	}
	if len(order) != (size+chunk-1)/chunk || !moved {
		t.Errorf("%d chunks, moved %v", len(order), moved)
	}
}
