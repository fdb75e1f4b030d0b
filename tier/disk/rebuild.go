package disk

import (
	"cmp"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
)

// walked is a block file found by the rebuild walk: 32 bytes each, held
// only until the walk is merged into the index.
type walked struct {
	hash   keyHash
	charge int64
	mtime  int64
}

// rebuild walks d's layout directory and counts every block file into the
// index, without reading headers: names give the key hash, lstat the size
// (charged rounded up to the file-system block) and the modification
// time, which orders the rebuilt LRU. It also removes stale temporary
// files (no fill runs before the walk is done, so every temporary file
// it finds is from an earlier process), probe files, and block files
// this directory should not hold (placed under another directory set).
//
// Until the walk is done, reads of keys not yet indexed open the file
// directly, and fills wait, so the usage they check is complete.
func (t *Tier) rebuild(d *dir, hook func(string)) {
	defer func() {
		d.rebuilt.Store(true)
		close(d.ready)
		select {
		case <-t.done:
		default:
			t.enforce(d)
		}
	}()
	if hook != nil {
		hook(d.path)
	}
	subs, err := t.fs.ReadDir(d.root)
	if err != nil {
		t.ioError(d, err)
		return
	}
	var found []walked
	var swept int
	for _, s := range subs {
		select {
		case <-t.done:
			return
		default:
		}
		name := s.Name()
		p := filepath.Join(d.root, name)
		if !s.IsDir() {
			if strings.HasPrefix(name, tmpPrefix) || name == probeName {
				t.fs.Remove(p)
				swept++
			}
			continue
		}
		if len(name) != 2 {
			continue
		}
		ents, err := t.fs.ReadDir(p)
		if err != nil {
			t.ioError(d, err)
			continue
		}
		for _, e := range ents {
			fp := filepath.Join(p, e.Name())
			h, ok := parseName(e.Name())
			switch {
			case strings.HasPrefix(e.Name(), tmpPrefix):
				t.fs.Remove(fp)
				swept++
				continue
			case !ok || h.subdir() != name || !e.Type().IsRegular():
				continue // not ours; left alone
			case t.dirFor(h) != d:
				t.fs.Remove(fp)
				continue
			}
			info, err := e.Info()
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					t.ioError(d, err)
				}
				continue
			}
			found = append(found, walked{hash: h, charge: roundUp(info.Size(), d.bsize), mtime: info.ModTime().UnixNano()})
		}
	}
	// Newest first, each appended at the back: the oldest file ends up
	// the first to go, behind every block read or written during the walk.
	slices.SortFunc(found, func(a, b walked) int { return cmp.Compare(b.mtime, a.mtime) })
	const batch = 4096
	for len(found) > 0 {
		n := min(batch, len(found))
		d.mu.Lock()
		for _, w := range found[:n] {
			if d.idx.get(w.hash) == nil {
				d.idx.add(w.hash, w.charge, false)
			}
		}
		d.mu.Unlock()
		found = found[n:]
	}
	if swept > 0 {
		t.log.Info("tier: disk: removed stale temporary files", "dir", d.path, "count", swept)
	}
}

// sweepOld empties the layout directories of earlier formats in d
// (oldLayoutDirs): no binary of this format reads their files, and they
// take room outside the quota. It runs after the rebuild walk, in the
// background, and removes only what a tier of that format made — block
// files (by their name), temporary and probe files, then each fan-out
// subdirectory and the layout directory if that leaves them empty —
// touching nothing else. It is safe because this tier holds the
// directory's lock, which every format takes before it touches its
// layout directory: no other tier uses the files while they go. It stops
// at Close and when the directory is given up (the lock file was
// replaced: the directory may be another tier's now).
func (t *Tier) sweepOld(d *dir) {
	stop := func() bool {
		select {
		case <-t.done:
			return true
		default:
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.lost
	}
	removed := 0
	for _, old := range oldLayoutDirs {
		root := filepath.Join(d.path, old)
		subs, err := t.fs.ReadDir(root)
		if err != nil {
			continue // none (the usual case), or unreadable: left alone
		}
		for _, s := range subs {
			if stop() {
				return
			}
			name := s.Name()
			p := filepath.Join(root, name)
			if !s.IsDir() {
				if s.Type().IsRegular() && (strings.HasPrefix(name, tmpPrefix) || name == probeName) && t.fs.Remove(p) == nil {
					removed++
				}
				continue
			}
			if len(name) != 2 {
				continue // no fan-out subdirectory (the walk skips it too)
			}
			ents, err := t.fs.ReadDir(p)
			if err != nil {
				continue
			}
			for _, e := range ents {
				h, ok := parseName(e.Name())
				ours := (ok && h.subdir() == name) || strings.HasPrefix(e.Name(), tmpPrefix)
				if ours && e.Type().IsRegular() && t.fs.Remove(filepath.Join(p, e.Name())) == nil {
					removed++
				}
			}
			t.fs.Remove(p) // fails, and leaves it, unless it is empty now
		}
		t.fs.Remove(root) // likewise
	}
	if removed > 0 {
		t.log.Info("tier: disk: removed the files of an earlier format", "dir", d.path, "count", removed)
	}
}
