package disk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tierfs/tierfs/tier"
	"github.com/tierfs/tierfs/tier/tiertest"
)

// memFile is a block file in memory, for the header parser.
type memFile struct{ b []byte }

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(f.b)) {
		return 0, io.EOF
	}
	n := copy(p, f.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Write(p []byte) (int, error)              { return 0, errors.ErrUnsupported }
func (f *memFile) WriteAt(p []byte, off int64) (int, error) { return 0, errors.ErrUnsupported }
func (f *memFile) Close() error                             { return nil }

// TestHeaderV2 checks the layout of format 2: the data starts at the
// offset the header gives, page aligned, at least minSlack bytes after
// the header's end, with zeros in between; the offset is covered by the
// header's CRC; and the parser refuses offsets that are not where a
// writer (or a move) could have put the data.
func TestHeaderV2(t *testing.T) {
	for _, c := range []struct {
		key  string
		size int
	}{
		{"k", 0}, {"k", 1}, {"obj/etag/65536/3", 65536}, {"obj/etag/4194304/0", 4 << 20},
		{strings.Repeat("k", 3500), 4 << 20}, {strings.Repeat("long", 2000), 100_000},
	} {
		data := tiertest.Block(c.key, c.size)
		b := encodeHeader(c.key, data)
		hl := headerLen(len(c.key), int64(c.size))
		off := int64(len(b))
		if off%dataAlign != 0 || off < hl+minSlack || off >= hl+minSlack+dataAlign {
			t.Errorf("key of %d bytes, %d bytes of data: data at %d after a header of %d", len(c.key), c.size, off, hl)
		}
		if off != dataOffset(hl) || off+int64(c.size) != fileSize(len(c.key), int64(c.size)) {
			t.Errorf("encodeHeader's length %d, dataOffset %d, fileSize %d", off, dataOffset(hl), fileSize(len(c.key), int64(c.size)))
		}
		if bytes.ContainsFunc(b[hl:], func(r rune) bool { return r != 0 }) {
			t.Errorf("padding after the header is not all zeros")
		}
		if got := int64(binary.LittleEndian.Uint32(b[24:])); got != off {
			t.Errorf("data offset field %d, want %d", got, off)
		}
		file := append(b, data...)
		hdr, err := readHeader(&memFile{file}, c.key)
		if err != nil || hdr.dataOff != off || hdr.dataLen != int64(c.size) || hdr.hdrLen != hl {
			t.Fatalf("readHeader: %+v, %v", hdr, err)
		}
		ob := &openBlock{f: &memFile{file}, hdr: hdr, size: off + int64(c.size)}
		got := make([]byte, c.size)
		if n, err := ob.readPread(got, 0); n != c.size || (err != nil && err != io.EOF) || !bytes.Equal(got, data) {
			t.Fatalf("read of the data: %d, %v", n, err)
		}

		// Every header byte counts, the offset field included.
		for i := range hl {
			bad := bytes.Clone(file)
			bad[i] ^= 0x10
			if _, err := readHeader(&memFile{bad}, c.key); !errors.Is(err, errCorrupt) {
				t.Fatalf("byte %d of the header flipped: %v, want errCorrupt", i, err)
			}
		}
		// Offsets a writer never makes, each with a valid CRC.
		for _, o := range []int64{0, hl, off - dataAlign, off + 1, off - 1, hl + maxPad, roundUp(hl+maxPad, dataAlign), 1<<32 - dataAlign} {
			if o >= hl && o-hl < maxPad && o%dataAlign == 0 {
				continue // a valid offset (off - 4096 can be, for short headers)
			}
			bad := bytes.Clone(file)
			binary.LittleEndian.PutUint32(bad[24:], uint32(o))
			binary.LittleEndian.PutUint32(bad[hl-4:], crcOf(bad[:hl-4]))
			if _, err := readHeader(&memFile{bad}, c.key); !errors.Is(err, errCorrupt) {
				t.Errorf("data offset %d after a header of %d: %v, want errCorrupt", o, hl, err)
			}
		}
		// The header of another key is refused, as in version 1.
		if _, err := readHeader(&memFile{file}, c.key+"x"); !errors.Is(err, errCorrupt) {
			t.Errorf("header read for another key: %v", err)
		}
	}
}

// FuzzReadHeader: the parser never panics, and a header it accepts is
// exactly what putHeader writes for the fields it returned, with the data
// offset inside the bounds a writer keeps.
func FuzzReadHeader(f *testing.F) {
	for _, c := range []struct {
		key  string
		size int
	}{{"k", 0}, {"k", 10}, {"obj/v/65536/1", 70_000}, {"", 5}} {
		b := encodeHeader(c.key, tiertest.Block(c.key, c.size))
		f.Add(c.key, append(b, tiertest.Block(c.key, c.size)...))
		f.Add(c.key, b[:len(b)/2])
	}
	f.Add("k", []byte("TIERFSB\x00\x02\x00"))
	f.Fuzz(func(t *testing.T, key string, b []byte) {
		if len(key) > maxKeyLen {
			return
		}
		// Bound what a fuzzed data length makes readHeader allocate for
		// the checksums (4 bytes per 32 KiB of data).
		if len(b) >= 24 && binary.LittleEndian.Uint64(b[16:]) > 1<<32 {
			b = bytes.Clone(b)
			binary.LittleEndian.PutUint64(b[16:], binary.LittleEndian.Uint64(b[16:])%(1<<32))
		}
		hdr, err := readHeader(&memFile{b}, key)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("readHeader: %v, want errCorrupt or nil", err)
			}
			return
		}
		if hdr.hdrLen != headerLen(len(key), hdr.dataLen) || hdr.dataOff < hdr.hdrLen ||
			hdr.dataOff-hdr.hdrLen >= maxPad || hdr.dataOff%dataAlign != 0 {
			t.Fatalf("accepted header out of bounds: %+v", hdr)
		}
		again := make([]byte, hdr.hdrLen)
		putHeader(again, key, hdr.dataLen, hdr.dataOff, hdr.sums)
		if !bytes.Equal(again, b[:hdr.hdrLen]) {
			t.Fatalf("accepted header is not what putHeader writes for its fields")
		}
	})
}

