package disk

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"sync"
)

// readPending serves a block that Put accepted and no worker has written
// yet, from the caller's own bytes. ok is false when key is not pending.
func (t *Tier) readPending(key string, p []byte, off int64) (n int, err error, ok bool) {
	t.pmu.Lock()
	f := t.pending[key]
	t.pmu.Unlock()
	if f == nil {
		return 0, nil, false
	}
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

// readDisk reads a block from its file. Every failure is a miss: absent,
// sick directory, damaged file (removed and counted) or I/O error (the
// directory turns sick).
func (t *Tier) readDisk(key string, p []byte, off int64) (int, error) {
	h := hashKey(key)
	d := t.dirFor(h)
	d.mu.Lock()
	if d.sick {
		d.mu.Unlock()
		return 0, miss("directory unhealthy")
	}
	e := d.idx.get(h)
	if e != nil {
		d.idx.touch(e)
	} else if d.rebuilt.Load() {
		d.mu.Unlock()
		return 0, miss("absent")
	}
	// Not indexed before the rebuild is done: the file may be there; look.
	op := d.beginLocked(t.clock.Now())
	d.mu.Unlock()

	path := d.blockPath(h)
	n, size, err := readFile(t.fs, path, key, p, off)
	t.endOp(d, op)
	switch {
	case err == nil || err == io.EOF:
		if e == nil {
			d.mu.Lock()
			if d.idx.get(h) == nil {
				d.idx.add(h, roundUp(size, d.bsize), true)
			}
			d.mu.Unlock()
		}
		return n, err
	case errors.Is(err, fs.ErrNotExist):
		// Removed behind the index's back (or never there).
		if e != nil {
			d.mu.Lock()
			if d.idx.get(h) == e {
				d.idx.remove(e)
			}
			d.mu.Unlock()
		}
		return 0, miss("absent")
	case errors.Is(err, errCorrupt):
		t.corrupt.Add(1)
		t.log.Warn("tier: disk: damaged block file removed", "path", path)
		d.mu.Lock()
		if cur := d.idx.get(h); cur != nil {
			d.idx.remove(cur)
		}
		d.mu.Unlock()
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
// 4 MiB block under a key of up to ~3 KiB.
const firstRead = 4096

var headPool = sync.Pool{New: func() any { b := make([]byte, firstRead); return &b }}

// readFile reads bytes [off, off+len(p)) of the block in path into p and
// verifies them. It returns the file's size as the header gives it (for
// the index), errCorrupt for a file that fails verification, or the
// error of the file system.
func readFile(fsys fileSystem, path, key string, p []byte, off int64) (int, int64, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()

	hb := headPool.Get().(*[]byte)
	defer headPool.Put(hb)
	buf := *hb
	m, err := f.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return 0, 0, err
	}
	if m < fixedHeader {
		return 0, 0, errCorrupt
	}
	dataLen, err := parseFixed(buf, key)
	if err != nil {
		return 0, 0, err
	}
	hl := headerLen(len(key), dataLen)
	if hl > int64(m) {
		if m < len(buf) {
			return 0, 0, errCorrupt // the file ends inside its header
		}
		big := make([]byte, hl)
		copy(big, buf)
		k, err := f.ReadAt(big[m:], int64(m))
		if k < len(big)-m {
			if err == io.EOF {
				return 0, 0, errCorrupt
			}
			return 0, 0, err
		}
		buf = big
	}
	hdr, err := parseHeader(buf[:hl], key, dataLen)
	if err != nil {
		return 0, 0, err
	}
	size := hl + dataLen
	if len(p) == 0 {
		return 0, size, nil
	}
	if off >= dataLen {
		return 0, size, io.EOF
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
		if err := readPiece(f, &hdr, first, p, off, end); err != nil {
			return 0, 0, err
		}
	}
	if hi > lo && end%pieceSize != 0 && end != dataLen {
		hi = last
		if err := readPiece(f, &hdr, last, p, off, end); err != nil {
			return 0, 0, err
		}
	}
	if hi > lo {
		dst := p[lo*pieceSize-off : min(hi*pieceSize, dataLen)-off]
		if err := readFull(f, dst, hdr.hdrLen+lo*pieceSize); err != nil {
			return 0, 0, err
		}
		if !verifyPieces(&hdr, lo, hi, dst) {
			return 0, 0, errCorrupt
		}
	}
	if n < len(p) {
		return n, size, io.EOF
	}
	return n, size, nil
}

// readPiece reads piece i whole, verifies it and copies its overlap with
// [off, end) into p (which starts at off).
func readPiece(f file, hdr *header, i int64, p []byte, off, end int64) error {
	sb := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(sb)
	plo := i * pieceSize
	phi := min(plo+pieceSize, hdr.dataLen)
	piece := (*sb)[:phi-plo]
	if err := readFull(f, piece, hdr.hdrLen+plo); err != nil {
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
