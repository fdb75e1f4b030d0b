package disk

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tierfs/tierfs/tier"
)

const (
	moveCrashDirEnv = "TIERFS_DISK_MOVE_CRASH_DIR"
	moveFrom        = "obj/tierfs-pending-0123456789abcdef/65536/0"
	moveTo          = "obj/\"etag-of-the-upload\"/65536/0"
)

// TestMoveCrashChild is the child process of TestMoveCrash: it stores a
// block, moves it, and exits between the header write and the rename.
func TestMoveCrashChild(t *testing.T) {
	dir := os.Getenv(moveCrashDirEnv)
	if dir == "" {
		t.Skip("not a test by itself: the child process TestMoveCrash starts, run only when " + moveCrashDirEnv + " is set")
	}
	hook := func() {
		fmt.Println("header written")
		os.Exit(0) // a crash: no deferred call, no Close
	}
	tr, err := Open(tier.DiskConfig{Dirs: []string{dir}, Quota: 1 << 30, MinFreeRatio: -1}, &Options{moveHook: hook})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	if err := tr.Put(t.Context(), moveFrom, testData(1)); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	if err := tr.Flush(t.Context()); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	err = tr.Move(t.Context(), moveFrom, moveTo)
	fmt.Println("error: Move returned", err)
	os.Exit(1)
}

