package disk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// errTimeout marks a file operation that took longer than IOTimeout.
var errTimeout = errors.New("tier: disk: file operation exceeded the I/O timeout")

// beginLocked records the start of a file operation on d; d.mu is held.
func (d *dir) beginLocked(now time.Time) uint64 {
	d.seq++
	d.inflight[d.seq] = now
	return d.seq
}

func (t *Tier) beginOp(d *dir) uint64 {
	now := t.clock.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.beginLocked(now)
}

// endOp records the end of a file operation; one that took longer than
// IOTimeout makes the directory sick, even if it succeeded.
func (t *Tier) endOp(d *dir, op uint64) {
	now := t.clock.Now()
	d.mu.Lock()
	start, ok := d.inflight[op]
	delete(d.inflight, op)
	d.mu.Unlock()
	if ok && now.Sub(start) > t.cfg.IOTimeout {
		t.ioError(d, fmt.Errorf("%w (%v)", errTimeout, now.Sub(start)))
	}
}

// ioError counts an I/O error on d and makes it sick: reads of its blocks
// are misses and fills are dropped until a probe succeeds.
func (t *Tier) ioError(d *dir, err error) {
	t.ioErrors.Add(1)
	now := t.clock.Now()
	d.mu.Lock()
	was := d.sick
	if !was {
		d.sick, d.sickErr, d.nextProbe = true, err, now.Add(t.cfg.ProbeInterval)
	}
	d.readOK = false
	d.mu.Unlock()
	if !was {
		t.log.Warn("tier: disk: directory unhealthy", "dir", d.path, "err", err)
	}
}

// maintenanceLoop runs maintain about once a second (or more often when
// the probe interval or I/O timeout is shorter).
func (t *Tier) maintenanceLoop() {
	tick := min(time.Second, t.cfg.ProbeInterval, t.cfg.IOTimeout)
	for {
		select {
		case <-t.done:
			return
		case <-t.clock.After(tick):
			t.maintain()
		}
	}
}

// errLost marks a directory whose lock file is gone or replaced.
var errLost = errors.New("tier: disk: the cache directory was removed or replaced (its lock file is not the one this tier holds); given up until the tier is reopened")

// lostLock reports whether d's lock file is no longer the file this tier
// locked: the directory was removed (rm -rf), and perhaps made again and
// locked by another tier, whose flock on the new file does not conflict
// with this tier's on the old one. Errors other than "not there" do not
// count: the probes judge them.
func lostLock(d *dir) bool {
	held, err := d.lockFile.Stat()
	if err != nil {
		return false
	}
	cur, err := os.Stat(filepath.Join(d.path, lockName))
	if err != nil {
		return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
	}
	return !os.SameFile(held, cur)
}

// giveUp makes d sick for good: a directory this tier no longer owns is
// neither read nor written, whoever owns it now.
func (t *Tier) giveUp(d *dir) {
	d.mu.Lock()
	was := d.lost
	d.lost, d.sick, d.sickErr, d.readOK = true, true, errLost, false
	d.mu.Unlock()
	if !was {
		t.ioErrors.Add(1)
		t.log.Error("tier: disk: directory given up", "dir", d.path, "err", errLost)
	}
}

// maintain is one background pass over the directories: it gives up a
// directory whose lock file is gone or replaced, marks sick a directory
// with an operation in flight for longer than IOTimeout, probes sick ones
// when due, and on healthy ones enforces the watermarks and the
// free-space floor (statfs, so pressure from other programs is seen
// within a second).
func (t *Tier) maintain() {
	t.mmu.Lock()
	defer t.mmu.Unlock()
	for _, d := range t.dirs {
		d.mu.Lock()
		lost := d.lost
		d.mu.Unlock()
		if lost {
			continue
		}
		if lostLock(d) {
			t.giveUp(d)
			continue
		}
		now := t.clock.Now()
		d.mu.Lock()
		stalled := false
		for _, start := range d.inflight {
			if now.Sub(start) > t.cfg.IOTimeout {
				stalled = true
			}
		}
		d.mu.Unlock()
		if stalled {
			t.ioError(d, errTimeout)
		}
		d.mu.Lock()
		sick, due := d.sick, !now.Before(d.nextProbe)
		d.mu.Unlock()
		switch {
		case sick && due:
			t.probeDir(d)
		case !sick && d.rebuilt.Load():
			t.enforce(d)
		}
	}
}

// probeDir writes, reads back and removes a probe file; success makes the
// directory healthy again.
//
// When the probe fails, a read of an indexed block file tells whether the
// directory can still be read (a full or read-only file system): its
// blocks are then served again (each is still checked against its
// checksums), while fills stay dropped until a probe succeeds.
func (t *Tier) probeDir(d *dir) {
	err := t.probe(d)
	readOK := err != nil && t.probeRead(d)
	if lostLock(d) {
		// Removed (and maybe locked by another tier) as the probe ran.
		t.giveUp(d)
		return
	}
	now := t.clock.Now()
	d.mu.Lock()
	if d.lost {
		d.mu.Unlock()
		return
	}
	if err == nil {
		d.sick, d.sickErr, d.readOK = false, nil, false
	} else {
		d.nextProbe = now.Add(t.cfg.ProbeInterval)
		d.readOK = readOK
	}
	d.mu.Unlock()
	if err == nil {
		t.log.Info("tier: disk: directory healthy again", "dir", d.path)
	} else {
		t.log.Debug("tier: disk: probe failed", "dir", d.path, "err", err)
	}
}

// probeRead reads the start of d's oldest indexed block file and reports
// whether that worked.
func (t *Tier) probeRead(d *dir) bool {
	d.mu.Lock()
	e := d.idx.oldest()
	var path string
	if e != nil {
		path = d.blockPath(e.hash)
	}
	d.mu.Unlock()
	if e == nil {
		return false
	}
	f, err := t.fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, 512)
	n, err := f.ReadAt(buf, 0)
	return n > 0 && (err == nil || err == io.EOF)
}

func (t *Tier) probe(d *dir) error {
	path := filepath.Join(d.root, probeName)
	want := make([]byte, 4096)
	for i := range want {
		want[i] = byte(rand.Uint32())
	}
	defer t.fs.Remove(path)
	f, err := t.fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(want); err != nil {
		return err
	}
	got := make([]byte, len(want))
	if n, err := f.ReadAt(got, 0); n != len(got) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if !bytes.Equal(got, want) {
		return errors.New("tier: disk: probe read back other bytes")
	}
	return nil
}

// enforce evicts from d down to the low watermark when usage is above the
// high one (after a restart with a smaller quota), and down to the
// free-space floor when the file system is too full.
func (t *Tier) enforce(d *dir) {
	var need int64
	d.mu.Lock()
	if u := d.idx.used + d.reserved; u > d.high {
		need = u - d.low
	}
	d.mu.Unlock()
	if t.cfg.MinFreeRatio > 0 {
		st, err := t.fs.Statfs(d.root)
		if err != nil {
			t.ioError(d, err)
			return
		}
		if short := int64(t.cfg.MinFreeRatio*float64(st.Total)) - st.Avail; short > need {
			need = short
		}
	}
	if need > 0 {
		t.evictBytes(d, need)
	}
}
