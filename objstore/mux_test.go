package objstore

import (
	"context"
	"errors"
	"io/fs"
	"net/url"
	"strings"
	"testing"
)

func TestURLMux(t *testing.T) {
	var m URLMux
	var opened *url.URL
	o := OpenerFunc(func(ctx context.Context, u *url.URL) (Store, error) { opened = u; return nil, nil })
	if err := m.Register("Test", o); err != nil {
		t.Fatal(err)
	}
	if err := m.Register("test", o); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second Register: %v, want fs.ErrExist", err)
	}
	if err := m.Register("", o); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Register(\"\"): %v, want fs.ErrInvalid", err)
	}
	if _, err := m.Open(t.Context(), "TEST://bucket/p"); err != nil || opened == nil || opened.Host != "bucket" {
		t.Errorf("Open: %v, opened %v", err, opened)
	}
	for _, bad := range []string{"", "bucket/key", "nope://x", "test:opaque", "test://user:secret@bucket/x", "%zz://x", "test://b/%zz",
		"test://user:secret@b/%zz", "nope://b?endpoint=http://u:secret@h", "nope://b?endpoint=http://u:secret@h/%zz"} {
		_, err := m.Open(t.Context(), bad)
		if !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Open(%q): err = %v, want fs.ErrInvalid", bad, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q): error %q shows the password", bad, err)
		}
	}
}

func TestRootPrefixAndQuery(t *testing.T) {
	for raw, want := range map[string]string{
		"s3://b": "", "s3://b/": "", "s3://b/p": "p/", "s3://b/p/q/": "p/q/", "s3://b/%E6%97%A5": "日/",
	} {
		u, _ := url.Parse(raw)
		got, err := RootPrefix(u)
		if err != nil || got != want {
			t.Errorf("RootPrefix(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{"s3://b//", "s3://b/a//b", "s3://b/../x", "s3://b/./x"} {
		u, _ := url.Parse(raw)
		if _, err := RootPrefix(u); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("RootPrefix(%q): err = %v, want fs.ErrInvalid", raw, err)
		}
	}
	u, _ := url.Parse("s3://b?region=x&endpoint=y")
	q, err := Query(u, "region", "endpoint", "path_style")
	if err != nil || q["region"] != "x" || q["endpoint"] != "y" || q["path_style"] != "" {
		t.Errorf("Query = %v, %v", q, err)
	}
	for _, raw := range []string{"s3://b?regoin=x", "s3://b?region=x&region=y"} {
		u, _ := url.Parse(raw)
		if _, err := Query(u, "region"); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Query(%q): err = %v, want fs.ErrInvalid", raw, err)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"s3://bucket/prefix?region=us-east-1", "file:///tmp/x", "mem://a", "oss://b/c?endpoint=http://x", "://", "a:b", "s3://u:p@b/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := ParseURL(raw)
		if err != nil {
			if !errors.Is(err, fs.ErrInvalid) {
				t.Fatalf("ParseURL(%q) error %v does not wrap fs.ErrInvalid", raw, err)
			}
			return
		}
		if u.Scheme == "" || u.User != nil || u.Scheme != strings.ToLower(u.Scheme) {
			t.Fatalf("ParseURL(%q) accepted %#v", raw, u)
		}
		p, err := RootPrefix(u)
		if err == nil && p != "" && (!strings.HasSuffix(p, "/") || !ValidKey(strings.TrimSuffix(p, "/"))) {
			t.Fatalf("RootPrefix(%q) = %q, not a valid key plus slash", raw, p)
		}
		if err != nil && !errors.Is(err, fs.ErrInvalid) {
			t.Fatalf("RootPrefix(%q) error %v does not wrap fs.ErrInvalid", raw, err)
		}
	})
}