// TestSweepOldLayout: the start-up sweep removes what format 1 left in
// v1/ (block, temporary and probe files, then the directories it
// empties) and nothing else: not a file of another name, not meta/.
func TestSweepOldLayout(t *testing.T) {
	dir := t.TempDir()
	v1 := filepath.Join(dir, "v1")
	h := hashKey("old block")
	write := func(p string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ours := []string{
		filepath.Join(v1, h.subdir(), h.name()),
		filepath.Join(v1, h.subdir(), tmpPrefix+"0123"),
		filepath.Join(v1, tmpPrefix+"4567"),
		filepath.Join(v1, probeName),
		filepath.Join(v1, "00", "00"+strings.Repeat("1", nameLen-2)),
	}
	theirs := []string{
		filepath.Join(v1, "ab", "notes.txt"),
		filepath.Join(v1, "ab", strings.Repeat("c", nameLen)), // a block name in the wrong subdirectory
		filepath.Join(v1, "README"),
		filepath.Join(dir, "meta", "store"),
	}
	for _, p := range append(ours, theirs...) {
		write(p)
	}
	swept := make(chan string, 1)
	openTier(t, tier.DiskConfig{Dirs: []string{dir}, Quota: 1 << 30, MinFreeRatio: -1}, &Options{afterSweep: func(d string) { swept <- d }})
	<-swept
	for _, p := range ours {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %v, want it removed", p, err)
		}
	}
	for _, p := range theirs {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s: %v, want it kept", p, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(v1, "00")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("emptied subdirectory v1/00: %v, want it removed", err)
	}

	// Once only format 1's files are left, v1/ goes altogether.
	dir2 := t.TempDir()
	write(filepath.Join(dir2, "v1", h.subdir(), h.name()))
	write(filepath.Join(dir2, "v1", probeName))
	openTier(t, tier.DiskConfig{Dirs: []string{dir2}, Quota: 1 << 30, MinFreeRatio: -1}, &Options{afterSweep: func(d string) { swept <- d }})
	<-swept
	if _, err := os.Lstat(filepath.Join(dir2, "v1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("v1/ holding only format 1's files: %v, want it removed", err)
	}
	if _, err := os.Lstat(filepath.Join(dir2, layoutDir)); err != nil {
		t.Errorf("%s/: %v", layoutDir, err)
	}
}
