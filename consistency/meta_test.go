package consistency

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tierfs/tierfs/objstore"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestPolicies(t *testing.T) {
	for _, c := range []struct {
		p             Policy
		attr, neg     time.Duration
		writable      bool
		nameSubstring string
	}{
		{ReadOnly(), Forever, Forever, false, "read-only"},
		{TTL(time.Second, 5*time.Second), time.Second, 5 * time.Second, false, "ttl"},
		{TTL(0, -3), 0, Forever, false, "ttl"},
		{ReadWrite(time.Minute), time.Minute, 0, true, "read-write"},
	} {
		if c.p.AttrTTL() != c.attr || c.p.NegativeTTL() != c.neg || c.p.Writable() != c.writable {
			t.Errorf("%v: attr %v negative %v writable %v", c.p, c.p.AttrTTL(), c.p.NegativeTTL(), c.p.Writable())
		}
		if s := c.p.String(); len(s) == 0 || !strings.Contains(s, c.nameSubstring) {
			t.Errorf("String() = %q", s)
		}
	}
}

func TestMetaTTL(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	m := NewMeta(TTL(10*time.Second, 2*time.Second), c.now, 0)
	obj := objstore.Object{Key: "a", Size: 1}
	m.Store("a", Entry{Object: obj})
	m.Store("gone", Entry{Missing: true})
	c.advance(time.Second)
	if e, ok := m.Lookup("a"); !ok || e.Object.Key != obj.Key || e.Object.Size != obj.Size {
		t.Fatal("fresh entry not found")
	}
	if e, ok := m.Lookup("gone"); !ok || !e.Missing {
		t.Fatal("fresh negative entry not found")
	}
	c.advance(time.Second) // 2s: the negative entry expires
	if _, ok := m.Lookup("gone"); ok {
		t.Error("negative entry outlived its TTL")
	}
	c.advance(8 * time.Second) // 10s
	if _, ok := m.Lookup("a"); ok {
		t.Error("entry outlived its TTL")
	}
}

func TestMetaZeroTTLNeverTrusts(t *testing.T) {
	m := NewMeta(TTL(0, 0), nil, 0)
	m.Store("a", Entry{Object: objstore.Object{Key: "a"}})
	m.Store("b", Entry{Missing: true})
	if _, ok := m.Lookup("a"); ok {
		t.Error("TTL 0 trusted an entry")
	}
	if _, ok := m.Lookup("b"); ok {
		t.Error("TTL 0 trusted a negative entry")
	}
}

func TestMetaReadOnlyForever(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	m := NewMeta(ReadOnly(), c.now, 0)
	m.Store("a", Entry{Object: objstore.Object{Key: "a"}})
	m.Store("b", Entry{Missing: true})
	c.advance(100 * 365 * 24 * time.Hour)
	if _, ok := m.Lookup("a"); !ok {
		t.Error("read-only forgot an entry")
	}
	if _, ok := m.Lookup("b"); !ok {
		t.Error("read-only forgot a negative entry")
	}
	m.Clear()
	if _, ok := m.Lookup("a"); ok || m.Len() != 0 {
		t.Error("Clear kept entries")
	}
}

func TestMetaReadYourWrites(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	m := NewMeta(ReadWrite(time.Second), c.now, 0)
	m.Store("x/y/z", Entry{Missing: true}) // not kept: no negative caching
	if _, ok := m.Lookup("x/y/z"); ok {
		t.Error("read-write kept a negative entry")
	}
	obj := objstore.Object{Key: "x/y/z", Size: 3}
	m.Written("x/y/z", obj)
	if e, ok := m.Lookup("x/y/z"); !ok || e.Object.Key != obj.Key || e.Object.Size != obj.Size {
		t.Error("a write is not visible at once")
	}
	for _, d := range []string{"x", "x/y"} {
		if e, ok := m.Lookup(d); !ok || !e.Dir {
			t.Errorf("parent %q of a write is not a directory", d)
		}
	}
	m.Removed("x/y/z")
	if e, ok := m.Lookup("x/y/z"); !ok || !e.Missing {
		t.Error("a removal is not visible at once")
	}
	if _, ok := m.Lookup("x/y"); ok {
		t.Error("parent of a removed name is still trusted")
	}
}