// TestMoveCrash kills a process between a Move's header write and its
// rename, and restarts on its directory: the file left under the old
// key's name, whose header names the new key, is indexed by the rebuild
// (which reads no header) and then served under neither key — a miss
// for both, the file removed and counted as damaged at its first read —
// never the wrong bytes. The same for the other order a machine crash
// can leave (the rename kept, the header write lost).
func TestMoveCrash(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMoveCrashChild$")
	cmd.Env = append(os.Environ(), moveCrashDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if sc := bufio.NewScanner(bytes.NewReader(out)); !sc.Scan() || sc.Text() != "header written" {
		t.Fatalf("child did not stop between the header write and the rename:\n%s", out)
	}

	cfg := tier.DiskConfig{Dirs: []string{dir}, Quota: 1 << 30, MinFreeRatio: -1}
	tr := openTier(t, cfg, nil)
	flush(t, tr)
	d := tr.dirs[0]
	fromPath, toPath := d.blockPath(hashKey(moveFrom)), d.blockPath(hashKey(moveTo))
	if _, err := os.Stat(toPath); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the new key's file exists after a crash before the rename: %v", err)
	}
	// The file under the old key's name holds the new key's header.
	f, err := os.Open(fromPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readHeader(f, moveTo); err != nil {
		t.Errorf("the file left under the old key's name: its header does not name the new key: %v", err)
	}
	f.Close()
	if st := tr.Stats(); st.Blocks != 1 {
		t.Fatalf("the rebuild indexed %d blocks, want the 1 file left", st.Blocks)
	}
	for _, key := range []string{moveFrom, moveTo} {
		p := make([]byte, testSize(1))
		if n, err := tr.ReadAt(t.Context(), key, p, 0); !errors.Is(err, tier.ErrMiss) || n != 0 {
			t.Errorf("ReadAt(%q) after the crash: %d, %v; want a miss", key, n, err)
		}
	}
	if st := tr.Stats(); st.Corrupt != 1 || st.Blocks != 0 || st.Bytes != 0 || st.Errors != 0 {
		t.Errorf("after reading both keys: %+v; want the file counted damaged and gone", st)
	}
	if _, err := os.Stat(fromPath); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the file left by the crash is still there: %v", err)
	}

	// The rename kept, the header write lost: a file under the new key's
	// name whose header names the old key.
	if err := tr.Put(t.Context(), moveFrom, testData(2)); err != nil {
		t.Fatal(err)
	}
	flush(t, tr)
	tr.Close()
	if err := os.MkdirAll(filepath.Dir(toPath), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(fromPath, toPath); err != nil {
		t.Fatal(err)
	}
	tr = openTier(t, cfg, nil)
	flush(t, tr)
	for _, key := range []string{moveTo, moveFrom} {
		p := make([]byte, testSize(2))
		if n, err := tr.ReadAt(t.Context(), key, p, 0); !errors.Is(err, tier.ErrMiss) || n != 0 {
			t.Errorf("ReadAt(%q) of a file renamed with its old header: %d, %v; want a miss", key, n, err)
		}
	}
	if st := tr.Stats(); st.Corrupt != 1 || st.Blocks != 0 {
		t.Errorf("after reading both keys: %+v; want the file counted damaged and gone", st)
	}
}

// TestMoveRestart: a moved block is found under its new key after a
// restart, and not under its old one.
func TestMoveRestart(t *testing.T) {
	cfg := tier.DiskConfig{Dirs: []string{t.TempDir(), t.TempDir()}, Quota: 1 << 30, MinFreeRatio: -1}
	tr, err := Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := tr.Put(t.Context(), fmt.Sprint("pending/", i), testData(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		if err := tr.Move(t.Context(), fmt.Sprint("pending/", i), fmt.Sprint("final/", i)); err != nil {
			t.Fatal(err)
		}
	}
	before := tr.Stats()
	tr.Close()
	tr = openTier(t, cfg, nil)
	flush(t, tr)
	if st := tr.Stats(); st.Blocks != 20 || st.Bytes != before.Bytes {
		t.Errorf("after the restart: %+v; before: %+v", st, before)
	}
	for i := range 20 {
		if !readBlock(t, tr, fmt.Sprint("final/", i), testData(i)) {
			t.Errorf("block %d: a miss under its new key after the restart", i)
		}
		if readBlock(t, tr, fmt.Sprint("pending/", i), testData(i)) {
			t.Errorf("block %d: served under its old key after the restart", i)
		}
	}
	if st := tr.Stats(); st.Corrupt != 0 || st.Puts != 0 {
		t.Errorf("%+v", st)
	}
}

// TestMoveHeaderRoom: a key that fits in the room before the data moves
// (the padding left zero); one a byte longer fails with
// errors.ErrUnsupported and changes nothing.
func TestMoveHeaderRoom(t *testing.T) {
	tr := openTier(t, tier.DiskConfig{Dirs: []string{t.TempDir()}, Quota: 1 << 30, MinFreeRatio: -1}, nil)
	d := tr.dirs[0]
	data := testData(3)
	from := strings.Repeat("f", 300)
	hl := headerLen(len(from), int64(len(data)))
	room := dataOffset(hl) - hl
	if room < minSlack {
		t.Fatalf("room after the header %d, less than %d", room, minSlack)
	}
	if err := tr.Put(t.Context(), from, data); err != nil {
		t.Fatal(err)
	}
	flush(t, tr)
	tooLong := strings.Repeat("t", len(from)+int(room)+1)
	err := tr.Move(t.Context(), from, tooLong)
	if !errors.Is(err, errors.ErrUnsupported) || errors.Is(err, tier.ErrMiss) {
		t.Fatalf("Move to a key that does not fit: %v, want errors.ErrUnsupported", err)
	}
	if !readBlock(t, tr, from, data) || readBlock(t, tr, tooLong, data) {
		t.Fatal("a Move that failed changed the keys' blocks")
	}
	// Just fits: the header ends where the data starts.
	exact := strings.Repeat("e", len(from)+int(room))
	if err := tr.Move(t.Context(), from, exact); err != nil {
		t.Fatal(err)
	}
	if !readBlock(t, tr, exact, data) {
		t.Fatal("block moved to a key that just fits: a miss")
	}
	// Back to a short key: the longer header's tail is zeroed.
	if err := tr.Move(t.Context(), exact, "s"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(d.blockPath(hashKey("s")))
	if err != nil {
		t.Fatal(err)
	}
	off := dataOffset(hl)
	if bytes.ContainsFunc(b[headerLen(1, int64(len(data))):off], func(r rune) bool { return r != 0 }) {
		t.Error("the padding after a header rewritten under a shorter key is not zero")
	}
	if !bytes.Equal(b[off:], data) {
		t.Error("the data moved")
	}
	if !readBlock(t, tr, "s", data) {
		t.Fatal("block moved to a short key: a miss")
	}
}

// TestMoveDropsOpenFiles: the open (and mapped) files of both keys are
// dropped by a Move, so the block moved over another is read from its
// own file, not the mapping of the one it replaced; no descriptor leaks.
func TestMoveDropsOpenFiles(t *testing.T) {
	cfs := newCountFS()
	t.Cleanup(func() { // runs after openTier's, which closes the tier
		if n := cfs.openCount(""); n != 0 {
			t.Errorf("%d block files open after Close", n)
		}
	})
	tr := openTier(t, tier.DiskConfig{Dirs: []string{t.TempDir()}, Quota: 1 << 30, MinFreeRatio: -1}, &Options{fsys: cfs})
	d := tr.dirs[0]
	a, b := testData(4), testData(5)
	for k, v := range map[string][]byte{"a": a, "b": b} {
		if err := tr.Put(t.Context(), k, v); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, tr)
	for range 3 { // open, cached, then mapped
		readBlock(t, tr, "a", a)
		readBlock(t, tr, "b", b)
	}
	if !isCached(d, "a") || !isCached(d, "b") {
		t.Fatal("the blocks' files are not cached")
	}
	if err := tr.Move(t.Context(), "a", "b"); err != nil {
		t.Fatal(err)
	}
	if isCached(d, "a") || isCached(d, "b") {
		t.Error("a file of a moved key is still cached")
	}
	if n := cfs.openCount(""); n != 0 {
		t.Errorf("%d block files open after the Move, want 0", n)
	}
	for range 3 {
		if !readBlock(t, tr, "b", a) {
			t.Fatal("the block moved over b: a miss or b's old bytes")
		}
	}
	if readBlock(t, tr, "a", a) {
		t.Error("the block moved away from a is still served under a")
	}
}

// TestMoveRenameFails: a rename that fails puts the old key's header back
// (the block is still served under it); EXDEV (two mounts of one device)
// is not an I/O error, EIO is.
func TestMoveRenameFails(t *testing.T) {
	for _, c := range []struct {
		errno  syscall.Errno
		errors int64
	}{{syscall.EXDEV, 0}, {syscall.EIO, 1}} {
		t.Run(c.errno.Error(), func(t *testing.T) {
			ffs := &faultFS{}
			tr := openTier(t, tier.DiskConfig{Dirs: []string{t.TempDir()}, Quota: 1 << 30, MinFreeRatio: -1, ProbeInterval: time.Hour}, &Options{fsys: ffs})
			data := testData(6)
			if err := tr.Put(t.Context(), "from", data); err != nil {
				t.Fatal(err)
			}
			flush(t, tr)
			fromPath := tr.dirs[0].blockPath(hashKey("from"))
			ffs.setHook(func(op, path string) error {
				if op == "rename" && path == fromPath {
					return c.errno
				}
				return nil
			})
			err := tr.Move(t.Context(), "from", "to")
			if !errors.Is(err, c.errno) || errors.Is(err, tier.ErrMiss) {
				t.Fatalf("Move with a failing rename: %v, want %v", err, c.errno)
			}
			ffs.setHook(nil)
			st := tr.Stats()
			if st.Errors != c.errors || st.Corrupt != 0 || st.Blocks != 1 {
				t.Errorf("after the failed Move: %+v", st)
			}
			if _, err := os.Stat(tr.dirs[0].blockPath(hashKey("to"))); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the new key's file: %v", err)
			}
			f, err := os.Open(fromPath)
			if err != nil {
				t.Fatal(err)
			}
			_, err = readHeader(f, "from")
			f.Close()
			if err != nil {
				t.Errorf("the old key's header was not put back: %v", err)
			}
			if c.errors == 0 && !readBlock(t, tr, "from", data) {
				t.Error("the block is not served under its old key after the failed Move")
			}
		})
	}
}

// TestMoveBetweenDirs: a move between two directories on one device
// charges the block to the new one; between two devices it fails with
// errors.ErrUnsupported and changes nothing.
func TestMoveBetweenDirs(t *testing.T) {
	tr := openTier(t, tier.DiskConfig{Dirs: []string{t.TempDir(), t.TempDir()}, Quota: 1 << 30, MinFreeRatio: -1}, nil)
	flush(t, tr)
	// Two keys in different directories.
	from, to := "x0", ""
	for i := 1; to == ""; i++ {
		if k := fmt.Sprint("x", i); tr.dirFor(hashKey(k)) != tr.dirFor(hashKey(from)) {
			to = k
		}
	}
	df, dt := tr.dirFor(hashKey(from)), tr.dirFor(hashKey(to))
	data := testData(7)
	if err := tr.Put(t.Context(), from, data); err != nil {
		t.Fatal(err)
	}
	flush(t, tr)
	used := func(d *dir) (int64, int64) {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.idx.used, d.reserved
	}
	charge, _ := used(df)

	dt.dev = df.dev + 1 // as if on another device
	if err := tr.Move(t.Context(), from, to); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Move between devices: %v, want errors.ErrUnsupported", err)
	}
	if u, r := used(df); u != charge || r != 0 {
		t.Errorf("after a Move that failed: from's directory uses %d, reserves %d; want %d, 0", u, r, charge)
	}
	if !readBlock(t, tr, from, data) || readBlock(t, tr, to, data) {
		t.Fatal("a Move that failed changed the keys' blocks")
	}

	dt.dev = df.dev
	if err := tr.Move(t.Context(), from, to); err != nil {
		t.Fatal(err)
	}
	if u, r := used(df); u != 0 || r != 0 {
		t.Errorf("after the Move: from's directory uses %d, reserves %d; want 0, 0", u, r)
	}
	if u, r := used(dt); u != charge || r != 0 {
		t.Errorf("after the Move: to's directory uses %d, reserves %d; want %d, 0", u, r, charge)
	}
	if !readBlock(t, tr, to, data) || readBlock(t, tr, from, data) {
		t.Fatal("after the Move between directories: not served under the new key, or still under the old one")
	}
}

// TestMoveWaitsForFill: a Move of a block still being written waits for
// the write, up to its context's end; the block is then moved.
func TestMoveWaitsForFill(t *testing.T) {
	ffs := &faultFS{}
	held := make(chan struct{})
	release := make(chan struct{})
	ffs.setHook(func(op, path string) error {
		if op == "write" && strings.Contains(path, tmpPrefix) {
			select {
			case held <- struct{}{}:
			default:
			}
			<-release
		}
		return nil
	})
	tr := openTier(t, tier.DiskConfig{Dirs: []string{t.TempDir()}, Quota: 1 << 30, MinFreeRatio: -1, FillWorkers: 1}, &Options{fsys: ffs})
	data := testData(8)
	if err := tr.Put(t.Context(), "from", data); err != nil {
		t.Fatal(err)
	}
	<-held // the worker is writing the block

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- tr.Move(ctx, "from", "to") }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Move cancelled while the block is written: %v, want context.Canceled", err)
	}
	go func() { done <- tr.Move(t.Context(), "from", "to") }()
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Move of a block being written: %v", err)
	}
	ffs.setHook(nil)
	if !readBlock(t, tr, "to", data) || readBlock(t, tr, "from", data) {
		t.Fatal("after the Move: not served under the new key, or still under the old one")
	}
	if st := tr.Stats(); st.Puts != 1 || st.Blocks != 1 {
		t.Errorf("%+v: want 1 Put, 1 block", st)
	}
}

