package filestore_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/filestore"
	"github.com/tierfs/tierfs/objstore/storetest"
)

func newStore(t *testing.T, dir string) *filestore.Store {
	t.Helper()
	s, err := filestore.New(dir, &filestore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) objstore.Store { return newStore(t, t.TempDir()) },
		// A local file has no network body to cut: CutReads stays nil.
	})
}

// With fsync, as Put runs by default.
func TestConformanceSync(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: every Put fsyncs here, which takes seconds over the suite; TestConformance runs the same cases without fsync")
	}
	s, err := filestore.New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data := storetest.Data(1, 10000)
	if _, err := s.Put(t.Context(), "a/b", bytes.NewReader(data), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "a/b", objstore.Version{}); !bytes.Equal(got, data) {
		t.Error("wrong bytes")
	}
}

func put(t *testing.T, s *filestore.Store, key, data string) objstore.Object {
	t.Helper()
	obj, err := s.Put(t.Context(), key, strings.NewReader(data), objstore.PutOptions{Size: int64(len(data))})
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return obj
}

func read(t *testing.T, s *filestore.Store, key string, v objstore.Version) []byte {
	t.Helper()
	r, err := s.NewRangeReader(t.Context(), key, 0, -1, objstore.ReadOptions{Version: v})
	if err != nil {
		t.Fatalf("NewRangeReader(%q): %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return b
}

func TestEscapes(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := newStore(t, dir)
	put(t, s, "inside/real", "inside")
	links := map[string]string{
		"abs":      filepath.Join(outside, "secret"),
		"rel":      filepath.Join("..", filepath.Base(outside), "secret"),
		"dirlink":  outside,
		"okfile":   filepath.Join("inside", "real"),
		"okdir":    "inside",
		"loop":     ".",
		"inside/x": filepath.Join("..", "..", filepath.Base(outside), "secret"),
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			t.Skipf("this file system refuses symbolic links (%v), which every case here is about", err)
		}
	}
	ctx := t.Context()
	for _, key := range []string{"abs", "rel", "dirlink/secret", "inside/x"} {
		if _, err := s.Stat(ctx, key); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("Stat(%q) through a link out of the root: %v, want fs.ErrPermission", key, err)
		}
		if _, err := s.NewRangeReader(ctx, key, 0, -1, objstore.ReadOptions{}); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("NewRangeReader(%q) through a link out of the root: %v, want fs.ErrPermission", key, err)
		}
	}
	if _, err := s.Put(ctx, "dirlink/new", strings.NewReader("x"), objstore.PutOptions{}); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("Put through a link out of the root: %v, want fs.ErrPermission", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Put wrote outside the root: %v", err)
	}
	// Links inside the root work, for files and directories.
	if got := read(t, s, "okfile", objstore.Version{}); string(got) != "inside" {
		t.Errorf("read through a link inside the root = %q", got)
	}
	if got := read(t, s, "okdir/real", objstore.Version{}); string(got) != "inside" {
		t.Errorf("read through a directory link inside the root = %q", got)
	}
	// Listing skips the links out, follows the ones in, and does not
	// loop on a link to an ancestor.
	var keys []string
	opts := objstore.ListOptions{}
	for {
		page, err := s.List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Objects {
			keys = append(keys, o.Key)
		}
		if page.Next == "" {
			break
		}
		opts.Token = page.Next
	}
	want := []string{"inside/real", "okdir/real", "okfile"}
	if !slices.Equal(keys, want) {
		t.Errorf("List = %q, want %q", keys, want)
	}
	page, err := s.List(ctx, objstore.ListOptions{Prefix: "dirlink/"})
	if err != nil || len(page.Objects) != 0 {
		t.Errorf("List under a link out of the root = %+v, %v", page, err)
	}
	// Deleting a link removes the link, not its target.
	if err := s.Delete(ctx, "abs"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(outside, "secret")); err != nil {
		t.Errorf("Delete of a link removed its target: %v", err)
	}
}