func TestMetaBounded(t *testing.T) {
	m := NewMeta(ReadOnly(), nil, 100)
	for i := range 1000 {
		m.Store(fmt.Sprint(i), Entry{Missing: true})
	}
	if n := m.Len(); n > 100 {
		t.Errorf("%d entries in a cache bounded to 100", n)
	}
}

func TestMetaListings(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	list := []ListEntry{{Name: "a", Object: objstore.Object{Key: "d/a"}}, {Name: "sub", Dir: true}}
	ro := NewMeta(TTL(time.Minute, 0), c.now, 0)
	ro.StoreListing("d", list)
	if got, ok := ro.Listing("d"); !ok || len(got) != 2 {
		t.Fatal("a listing was not kept under a TTL")
	}
	ro.Forget("d/a") // a file in it: the listing describes it
	if _, ok := ro.Listing("d"); ok {
		t.Error("Forget of a file kept its directory's listing")
	}
	ro.StoreListing("d", list)
	c.advance(time.Minute)
	if _, ok := ro.Listing("d"); ok {
		t.Error("a listing outlived the TTL")
	}
	for _, p := range []Policy{ReadWrite(time.Minute), TTL(0, time.Minute)} {
		m := NewMeta(p, c.now, 0)
		m.StoreListing("d", list)
		if _, ok := m.Listing("d"); ok {
			t.Errorf("%v kept a listing", p)
		}
	}
	small := NewMeta(ReadOnly(), c.now, 3)
	small.StoreListing("x", list)
	small.StoreListing("y", list)
	if small.listed > 3 {
		t.Errorf("%d listed entries in a cache bounded to 3", small.listed)
	}
}

// journal records what a Meta tells it.
type journal struct {
	records  []Record
	rewrites int
}

func (j *journal) Record(r Record) bool { j.records = append(j.records, r); return r.Op == OpClear }
func (j *journal) Rewrite(rs []Record)  { j.records = append([]Record(nil), rs...); j.rewrites++ }

// TestMetaJournal: a journal hears every change, never of an entry this
// process wrote, and replaying it (Apply) in a new Meta gives the same
// answers, with the times they were learned.
func TestMetaJournal(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	p := TTL(time.Minute, time.Minute)
	m := NewMeta(p, c.now, 0)
	j := &journal{}
	m.SetJournal(j)
	m.Store("a", Entry{Object: objstore.Object{Key: "a", Size: 3}})
	m.Store("x/gone", Entry{Missing: true})
	m.StoreListing(".", []ListEntry{{Name: "a", Object: objstore.Object{Key: "a", Size: 3}}})
	c.advance(30 * time.Second)
	m.Store("b", Entry{Object: objstore.Object{Key: "b", Size: 4}})
	m.Forget("x/gone")

	n := NewMeta(p, c.now, 0)
	for _, r := range j.records {
		n.Apply(r)
	}
	if e, ok := n.Lookup("a"); !ok || e.Object.Size != 3 {
		t.Error("a replayed entry is missing")
	}
	if _, ok := n.Lookup("x/gone"); ok {
		t.Error("a forgotten entry came back")
	}
	if _, ok := n.Listing("."); !ok {
		t.Error("a replayed listing is missing")
	}
	c.advance(30 * time.Second) // a: 60 s old; b: 30 s
	if _, ok := n.Lookup("a"); ok {
		t.Error("a replayed entry outlived its TTL: its time was not kept")
	}
	if _, ok := n.Lookup("b"); !ok {
		t.Error("a replayed entry expired early")
	}
	m.Clear()
	if j.rewrites != 2 || len(j.records) != 0 {
		t.Errorf("after Clear the journal holds %d records (%d rewrites), want 0 (2)", len(j.records), j.rewrites)
	}
}