// TestMoveWindow pauses a Move between its header write and its rename.
// Meanwhile the old key is a miss that leaves the file alone (no read
// takes the rewritten header for damage), a fill of either key is
// dropped, and a read already under way when the Move began, which meets
// the rewritten header, is a plain miss too (it used to remove the file
// as damaged, and the Move's rename then found nothing).
func TestMoveWindow(t *testing.T) {
	ffs := &faultFS{}
	paused, resume := make(chan struct{}), make(chan struct{})
	hook := func() {
		paused <- struct{}{}
		<-resume
	}
	tr := openTier(t, tier.DiskConfig{Dirs: []string{t.TempDir()}, Quota: 1 << 30, MinFreeRatio: -1}, &Options{fsys: ffs, moveHook: hook})
	data := testData(9)
	if err := tr.Put(t.Context(), "from", data); err != nil {
		t.Fatal(err)
	}
	flush(t, tr)
	fromPath := tr.dirs[0].blockPath(hashKey("from"))

	// A reader that has opened from's file and waits to read its header.
	reading, readOn := make(chan struct{}), make(chan struct{})
	first := true
	ffs.setHook(func(op, path string) error {
		if op == "read" && path == fromPath && first {
			first = false // only the test's reader and the Move read this path, one after the other
			close(reading)
			<-readOn
		}
		return nil
	})
	readDone := make(chan error, 1)
	go func() {
		_, err := tr.ReadAt(t.Context(), "from", make([]byte, 100), 0)
		readDone <- err
	}()
	<-reading

	moved := make(chan error, 1)
	go func() { moved <- tr.Move(t.Context(), "from", "to") }()
	<-paused // the header names "to"; the file is still under from's name

	close(readOn)
	if err := <-readDone; !errors.Is(err, tier.ErrMiss) {
		t.Errorf("read under way when the Move began: %v, want a miss", err)
	}
	if readBlock(t, tr, "from", data) || tr.Contains("from") {
		t.Error("the old key is served while it moves")
	}
	if err := tr.Put(t.Context(), "from", data); err != nil {
		t.Fatal(err)
	}
	if err := tr.Put(t.Context(), "to", testData(10)); err != nil {
		t.Fatal(err)
	}
	flush(t, tr)
	if st := tr.Stats(); st.Corrupt != 0 || st.Dropped != 2 || st.Puts != 1 {
		t.Errorf("while the Move is paused: %+v; want no damaged block, the 2 fills dropped", st)
	}
	if _, err := os.Stat(fromPath); err != nil {
		t.Errorf("the file moving: %v", err)
	}

	close(resume)
	if err := <-moved; err != nil {
		t.Fatalf("Move: %v", err)
	}
	ffs.setHook(nil)
	if !readBlock(t, tr, "to", data) || readBlock(t, tr, "from", data) {
		t.Fatal("after the Move: not served under the new key, or still under the old one")
	}
	if st := tr.Stats(); st.Corrupt != 0 || st.Blocks != 1 {
		t.Errorf("after the Move: %+v", st)
	}
}