func TestBadKeysBeforeIO(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	ctx := t.Context()
	for _, key := range []string{"../x", "a/../../x", "/etc/passwd", "a/" + filestore.TempPrefix + "x/b", filestore.TempPrefix + "y"} {
		if _, err := s.Put(ctx, key, strings.NewReader("x"), objstore.PutOptions{}); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Put(%q): %v, want fs.ErrInvalid", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Stat(%q): %v, want fs.ErrInvalid", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Delete(%q): %v, want fs.ErrInvalid", key, err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 0 {
		t.Errorf("bad keys left %v, %v in the directory", entries, err)
	}
	// A key with a NUL byte is valid for objstore but not for the system.
	if _, err := s.Put(ctx, "nul\x00byte", strings.NewReader("x"), objstore.PutOptions{}); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Put of a key with NUL: %v, want fs.ErrInvalid", err)
	}
}

// A Reader opened before an overwrite reads the old file to the end:
// the rename keeps the old inode alive while the handle is open.
func TestReadAcrossReplace(t *testing.T) {
	s := newStore(t, t.TempDir())
	old := storetest.Data(1, 1<<20)
	neu := storetest.Data(2, 1<<20)
	v1 := put(t, s, "obj", string(old)).Version
	r, err := s.NewRangeReader(t.Context(), "obj", 0, -1, objstore.ReadOptions{Version: v1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	first := make([]byte, 1000)
	if _, err := io.ReadFull(r, first); err != nil {
		t.Fatal(err)
	}
	v2 := put(t, s, "obj", string(neu)).Version
	if v1 == v2 {
		t.Fatal("overwrite kept the version")
	}
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(first, rest...), old) {
		t.Error("a Reader open across an overwrite mixed versions")
	}
	if _, err := s.NewRangeReader(t.Context(), "obj", 0, 1, objstore.ReadOptions{Version: v1}); !errors.Is(err, objstore.ErrChanged) {
		t.Errorf("new read pinned to the old version: %v, want ErrChanged", err)
	}
	if got := read(t, s, "obj", v2); !bytes.Equal(got, neu) {
		t.Error("read of the new version: wrong bytes")
	}
}

// The version changes on every Put, even of the same bytes in one clock
// tick, and a file changed by another program gets a new version too.
func TestVersionChanges(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	seen := map[objstore.Version]bool{}
	for range 100 {
		v := put(t, s, "k", "same").Version
		if seen[v] {
			t.Fatalf("version %v repeated", v)
		}
		seen[v] = true
	}
	st, err := s.Stat(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "k"), []byte("other bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	st2, err := s.Stat(t.Context(), "k")
	if err != nil || st2.Version == st.Version {
		t.Errorf("in-place write by another program: version %v -> %v, %v", st.Version, st2.Version, err)
	}
}

func TestFileAndDirectoryClash(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	ctx := t.Context()
	put(t, s, "a", "file")
	if _, err := s.Put(ctx, "a/b", strings.NewReader("x"), objstore.PutOptions{}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Put(a/b) while a is a file: %v, want fs.ErrExist", err)
	}
	put(t, s, "d/x", "x")
	if _, err := s.Put(ctx, "d", strings.NewReader("x"), objstore.PutOptions{}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Put(d) while d/ holds keys: %v, want fs.ErrExist", err)
	}
	if got := read(t, s, "d/x", objstore.Version{}); string(got) != "x" {
		t.Errorf("d/x after the failed Put = %q", got)
	}
	// A directory is not an object.
	if err := s.Delete(ctx, "d"); err != nil {
		t.Errorf("Delete of a directory: %v, want nil", err)
	}
	if _, err := s.Stat(ctx, "d"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a directory: %v", err)
	}
	// Deleting the last key removes the emptied directories.
	put(t, s, "deep/er/key", "x")
	if err := s.Delete(ctx, "deep/er/key"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "deep")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("emptied directories stay: %v", err)
	}
	leftTemps(t, dir)
}

// leftTemps fails if a temporary file is left under dir.
func leftTemps(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), filestore.TempPrefix) {
			t.Errorf("temporary file %s left", p)
		}
		return nil
	})
}

