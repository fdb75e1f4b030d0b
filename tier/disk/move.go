package disk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/tierfs/tierfs/tier"
)

var _ tier.Mover = (*Tier)(nil)

// errMoveBusy refuses a Move of a key that another Move is moving.
var errMoveBusy = errors.New("tier: disk: move: another move of the block is under way")

// Move implements tier.Mover. It rewrites the header of from's block file
// in place, naming to (same checksums, data length and data offset: the
// data is not touched), and renames the file to to's path, replacing any
// file there. A 4 MiB block costs one read and one write of its first
// 4 KiB and a rename, instead of a read and a write of 4 MiB.
//
// In order, it:
//  1. waits until a block still queued under from or to (a Put not yet
//     written) is written or dropped, and until the start-up rebuild of
//     both directories is done, so the index knows every file; each wait
//     ends with ctx (ctx's error) or Close (fs.ErrClosed);
//  2. takes from out of the index, keeping its charge reserved while the
//     file is still there, and marks both keys as moving: a read of from
//     is a miss from here on, a fill of either key is dropped, and
//     another Move of either key fails;
//  3. checks from's header (a damaged file is removed and counted in
//     Stats.Corrupt, and Move is a miss), writes to's header over it
//     with one pwrite (zeros after it, where a longer header ended),
//     renames the file, and
//  4. indexes it under to with from's charge, in place of to's entry,
//     whose file the rename replaced, and drops the open descriptors and
//     mappings of both keys' old entries.
//
// Move fails, with nothing changed, when from's directory is sick (a
// miss) or takes no writes, when to's directory takes none or has no
// room, when the key to does not fit in the room before the data, or
// when the two keys' directories are on different devices (a rename
// cannot cross them); these wrap errors.ErrUnsupported or say why. A
// rename that fails (EXDEV from two mounts of one device, say) puts
// from's header back. An I/O error counts in Stats.Errors and makes the
// directory sick, as for a fill; from is then kept where its file is
// whole, and removed where its header may be half written.
//
// A process killed between the header write and the rename leaves a file
// under from's name whose header names to: no key is served from it (a
// read of from finds another key in the header, a miss that removes the
// file and counts it in Stats.Corrupt; to's path is not it). The next
// start's rebuild, which reads no header, indexes it under from's hash
// until such a read or an eviction removes it. After a machine crash
// (there is no fsync, as for fills) either write may be lost; the file
// then holds from's header, to's, or a torn one whose CRC fails, over
// unchanged data: a miss or the right bytes, never wrong ones.
//
// Move counts nothing in Stats when it succeeds: no hit, miss or Put.
func (t *Tier) Move(ctx context.Context, from, to string) error {
	switch {
	case from == "" || to == "":
		return fmt.Errorf("tier: disk: move: empty key: %w", fs.ErrInvalid)
	case len(to) > maxKeyLen:
		return fmt.Errorf("tier: disk: move: key of %d bytes, limit %d: %w", len(to), maxKeyLen, fs.ErrInvalid)
	}
	t.pmu.Lock()
	if t.closed.Load() {
		t.pmu.Unlock()
		return errClosed("move")
	}
	t.moves.Add(1) // under pmu while not closed: Close's Wait comes after
	t.pmu.Unlock()
	defer t.moves.Done()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("tier: disk: move: %w", err)
	}
	if from == to {
		if t.Contains(from) {
			return nil
		}
		return miss("move: absent")
	}
	// A queued block under from is moved once written; one under to would
	// be written over the moved block.
	for _, k := range [...]string{from, to} {
		if err := t.waitFill(ctx, k); err != nil {
			return err
		}
	}
	m := &move{t: t, from: from, to: to, hf: hashKey(from), ht: hashKey(to)}
	m.df, m.dt = t.dirFor(m.hf), t.dirFor(m.ht)
	for _, d := range [...]*dir{m.df, m.dt} {
		select {
		case <-d.ready:
		case <-ctx.Done():
			return fmt.Errorf("tier: disk: move: %w", ctx.Err())
		case <-t.done:
			return errClosed("move")
		}
	}
	if err := m.claim(); err != nil {
		return err
	}
	op := t.beginOp(m.df)
	err := m.rewrite()
	t.endOp(m.df, op)
	return err
}

// waitFill waits until the block queued under key, if any, has been
// written or dropped.
func (t *Tier) waitFill(ctx context.Context, key string) error {
	t.pmu.Lock()
	f := t.pending[key]
	t.pmu.Unlock()
	if f == nil {
		return nil
	}
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("tier: disk: move: waiting for the block's write: %w", ctx.Err())
	case <-t.done:
		return errClosed("move")
	}
}

// move is one Move under way.
type move struct {
	t          *Tier
	from, to   string
	hf, ht     keyHash
	df, dt     *dir  // the directories of from and to (the same one, or two)
	charge     int64 // from's charge: reserved in df while the file moves
	reservedTo bool  // the charge is reserved in dt too (two directories)
}

