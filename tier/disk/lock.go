package disk

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// lockName is the lock file in each cache directory. It also holds the
// directory's placement seed, so a reordered or renamed mount keeps its
// blocks (as JuiceFS keeps a UUID in its .lock).
const lockName = "tierfs.lock"

// ownerName is the file, beside the lock, naming the process that holds
// it.
const ownerName = "tierfs.owner"

// lockedError reports a cache directory whose lock another tier holds.
// It is ErrLocked (and so fs.ErrExist) for errors.Is.
type lockedError struct{ path, holder string }

func (e *lockedError) Error() string {
	msg := "tier: disk: cache directory " + e.path + " in use by another tier"
	if e.holder != "" {
		msg += " (" + e.holder + ")"
	}
	return msg
}

func (e *lockedError) Is(target error) bool { return target == ErrLocked || target == fs.ErrExist }

// openDir creates the directory if needed, takes its lock, reads its seed
// and the file-system block size.
func (t *Tier) openDir(path string, share int64) (*dir, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("tier: disk: %w", err)
	}
	lf, err := os.OpenFile(filepath.Join(path, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("tier: disk: %w", err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lf.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder, _ := os.ReadFile(filepath.Join(path, ownerName))
			return nil, &lockedError{path: path, holder: strings.TrimSpace(string(holder))}
		}
		return nil, fmt.Errorf("tier: disk: lock %s: %w", path, err)
	}
	// Who holds the lock, for the error another tier gets (best effort).
	host, _ := os.Hostname()
	_ = os.WriteFile(filepath.Join(path, ownerName), []byte(fmt.Sprintf("pid %d on %s\n", os.Getpid(), host)), 0o600)
	d := &dir{
		path:     path,
		root:     filepath.Join(path, layoutDir),
		lockFile: lf,
		share:    share,
		high:     int64(t.cfg.High * float64(share)),
		low:      int64(t.cfg.Low * float64(share)),
		ready:    make(chan struct{}),
		idx:      newLRU(),
		fds:      newFDCache(max(openFiles/len(t.cfg.Dirs), minOpenPerDir)),
		inflight: make(map[uint64]time.Time),
		moving:   make(map[keyHash]bool),
	}
	d.unlinked = sync.NewCond(&d.mu)
	fail := func(err error) (*dir, error) {
		lf.Close()
		return nil, fmt.Errorf("tier: disk: %w", err)
	}
	buf := make([]byte, 64)
	n, _ := lf.ReadAt(buf, 0)
	if id, err := strconv.ParseUint(string(buf[:n]), 16, 64); err == nil && n == 16 {
		d.id = id
	} else if err := d.newID(); err != nil {
		return fail(err)
	}
	if err := os.Mkdir(d.root, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fail(err)
	}
	st, err := t.fs.Statfs(d.root)
	if err != nil {
		return fail(err)
	}
	d.bsize = max(st.BlockSize, 512)
	if info, err := os.Stat(d.root); err == nil {
		if sys, ok := info.Sys().(*syscall.Stat_t); ok {
			d.dev = uint64(sys.Dev)
		}
	}
	return d, nil
}

// newID gives the directory a new random placement seed and stores it.
func (d *dir) newID() error {
	d.id = rand.Uint64()
	var b [8]byte
	for i := range b {
		b[i] = byte(d.id >> (56 - 8*i))
	}
	if err := d.lockFile.Truncate(0); err != nil {
		return err
	}
	_, err := d.lockFile.WriteAt([]byte(hex.EncodeToString(b[:])), 0)
	return err
}
