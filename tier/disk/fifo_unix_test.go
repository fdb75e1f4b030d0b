//go:build unix

package disk

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/tierfs/tierfs/tier"
)

// TestFIFOBlockFile: a FIFO in place of a block file, found after a
// restart, is a miss, not a read blocked in open(2) for good (issue 11,
// finding 3).
func TestFIFOBlockFile(t *testing.T) {
	dir := t.TempDir()
	cfg := tier.DiskConfig{Dirs: []string{dir}, Quota: 1 << 30, MinFreeRatio: -1}
	tr, err := Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Put(t.Context(), testKey(0), testData(0)); err != nil {
		t.Fatal(err)
	}
	flush(t, tr)
	path := tr.dirs[0].blockPath(hashKey(testKey(0)))
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	// Restarted, with the block in the index, then the file replaced.
	tr = openTier(t, cfg, nil)
	<-tr.dirs[0].ready // the scan of the directory is done
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("this file system refuses FIFOs (%v), which the test is about", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := tr.ReadAt(t.Context(), testKey(0), make([]byte, 100), 0)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, tier.ErrMiss) {
			t.Errorf("ReadAt of a FIFO block file: %v, want tier.ErrMiss", err)
		}
	case <-time.After(10 * time.Second):
		// Unblock the open(2) so the test can end.
		if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		t.Fatal("ReadAt of a FIFO block file still blocked after 10s")
	}
}
