package memstore_test

import (
	"errors"
	"io/fs"
	"net/url"
	"testing"

	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/memstore"
)

func TestParseURL(t *testing.T) {
	for raw, want := range map[string]string{
		"mem://":         "",
		"mem://name":     "name",
		"MEM://Data-Set": "Data-Set",
	} {
		u, err := objstore.ParseURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := memstore.ParseURL(u); err != nil || got != want {
			t.Errorf("ParseURL(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{
		"mem://name/prefix", "mem://name/", "mem:///x", "mem://name?x=1", "mem://name?",
		"mem://name:80", "mem://name#frag", "file://name",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := memstore.ParseURL(u); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("ParseURL(%q): err = %v, want fs.ErrInvalid", raw, err)
		}
	}
}

func TestOpenURL(t *testing.T) {
	ctx := t.Context()
	a, err := objstore.Open(ctx, "mem://same")
	if err != nil {
		t.Fatal(err)
	}
	b, err := objstore.Open(ctx, "mem://same")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Error("two opens of mem://same on the default mux returned one store; want a new one each time")
	}
	if _, err := objstore.Open(ctx, "mem://x/y"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Open(mem://x/y): %v", err)
	}

	// A private mux with named stores.
	var mux objstore.URLMux
	var o memstore.URLOpener
	if err := mux.Register(memstore.Scheme, &o); err != nil {
		t.Fatal(err)
	}
	s := memstore.New()
	if err := o.Add("data", s); err != nil {
		t.Fatal(err)
	}
	if err := o.Add("data", s); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second Add: %v", err)
	}
	if err := o.Add("", s); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Add of an empty name: %v", err)
	}
	got, err := mux.Open(ctx, "mem://data")
	if err != nil || got != s {
		t.Errorf("Open(mem://data) = %p, %v; want the added store %p", got, err, s)
	}
	other, err := mux.Open(ctx, "mem://other")
	if err != nil || other == s || other == nil {
		t.Errorf("Open(mem://other) = %p, %v; want a new store", other, err)
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"mem://", "mem://name", "mem://name/x", "mem://a?b=c", "mem://[::1]", "mem://%41", "mem://a:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := objstore.ParseURL(raw)
		if err != nil {
			return
		}
		name, err := memstore.ParseURL(u)
		if err != nil {
			if !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("ParseURL(%q): error %v does not wrap fs.ErrInvalid", raw, err)
			}
			return
		}
		if u.Path != "" || u.RawQuery != "" {
			t.Errorf("ParseURL(%q) accepted a path or query: name %q", raw, name)
		}
	})
}