func TestTempFilesInvisible(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	put(t, s, "d/k", "v")
	// A temporary file as a crashed Put would leave it.
	for _, p := range []string{filestore.TempPrefix + "123", "d/" + filestore.TempPrefix + "456"} {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(p)), []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, delim := range []string{"", "/"} {
		page, err := s.List(t.Context(), objstore.ListOptions{Delimiter: delim})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range page.Objects {
			got = append(got, o.Key)
		}
		got = append(got, page.Prefixes...)
		want := []string{"d/k"}
		if delim == "/" {
			want = []string{"d/"}
		}
		if !slices.Equal(got, want) {
			t.Errorf("List(delimiter %q) = %q, want %q", delim, got, want)
		}
	}
	// A failed Put leaves no temporary file.
	if _, err := s.Put(t.Context(), "d/k2", strings.NewReader("short"), objstore.PutOptions{Size: 99}); !errors.Is(err, fs.ErrInvalid) {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, filestore.TempPrefix+"123"))
	os.Remove(filepath.Join(dir, "d", filestore.TempPrefix+"456"))
	leftTemps(t, dir)
}

// Keys come in the lexical order of full keys, which a walk that sorts
// each directory by name alone would get wrong.
func TestListOrder(t *testing.T) {
	s := newStore(t, t.TempDir())
	keys := []string{"a/b", "a-b", "a.txt", "a/c/d", "a/c-d", "a/c.e", "a0", "b", "a b/c", "a\tb", "a/c/e/f"}
	for _, k := range keys {
		put(t, s, k, k)
	}
	slices.Sort(keys)
	for _, max := range []int{0, 1, 2, 3, 5} {
		var got []string
		opts := objstore.ListOptions{MaxKeys: max}
		for {
			page, err := s.List(t.Context(), opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page.Objects {
				got = append(got, o.Key)
			}
			if page.Next == "" {
				break
			}
			opts.Token = page.Next
		}
		if !slices.Equal(got, keys) {
			t.Errorf("List(MaxKeys %d) = %q\nwant %q", max, got, keys)
		}
	}
	// Delimiter "/" at one level: "a-b" and "a.txt" sort before "a/".
	page, err := s.List(t.Context(), objstore.ListOptions{Prefix: "a", Delimiter: "/"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range page.Objects {
		got = append(got, o.Key)
	}
	if want := []string{"a\tb", "a-b", "a.txt", "a0"}; !slices.Equal(got, want) || !slices.Equal(page.Prefixes, []string{"a b/", "a/"}) {
		t.Errorf("List(prefix a, delimiter /) = %q %q", got, page.Prefixes)
	}
	// Another delimiter rolls keys up across directories.
	page, err = s.List(t.Context(), objstore.ListOptions{Prefix: "a/", Delimiter: "-"})
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, o := range page.Objects {
		got = append(got, o.Key)
	}
	if want := []string{"a/b", "a/c.e", "a/c/d", "a/c/e/f"}; !slices.Equal(got, want) || !slices.Equal(page.Prefixes, []string{"a/c-"}) {
		t.Errorf("List(prefix a/, delimiter -) = %q %q", got, page.Prefixes)
	}
}

func TestClose(t *testing.T) {
	s, err := filestore.New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "k", "v")
	r, err := s.NewRangeReader(t.Context(), "k", 0, -1, objstore.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if b, err := io.ReadAll(r); err != nil || string(b) != "v" {
		t.Errorf("Reader open before Close: %q, %v", b, err)
	}
	if _, err := s.Stat(t.Context(), "k"); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Stat after Close: %v", err)
	}
	if _, err := s.List(t.Context(), objstore.ListOptions{}); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("List after Close: %v", err)
	}
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	if _, err := filestore.New(filepath.Join(dir, "missing"), nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("New of a missing dir: %v", err)
	}
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := filestore.New(f, nil); err == nil {
		t.Error("New of a file succeeded")
	}
	if _, err := filestore.New(dir, &filestore.Options{FileMode: fs.ModeDir | 0o644}); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("New with a bad mode: %v", err)
	}
	s, err := filestore.New(dir, &filestore.Options{FileMode: 0o600, DirMode: 0o700})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put(t, s, "sub/k", "v")
	for p, want := range map[string]fs.FileMode{"sub": 0o700, "sub/k": 0o600} {
		fi, err := os.Stat(filepath.Join(dir, p))
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("mode of %s = %v, %v; want %v", p, fi.Mode().Perm(), err, want)
		}
	}
	t.Chdir(dir)
	rel, err := filestore.New("sub", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rel.Close()
	if rel.Dir() != filepath.Join(dir, "sub") {
		t.Errorf("Dir() = %q", rel.Dir())
	}
}