// claim takes from out of its directory's index, reserving its charge,
// and marks from and to as moving; on an error nothing is changed.
func (m *move) claim() error {
	df, dt := m.df, m.dt
	df.mu.Lock()
	e := df.idx.get(m.hf)
	var err error
	switch {
	case df.sick && !df.readOK:
		err = miss("move: directory unhealthy")
	case e == nil:
		err = miss("move: absent")
	case df.sick:
		err = fmt.Errorf("tier: disk: move: the block's directory takes no writes now: %w", errors.ErrUnsupported)
	case df.moving[m.hf]:
		err = errMoveBusy
	}
	if err != nil {
		df.mu.Unlock()
		return err
	}
	m.charge = e.charge
	open := df.removeLocked(e)
	df.reserved += m.charge
	df.moving[m.hf] = true
	df.mu.Unlock()
	closeFiles(open)

	dt.mu.Lock()
	switch {
	case dt.moving[m.ht]:
		err = errMoveBusy
	case dt.sick:
		err = fmt.Errorf("tier: disk: move: the new key's directory takes no writes now: %w", errors.ErrUnsupported)
	default:
		dt.moving[m.ht] = true
	}
	dt.mu.Unlock()
	if err != nil {
		m.endFrom(true)
		return err
	}
	if df != dt {
		switch {
		case df.dev != dt.dev:
			err = fmt.Errorf("tier: disk: move: the new key's directory is on another device: %w", errors.ErrUnsupported)
		case !m.t.reserve(dt, m.charge):
			err = fmt.Errorf("tier: disk: move: no room for the block in the new key's directory: %w", errors.ErrUnsupported)
		default:
			m.reservedTo = true
		}
		if err != nil {
			m.fail(true)
			return err
		}
	}
	return nil
}

// rewrite checks from's header, writes to's over it, renames the file
// and indexes it under to.
func (m *move) rewrite() error {
	t, df := m.t, m.df
	path := df.blockPath(m.hf)
	f, err := t.fs.OpenFile(path, os.O_RDWR|syscall.O_NOFOLLOW, 0)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		m.fail(false) // removed behind the index's back
		return miss("move: absent")
	case errors.Is(err, errNotRegular) || errors.Is(err, syscall.ELOOP):
		return m.damaged(path) // no block file: a FIFO, a symbolic link
	default:
		t.ioError(df, err)
		m.fail(true)
		return fmt.Errorf("tier: disk: move: %w", err)
	}
	hdr, err := readHeader(f, m.from)
	if err != nil {
		f.Close()
		if errors.Is(err, errCorrupt) {
			return m.damaged(path)
		}
		t.ioError(df, err)
		m.fail(true)
		return fmt.Errorf("tier: disk: move: %w", err)
	}
	need := headerLen(len(m.to), hdr.dataLen)
	if need > hdr.dataOff {
		f.Close()
		m.fail(true)
		return fmt.Errorf("tier: disk: move: the new key's header takes %d bytes, the data starts at %d: %w", need, hdr.dataOff, errors.ErrUnsupported)
	}
	// Zeros after the new header up to where the old one ended, so the
	// padding stays zero.
	buf := make([]byte, max(need, hdr.hdrLen))
	putHeader(buf, m.to, hdr.dataLen, hdr.dataOff, hdr.sums)
	if _, err := f.WriteAt(buf, 0); err != nil {
		// The header may be half written: the file is no block of
		// either key.
		f.Close()
		t.unlink(df, path)
		if !isNoSpace(err) {
			t.ioError(df, err)
		}
		m.fail(false)
		return fmt.Errorf("tier: disk: move: %w", err)
	}
	if t.moveHook != nil {
		t.moveHook()
	}
	dst := m.dt.blockPath(m.ht)
	err = t.fs.Rename(path, dst)
	if errors.Is(err, fs.ErrNotExist) {
		// The new key's subdirectory may not be made yet.
		if merr := t.fs.Mkdir(filepath.Dir(dst), 0o700); merr == nil || errors.Is(merr, fs.ErrExist) {
			err = t.fs.Rename(path, dst)
		}
	}
	if err != nil {
		// Put from's header back (the file may be gone too, if a Delete
		// of from unlinked it: then a read of from is a miss).
		clear(buf)
		putHeader(buf, m.from, hdr.dataLen, hdr.dataOff, hdr.sums)
		_, werr := f.WriteAt(buf, 0)
		f.Close()
		if werr != nil {
			t.unlink(df, path)
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.EXDEV) {
			t.ioError(df, err)
		}
		m.fail(werr == nil)
		return fmt.Errorf("tier: disk: move: %w", err)
	}
	f.Close()
	m.done()
	return nil
}

// damaged removes from's file, which failed verification.
func (m *move) damaged(path string) error {
	m.t.corrupt.Add(1)
	m.t.log.Warn("tier: disk: damaged block file removed", "path", path)
	m.t.unlink(m.df, path)
	m.fail(false)
	return miss("move: damaged block")
}

// done indexes the moved file under to, in place of to's old entry.
func (m *move) done() {
	dt := m.dt
	dt.mu.Lock()
	var old *openBlock
	if cur := dt.idx.get(m.ht); cur != nil {
		old = dt.removeLocked(cur) // its file is the one the rename replaced
	}
	dt.idx.add(m.ht, m.charge, true)
	delete(dt.moving, m.ht)
	if m.reservedTo {
		dt.reserved -= m.charge
	}
	dt.mu.Unlock()
	closeFiles(old)
	m.endFrom(false)
}

// fail ends a move that did not happen: to is released, and from is
// indexed again if restore (its file is still whole).
func (m *move) fail(restore bool) {
	dt := m.dt
	dt.mu.Lock()
	delete(dt.moving, m.ht)
	if m.reservedTo {
		dt.reserved -= m.charge
	}
	dt.mu.Unlock()
	m.endFrom(restore)
}

// endFrom releases from: its charge leaves reserved, and it is indexed
// again if restore.
func (m *move) endFrom(restore bool) {
	df := m.df
	df.mu.Lock()
	df.reserved -= m.charge
	delete(df.moving, m.hf)
	if restore && df.idx.get(m.hf) == nil {
		df.idx.add(m.hf, m.charge, true)
	}
	df.mu.Unlock()
}
