package disk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime/debug"
	"sync"
)

// readPending serves a block that Put accepted and no worker has written
// yet, from the caller's own bytes. ok is false when key is not pending.
// The read pins the fill while it copies, so that a buffer given with
// PutRelease is not released (and reused for another block) under it.
func (t *Tier) readPending(key string, p []byte, off int64) (n int, err error, ok bool) {
	t.pmu.Lock()
	f := t.pending[key]
	if f != nil {
		f.readers++
	}
	t.pmu.Unlock()
	if f == nil {
		return 0, nil, false
	}
	defer func() {
		t.pmu.Lock()
		f.readers--
		rel := f.releasable()
		t.pmu.Unlock()
		if rel != nil {
			rel()
		}
	}()
	if len(p) == 0 {
		return 0, nil, true
	}
	if off >= int64(len(f.data)) {
		return 0, io.EOF, true
	}
	n = copy(p, f.data[off:])
	if n < len(p) {
		err = io.EOF
	}
	return n, err, true
}

// readDisk reads a block from its file, through the directory's cache of
// open files. Every failure is a miss: absent, sick directory, damaged
// file (removed and counted) or I/O error (the directory turns sick).
func (t *Tier) readDisk(key string, p []byte, off int64) (int, error) {
	h := hashKey(key)
	d := t.dirFor(h)
	now := t.clock.Now()
	d.mu.Lock()
	if d.sick && !d.readOK {
		d.mu.Unlock()
		return 0, miss("directory unhealthy")
	}
	e := d.idx.get(h)
	var ob *openBlock
	var m []byte // ob's mapping, read under d.mu: set once, unmapped only when no reader holds ob
	mapNow := false
	if e != nil {
		d.idx.touch(e)
		if ob = d.fds.acquire(h); ob != nil && ob.key != key {
			// Another key with the same hash (astronomically unlikely):
			// open and verify as always, which finds the wrong key.
			d.fds.release(ob) // still cached: nothing to close
			ob = nil
		}
		if ob != nil {
			ob.hits++
			m = ob.m
			if m == nil && !ob.mapping && ob.hits >= mapHits {
				ob.mapping, mapNow = true, true
			}
		}
	} else if d.rebuilt.Load() {
		d.mu.Unlock()
		return 0, miss("absent")
	}
	// Not indexed before the rebuild is done: the file may be there; look.
	op := d.beginLocked(now)
	d.mu.Unlock()

	var err error
	if ob == nil {
		ob, err = openBlockFile(t.fs, d.blockPath(h), key, h)
		if err == nil && e != nil {
			// Cache it only if the entry it was opened for is still the
			// index's: a Delete or eviction in between dropped the entry,
			// and the file opened may be the one it unlinked. A file that
			// is not cached is closed on release.
			var evicted *openBlock
			d.mu.Lock()
			if d.idx.get(h) == e {
				_, evicted = d.fds.add(ob)
			}
			d.mu.Unlock()
			closeFiles(evicted)
		}
	}
	if mapNow {
		// The reader holds ob, so it cannot be closed (and unmapped)
		// before the mapping is recorded.
		mm := ob.mapFile()
		d.mu.Lock()
		ob.m, m = mm, mm
		d.mu.Unlock()
	}
	n := 0
	if err == nil {
		n, err = ob.readAt(p, off, m)
	}

	// End the operation and give back the file; a file that failed in
	// any way is dropped from the cache.
	end := t.clock.Now()
	d.mu.Lock()
	start, timed := d.inflight[op]
	delete(d.inflight, op)
	var done [2]*openBlock
	if ob != nil {
		if err != nil && err != io.EOF && d.fds.m[h] == ob {
			done[0] = d.fds.drop(h)
		}
		done[1] = d.fds.release(ob)
	}
	d.mu.Unlock()
	closeFiles(done[:]...)
	if timed && end.Sub(start) > t.cfg.IOTimeout {
		t.ioError(d, fmt.Errorf("%w (%v)", errTimeout, end.Sub(start)))
	}

	switch {
	case err == nil || err == io.EOF:
		if e == nil {
			d.mu.Lock()
			if d.idx.get(h) == nil && !d.moving[h] {
				d.idx.add(h, roundUp(ob.size, d.bsize), true)
			}
			d.mu.Unlock()
		}
		return n, err
	case errors.Is(err, fs.ErrNotExist):
		// Removed behind the index's back (or never there).
		var open *openBlock
		if e != nil {
			d.mu.Lock()
			if d.idx.get(h) == e {
				open = d.removeLocked(e)
			}
			d.mu.Unlock()
		}
		closeFiles(open)
		return 0, miss("absent")
	case errors.Is(err, errCorrupt):
		var open *openBlock
		d.mu.Lock()
		cur := d.idx.get(h)
		// Only the index's own file is judged. The file read is not when
		// a Move is rewriting its header (its header names another key
		// for a moment) or when the entry it was read for has gone since
		// (moved away, deleted, evicted, or found damaged by another
		// read): then the read is a plain miss.
		stale := d.moving[h] || (e != nil && cur != e)
		if !stale && cur != nil {
			open = d.removeLocked(cur)
		}
		d.mu.Unlock()
		closeFiles(open)
		if stale {
			return 0, miss("block moved or removed")
		}
		t.corrupt.Add(1)
		path := d.blockPath(h)
		t.log.Warn("tier: disk: damaged block file removed", "path", path)
		t.unlink(d, path)
		return 0, miss("damaged block")
	default:
		t.ioError(d, err)
		return 0, miss("read error")
	}
}

