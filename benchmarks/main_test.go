package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
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
	if c.latency != 20*time.Millisecond || c.connBW != 50e6 || c.size != 1<<30 || c.wideConnBW != 20e6 || c.wideTotalBW != 200e6 || c.tmRefs || len(c.scenarios) != 8 ||
		c.writeSize != 2<<30 || c.partSize != 8<<20 || c.writeConc != defaultWriteConc {
		t.Errorf("defaults: %+v", c)
	}
	c, err = parseFlags([]string{"-scenarios", "3, 1,3", "-total-bw", "0", "-size", "64MiB"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.scenarios) != 2 || c.scenarios[0] != 1 || c.scenarios[1] != 3 || c.totalBW != 0 || c.size != 64<<20 {
		t.Errorf("parsed: %+v", c)
	}
	if c, err := parseFlags([]string{"-scenarios", "8", "-write-size", "64MiB", "-part-size", "5MiB", "-write-concurrency", "2"}); err != nil || len(c.scenarios) != 1 || c.writeSize != 64<<20 || c.partSize != 5<<20 || c.writeConc != 2 {
		t.Errorf("scenario 8's flags: %+v, %v", c, err)
	}
	for _, args := range [][]string{{"-count", "0"}, {"-scenarios", "9"}, {"-part-size", "4MiB"}, {"-part-size", "6GiB"}, {"-write-concurrency", "0"}, {"-write-size", "0"}, {"-size", "1MiB"}, {"-latency", "-1s"}, {"-files", "0"}, {"extra"}} {
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

// Three runs make one figure per row: the median run's row, with the
// lowest and highest values; rows whose names carry measured numbers are
// matched by position; a figure not measured in a run is left out of its
// median.
func TestMergeRuns(t *testing.T) {
	mk := func(v1, v2 float64, conc int, na bool) *results {
		r := &results{}
		r.add(row{Scenario: "1. cold", Name: "tierfs", Value: v1, Unit: "MB/s", Role: roleTierfs, Note: fmt.Sprint("run with ", v1)})
		r.add(row{Scenario: "1. cold", Name: fmt.Sprintf("baseline at concurrency %d", conc), Value: v2, Unit: "MB/s", Role: roleBaseline, NA: na})
		r.add(row{Scenario: "2. other", Name: "ratio", Value: v1 / 100, Unit: "×", Role: roleInfo}).atLeast(1.8, "×")
		return r
	}
	out := mergeRuns([]*results{mk(190, 50, 12, false), mk(170, 0, 9, true), mk(180, 48, 19, false)})
	if len(out.Rows) != 3 {
		t.Fatalf("%d rows: %+v", len(out.Rows), out.Rows)
	}
	a, b, c := out.Rows[0], out.Rows[1], out.Rows[2]
	if a.Value != 180 || a.Min != 170 || a.Max != 190 || a.Runs != 3 || a.Note != "run with 180" {
		t.Errorf("tierfs row: %+v; want the median run's (180), 170–190 over 3", a)
	}
	if b.Value != 48 || b.Runs != 2 || b.Min != 48 || b.Max != 50 || b.Name != "baseline at concurrency 19" {
		t.Errorf("baseline row (one run not measured): %+v; want the lower median of 2 (48), 48–50", b)
	}
	if c.Value != 1.8 || c.Met == nil || !*c.Met || c.Scenario != "2. other" {
		t.Errorf("goal row: %+v; want the median 1.8, met", c)
	}
	if got := a.value(); got != "180 MB/s (170–190)" {
		t.Errorf("value() = %q", got)
	}
	js, err := json.Marshal(a)
	if err != nil || !strings.Contains(string(js), `"spread":{"min":170,"max":190}`) || !strings.Contains(string(js), `"runs":3`) {
		t.Errorf("JSON: %s, %v", js, err)
	}
	one := mergeRuns([]*results{mk(190, 50, 12, false)})
	if js, _ := json.Marshal(one.Rows[0]); strings.Contains(string(js), "spread") || one.Rows[0].value() != "190 MB/s" {
		t.Errorf("a single run shows a spread: %s, %q", js, one.Rows[0].value())
	}
}

// The chart is well-formed SVG whose labels and values are text.
func TestChartSVG(t *testing.T) {
	r := mergeRuns([]*results{
		{Rows: []row{{Scenario: "1. cold <read>", Name: "tierfs & co", Value: 187, Unit: "MB/s", Role: roleTierfs}, {Scenario: "7. small files", Name: "tierfs", Value: 37.5, Unit: "files/s", Role: roleTierfs}}},
		{Rows: []row{{Scenario: "1. cold <read>", Name: "tierfs & co", Value: 181, Unit: "MB/s", Role: roleTierfs}, {Scenario: "7. small files", Name: "tierfs", Value: 38, Unit: "files/s", Role: roleTierfs}}},
	})
	r.Config = map[string]string{"count": "2"}
	var b bytes.Buffer
	if err := drawChart(&b, r); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(&b)
	var texts []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v", err)
		}
		if cd, ok := tok.(xml.CharData); ok && strings.TrimSpace(string(cd)) != "" {
			texts = append(texts, string(cd))
		}
	}
	all := strings.Join(texts, "|")
	for _, want := range []string{"1. cold <read>", "tierfs & co", "181", "37.5 files/s", "median of 2 runs"} {
		if !strings.Contains(all, want) {
			t.Errorf("chart text lacks %q: %s", want, all)
		}
	}
}

func TestPartCeilingNote(t *testing.T) {
	// Scenario 8's defaults: 4 connections of 50 MB/s, 200 MB/s in total,
	// 8 MiB parts, 20 ms a request: 4 × 8.39 MB / 187.8 ms.
	got := partCeilingNote(20*time.Millisecond, 8<<20, 50e6, 200e6, 4, 200)
	for _, want := range []string{"= 179 MB/s", "0.893×"} {
		if !strings.Contains(got, want) {
			t.Errorf("partCeilingNote = %q, want %q in it", got, want)
		}
	}
	if got := partCeilingNote(0, 8<<20, 50e6, 200e6, 4, 200); got != "" {
		t.Errorf("no latency: %q", got)
	}
}

// A figure that is not a number (a ratio to a baseline that did not run)
// is written to results.json as not measured, not as an error.
func TestRowNaNJSON(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1)} {
		b, err := json.Marshal(row{Name: "x", Value: v, Runs: 3, Min: 1, Max: v})
		if err != nil || !strings.Contains(string(b), `"na":true`) || strings.Contains(string(b), "spread") {
			t.Errorf("row of %v: %s, %v", v, b, err)
		}
	}
}
