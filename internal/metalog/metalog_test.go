package metalog

import (
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/tierfs/tierfs/consistency"
	"github.com/tierfs/tierfs/objstore"
)

var quiet = slog.New(slog.DiscardHandler)

func sample() []consistency.Record {
	at := time.Unix(1_700_000_000, 123)
	obj := objstore.Object{Key: "d/a", Size: 42, ModTime: time.Unix(1_600_000_000, 0), Version: objstore.Version{ETag: "e1", ID: "v1"}, Checksums: map[string]string{"crc32c": "AAAAAA=="}}
	return []consistency.Record{
		{Op: consistency.OpStore, Name: "d/a", At: at, Entry: consistency.Entry{Object: obj}},
		{Op: consistency.OpStore, Name: "d", At: at, Entry: consistency.Entry{Dir: true}},
		{Op: consistency.OpStore, Name: "gone", At: at, Entry: consistency.Entry{Missing: true}},
		{Op: consistency.OpList, Name: "d", At: at, List: []consistency.ListEntry{{Name: "a", Object: obj}, {Name: "sub", Dir: true}}},
		{Op: consistency.OpForget, Name: "gone"},
	}
}

// TestRoundTrip: what a Log writes, Load reads back, for its store only.
func TestRoundTrip(t *testing.T) {
	p := Path(t.TempDir(), "s3://b/p")
	l := New(p, "s3://b/p", quiet)
	recs := sample()
	l.Rewrite(recs[:2])
	for _, r := range recs[2:] {
		l.Record(r)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := Load(p, "s3://b/p")
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		recs[i].At = recs[i].At.Round(0)
	}
	if !reflect.DeepEqual(got, recs) {
		t.Errorf("loaded\n%+v\nwant\n%+v", got, recs)
	}
	if got, err := Load(p, "s3://b/other"); got != nil || err == nil {
		t.Errorf("another store's load: %d records, %v; want none and an error", len(got), err)
	}
	if got, err := Load(filepath.Join(t.TempDir(), "none"), "x"); got != nil || err != nil {
		t.Errorf("missing file: %v, %v", got, err)
	}
}

// TestTornTail: every cut of a file loads the whole records before the
// cut, and nothing else.
func TestTornTail(t *testing.T) {
	p := Path(t.TempDir(), "id")
	l := New(p, "id", quiet)
	l.Rewrite(sample())
	l.Close()
	full, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Load(p, "id")
	last := 0
	for cut := 0; cut < len(full); cut++ {
		if err := os.WriteFile(p, full[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		got, _ := Load(p, "id") // an error, unless cut between records
		if len(got) < last || len(got) > 0 && !reflect.DeepEqual(got, want[:len(got)]) {
			t.Fatalf("cut at %d: %d records, not a prefix of the %d written", cut, len(got), len(want))
		}
		last = len(got)
	}
}

// TestRewriteBounds: a log of records that replace each other is
// rewritten when it has doubled, so its size stays near the state's.
func TestRewriteBounds(t *testing.T) {
	p := Path(t.TempDir(), "id")
	m := consistency.NewMeta(consistency.ReadOnly(), nil, 0)
	l := New(p, "id", quiet)
	m.SetJournal(l)
	obj := objstore.Object{Key: "a", Size: 1, Version: objstore.Version{ETag: "e"}}
	for range 100_000 {
		m.Store("a", consistency.Entry{Object: obj})
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > 2<<20 {
		t.Errorf("100,000 stores of one name left a %d-byte file", st.Size())
	}
	m.Clear()
	l.Close()
	if got, err := Load(p, "id"); len(got) != 0 || err != nil {
		t.Errorf("%d records after Clear (%v), want none", len(got), err)
	}
}

// TestFailedLogRemoves: after an I/O error the log removes its file and
// takes nothing more.
func TestFailedLogRemoves(t *testing.T) {
	p := Path(t.TempDir(), "id")
	l := New(p, "id", quiet)
	l.Rewrite(sample())
	l.mu.Lock()
	l.f.Close() // the next write fails
	l.mu.Unlock()
	l.Record(sample()[0])
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("after a failed write the file is still there: %v", err)
	}
	if l.Record(sample()[0]) {
		t.Error("a failed log asked for a rewrite")
	}
}

func FuzzDecode(f *testing.F) {
	for _, r := range sample() {
		f.Add(encode(nil, r))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decode(b)
		if err != nil {
			return
		}
		// What decodes encodes back to what decodes the same.
		r2, err := decode(encode(nil, r))
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("%+v re-decoded as %+v, %v", r, r2, err)
		}
	})
}