// scratchPool holds piece-sized buffers for the partial pieces at the ends
// of a range.
var scratchPool = sync.Pool{New: func() any { b := make([]byte, pieceSize); return &b }}

// firstRead is how much of a file the first read takes: the header of a
// 4 MiB block under a key of up to ~3.5 KiB (the data of such a block
// starts at 4096 or later, so the read takes no data).
const firstRead = 4096

var headPool = sync.Pool{New: func() any { b := make([]byte, firstRead); return &b }}

// openBlockFile opens the block file in path and verifies its header for
// key. It returns errCorrupt for a file that fails verification, or the
// error of the file system. The openBlock holds one reference (refs 1).
func openBlockFile(fsys fileSystem, path, key string, h keyHash) (*openBlock, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	hdr, err := readHeader(f, key)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &openBlock{f: f, key: key, h: h, hdr: hdr, size: hdr.dataOff + hdr.dataLen, refs: 1}, nil
}

// readHeader reads and verifies the header of an open block file for key.
// The header returned owns its checksums.
func readHeader(f file, key string) (header, error) {
	hb := headPool.Get().(*[]byte)
	defer headPool.Put(hb)
	buf := *hb
	m, err := f.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return header{}, err
	}
	if m < fixedHeader {
		return header{}, errCorrupt
	}
	dataLen, dataOff, err := parseFixed(buf, key)
	if err != nil {
		return header{}, err
	}
	hl := headerLen(len(key), dataLen)
	if hl > int64(m) {
		if m < len(buf) {
			return header{}, errCorrupt // the file ends inside its header
		}
		big := make([]byte, hl)
		copy(big, buf)
		k, err := f.ReadAt(big[m:], int64(m))
		if k < len(big)-m {
			if err == io.EOF {
				return header{}, errCorrupt
			}
			return header{}, err
		}
		buf = big
	}
	hdr, err := parseHeader(buf[:hl], key, dataLen, dataOff)
	if err != nil {
		return header{}, err
	}
	hdr.sums = bytes.Clone(hdr.sums)
	return hdr, nil
}

// readAt reads bytes [off, off+len(p)) of the block's data into p and
// verifies every piece they cover, with the io.ReaderAt contract: from
// m, the file mapped, if not nil, else with pread.
func (ob *openBlock) readAt(p []byte, off int64, m []byte) (int, error) {
	if m != nil {
		if n, err, ok := ob.readMapped(p, off, m); ok {
			return n, err
		}
		// A fault in the mapping: the file shrank under it, or a page
		// could not be read in. pread tells which (errCorrupt for a short
		// file, the I/O error otherwise).
	}
	return ob.readPread(p, off)
}

// readMapped copies the range from the mapped file into p, verifying each
// piece in the same pass (copyPiece): each byte is loaded once, from the
// page cache, and the bytes returned are the bytes checksummed. A piece
// that sticks out of the range is copied whole into scratch, verified,
// and its overlap copied. ok is false after a fault (SIGBUS: a file cut
// short under the mapping, or a read error of its disk), turned into a
// panic by debug.SetPanicOnFault and recovered; p may then hold
// unverified bytes, and the caller reads again with pread.
func (ob *openBlock) readMapped(p []byte, off int64, m []byte) (n int, err error, ok bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, fault := r.(interface{ Addr() uintptr }); !fault {
				panic(r)
			}
			n, err, ok = 0, nil, false
		}
	}()
	hdr := &ob.hdr
	dataLen := hdr.dataLen
	if len(p) == 0 {
		return 0, nil, true
	}
	if off >= dataLen {
		return 0, io.EOF, true
	}
	end := min(off+int64(len(p)), dataLen)
	data := m[hdr.dataOff : hdr.dataOff+dataLen]
	for i := off / pieceSize; i*pieceSize < end; i++ {
		plo, phi := i*pieceSize, min((i+1)*pieceSize, dataLen)
		if plo >= off && phi <= end {
			if copyPiece(p[plo-off:phi-off], data[plo:phi]) != hdr.sum(i) {
				return 0, errCorrupt, true
			}
			continue
		}
		sb := scratchPool.Get().(*[]byte)
		piece := (*sb)[:phi-plo]
		good := copyPiece(piece, data[plo:phi]) == hdr.sum(i)
		if good {
			from, to := max(plo, off), min(phi, end)
			copy(p[from-off:to-off], piece[from-plo:to-plo])
		}
		scratchPool.Put(sb)
		if !good {
			return 0, errCorrupt, true
		}
	}
	n = int(end - off)
	if n < len(p) {
		return n, io.EOF, true
	}
	return n, nil, true
}

