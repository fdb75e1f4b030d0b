package tierfs_test

import (
	"bytes"
	"errors"
	"io/fs"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tierfs/tierfs"
	"github.com/tierfs/tierfs/internal/s3test"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/storetest"
)

// gather returns the registry's metrics as name{label=value,...} → value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				if l.GetName() != "store" {
					key += "," + l.GetName() + "=" + l.GetValue()
				}
			}
			out[key] = value(mf.GetType(), m)
		}
	}
	return out
}

func value(kind dto.MetricType, m *dto.Metric) float64 {
	if kind == dto.MetricType_GAUGE {
		return m.GetGauge().GetValue()
	}
	return m.GetCounter().GetValue()
}

// WithMetrics: the metrics equal Stats and what the S3 server counted;
// FS values of two stores register side by side, a second of one store is
// fs.ErrExist, and Close unregisters.
func TestMetrics(t *testing.T) {
	srv, s := s3Store(t, s3test.Shaping{})
	data := storetest.Data(3, 3<<20+1234)
	if _, err := s.Put(t.Context(), "a.bin", bytes.NewReader(data), objstore.PutOptions{Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	srv.ResetStats()
	reg := prometheus.NewRegistry()
	fsys, err := tierfs.New(s, tierfs.WithStoreID("s3-test"), tierfs.WithBlockSize(1<<20), tierfs.WithMetrics(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	for range 2 { // cold, then from the memory tier (a small object is kept on its first pass)
		got, err := fs.ReadFile(fsys, "a.bin")
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("ReadFile: %d bytes, %v", len(got), err)
		}
	}
	if _, err := fsys.Stat("missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat(missing): %v", err)
	}
	fsys.WaitLoads()
	m, st, server := gather(t, reg), fsys.Stats(), srv.Total()
	for name, want := range map[string]int64{
		"tierfs_store_requests_total,kind=get":              server.Gets,
		"tierfs_store_requests_total,kind=head":             server.Heads,
		"tierfs_store_requests_total,kind=list":             server.Lists,
		"tierfs_store_requests_total,kind=put":              server.Puts,
		"tierfs_store_requests_total,kind=delete":           server.Deletes,
		"tierfs_store_requests_total,kind=other":            server.Other,
		"tierfs_store_bytes_total,direction=received":       server.BodyBytes,
		"tierfs_served_bytes_total,source=origin":           st.OriginBytesServed,
		"tierfs_served_bytes_total,source=memory":           st.Tiers[0].BytesServed,
		"tierfs_tier_lookups_total,result=hit,tier=memory":  st.Tiers[0].Hits,
		"tierfs_tier_lookups_total,result=miss,tier=memory": st.Tiers[0].Misses,
		"tierfs_tier_bytes,tier=memory":                     st.Tiers[0].Tier.Bytes,
		"tierfs_loads_total":                                st.Loads,
		"tierfs_metadata_lookups_total":                     st.MetaLookups,
		"tierfs_readahead_blocks_total":                     st.Prefetch.ReadaheadBlocks,
		"tierfs_peer_members":                               0,
	} {
		got, ok := m[name]
		if !ok {
			t.Errorf("%s: not exported", name)
			continue
		}
		if got != float64(want) {
			t.Errorf("%s = %v, want %d", name, got, want)
		}
	}
	if m["tierfs_store_requests_total,kind=get"] == 0 || m["tierfs_tier_lookups_total,result=hit,tier=memory"] == 0 ||
		m["tierfs_tier_lookups_total,result=miss,tier=memory"] == 0 || m["tierfs_served_bytes_total,source=origin"] == 0 {
		t.Errorf("a cold and a warm read left a zero: %v", m)
	}
	served := m["tierfs_served_bytes_total,source=origin"] + m["tierfs_served_bytes_total,source=memory"]
	if got := m["tierfs_served_bytes_total,source=origin"]; got != float64(len(data)) {
		t.Errorf("bytes served from the origin %v, want the %d of the cold read", got, len(data))
	}
	if served != float64(2*len(data)) {
		t.Errorf("bytes served %v, want the %d read", served, 2*len(data))
	}

	// Another store's FS registers beside it; a second FS of this store
	// collides; FS values with labels of their own are kept apart.
	other, err := tierfs.New(mustMem(t, testFiles), tierfs.WithStoreID("mem-other"), tierfs.WithMetrics(reg))
	if err != nil {
		t.Fatalf("an FS of another store: %v", err)
	}
	if _, err := tierfs.New(s, tierfs.WithStoreID("s3-test"), tierfs.WithMetrics(reg)); !errors.Is(err, fs.ErrExist) {
		t.Errorf("a second FS of one store on one registry: %v; want fs.ErrExist", err)
	}
	reg2 := prometheus.NewRegistry()
	for _, name := range []string{"train", "eval"} {
		fs2, err := tierfs.New(s, tierfs.WithStoreID("s3-test"), tierfs.WithMetrics(prometheus.WrapRegistererWith(prometheus.Labels{"fs": name}, reg2)))
		if err != nil {
			t.Fatalf("FS %q of one store with a label of its own: %v", name, err)
		}
		defer fs2.Close()
	}
	if m2 := gather(t, reg2); len(m2) != 2*len(m) {
		t.Errorf("two labelled FS values: %d metrics, want %d", len(m2), 2*len(m))
	}
	other.Close()
	fsys.Close()
	if mfs, err := reg.Gather(); err != nil || len(mfs) != 0 {
		t.Errorf("after Close: %d metric families, %v; want none", len(mfs), err)
	}
	again, err := tierfs.New(s, tierfs.WithStoreID("s3-test"), tierfs.WithMetrics(reg))
	if err != nil {
		t.Fatalf("a new FS of the store after Close: %v", err)
	}
	again.Close()
	if _, err := tierfs.New(s, tierfs.WithMetrics(nil)); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("WithMetrics(nil): %v; want fs.ErrInvalid", err)
	}
}
