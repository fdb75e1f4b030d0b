package filestore_test

import (
	"errors"
	"io/fs"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/filestore"
)

func TestParseURL(t *testing.T) {
	for raw, want := range map[string]string{
		"file:///data":                "/data",
		"file:///data/":               "/data",
		"file:///":                    "/",
		"file://localhost/srv/x":      "/srv/x",
		"FILE:///my%20dir/sub%2Fpart": "/my dir/sub/part",
	} {
		u, err := objstore.ParseURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		got, err := filestore.ParseURL(u)
		if err != nil || got != filepath.FromSlash(want) {
			t.Errorf("ParseURL(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{
		"file://host/data", "file://data", "file:///a/../b", "file:///a//b", "file:///a/./b",
		"file:///a?x=1", "file:///a#f", "file://localhost:8080/a", "s3:///a", "file://",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if dir, err := filestore.ParseURL(u); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("ParseURL(%q) = %q, %v; want fs.ErrInvalid", raw, dir, err)
		}
	}
	// A relative path is an opaque URL, which objstore.ParseURL refuses.
	if _, err := objstore.ParseURL("file:relative/dir"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("file:relative/dir: %v", err)
	}
}

func TestOpenURL(t *testing.T) {
	dir := t.TempDir()
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}
	s, err := objstore.Open(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer s.(*filestore.Store).Close()
	if got := s.(*filestore.Store).Dir(); got != dir {
		t.Errorf("Dir() = %q, want %q", got, dir)
	}
	u.Path += "/missing"
	if _, err := objstore.Open(t.Context(), u.String()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of a missing dir: %v", err)
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"file:///", "file:///a/b", "file://localhost/x", "file:///a/../b", "file:///%2e%2e/x", "file:///a%00b", "file://h/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := objstore.ParseURL(raw)
		if err != nil {
			return
		}
		dir, err := filestore.ParseURL(u)
		if err != nil {
			if !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("ParseURL(%q): error %v does not wrap fs.ErrInvalid", raw, err)
			}
			return
		}
		if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir {
			t.Errorf("ParseURL(%q) = %q: not a clean absolute path", raw, dir)
		}
		for _, e := range strings.Split(filepath.ToSlash(dir), "/") {
			if e == ".." {
				t.Errorf("ParseURL(%q) = %q holds ..", raw, dir)
			}
		}
	})
}