// readPread is readAt with pread: pieces wholly inside the range are read
// straight into p with one pread, then verified.
func (ob *openBlock) readPread(p []byte, off int64) (int, error) {
	f, hdr := ob.f, &ob.hdr
	dataLen := hdr.dataLen
	if len(p) == 0 {
		return 0, nil
	}
	if off >= dataLen {
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), dataLen)
	n := int(end - off)

	// Pieces wholly inside [off, end) are read straight into p; a piece
	// that sticks out at either end is read whole into scratch, verified,
	// and its overlap copied.
	first, last := off/pieceSize, (end-1)/pieceSize
	lo, hi := first, last+1 // [lo, hi) are the pieces read directly
	if off%pieceSize != 0 || (end%pieceSize != 0 && end != dataLen && first == last) {
		lo = first + 1
		if err := readPiece(f, hdr, first, p, off, end); err != nil {
			return 0, err
		}
	}
	if hi > lo && end%pieceSize != 0 && end != dataLen {
		hi = last
		if err := readPiece(f, hdr, last, p, off, end); err != nil {
			return 0, err
		}
	}
	if hi > lo {
		dst := p[lo*pieceSize-off : min(hi*pieceSize, dataLen)-off]
		if err := readVerify(f, hdr, lo, hi, dst); err != nil {
			return 0, err
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// readVerify reads pieces [lo, hi) into dst with one pread, then
// verifies them. Measured on a 2-core AMD EPYC (Go 1.26), a hit is a
// pread (~26 GB/s from the page cache) plus CRC32C (~24 GB/s, SSE 4.2,
// three streams), so it runs at about half the speed of a bare pread.
// Two ways to do better were measured and dropped:
//   - Reading and verifying a few pieces at a time, so the checksum runs
//     over bytes still in L1/L2, was slower at every chunk size from
//     32 KiB to 1 MiB: CRC32C is bound by the crc32 instruction, not by
//     memory, and more preads cost more syscalls.
//   - Sharing a large range with a helper goroutine on another core made
//     a 4 MiB read 40% faster when that core was idle, and 30% slower
//     when another program kept it busy (the helper, descheduled in the
//     middle of its share, holds the reader up).
func readVerify(f file, hdr *header, lo, hi int64, dst []byte) error {
	if err := readFull(f, dst, hdr.dataOff+lo*pieceSize); err != nil {
		return err
	}
	if !verifyPieces(hdr, lo, hi, dst) {
		return errCorrupt
	}
	return nil
}

// readPiece reads piece i whole, verifies it and copies its overlap with
// [off, end) into p (which starts at off).
func readPiece(f file, hdr *header, i int64, p []byte, off, end int64) error {
	sb := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(sb)
	plo := i * pieceSize
	phi := min(plo+pieceSize, hdr.dataLen)
	piece := (*sb)[:phi-plo]
	if err := readFull(f, piece, hdr.dataOff+plo); err != nil {
		return err
	}
	if !hdr.verifyPiece(i, piece) {
		return errCorrupt
	}
	from, to := max(plo, off), min(phi, end)
	copy(p[from-off:to-off], piece[from-plo:to-plo])
	return nil
}

// readFull fills b from offset off; a file that ends first is damaged.
func readFull(f file, b []byte, off int64) error {
	n, err := f.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == io.EOF || err == nil {
		return errCorrupt
	}
	return err
}

// verifyPieces checks pieces [lo, hi), read into dst. (Verifying on two
// goroutines was tried: no faster on this 2-core machine.)
func verifyPieces(hdr *header, lo, hi int64, dst []byte) bool {
	for i := lo; i < hi; i++ {
		s := (i - lo) * pieceSize
		if !hdr.verifyPiece(i, dst[s:min(s+pieceSize, int64(len(dst)))]) {
			return false
		}
	}
	return true
}
