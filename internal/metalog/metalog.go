// Package metalog keeps the metadata cache of an FS (a consistency.Meta)
// in a file beside its disk tier, so that a restart on the same cache
// directory finds names, versions, sizes and listings without asking the
// store.
//
// # Format
//
// A file starts with a magic line, then framed records: a little-endian
// uint32 payload length, a uint32 CRC-32C of the payload, the payload.
// The first record names the store; a file of another store, or whose
// magic or first record is damaged, is ignored (a cold start). Reading
// stops at the first record that is torn or fails its checksum: the
// records before it stand. Lengths are checked against the bytes left
// before anything is allocated.
//
// # Crash safety and size
//
// Changes are appended one record at a time (no fsync: a crash may lose
// the last ones, which are then asked of the store again). When the file
// has grown to twice its size after the last rewrite (plus 1 MiB), or on a
// Clear, it is rewritten from the Meta's state: to a temporary file in the
// same directory, synced, then renamed over the old one, so a crash
// leaves one or the other whole. Its size is thus bounded by a small
// multiple of the Meta's, which is bounded itself.
package metalog

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/tierfs/tierfs/consistency"
)

// magic starts every file; the digit is the format's version.
const magic = "tierfs-meta 1\n"

// maxRecord bounds one record's payload; a larger one (a listing of
// millions of names) is not kept.
const maxRecord = 256 << 20

// Dir is the directory, inside a cache directory, that holds the files.
const Dir = "meta"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Path returns the file that holds storeID's metadata in the cache
// directory dir: named by a hash of the identity, so stores sharing a
// directory never share a file, and an identity (a redacted URL) never
// becomes a path.
func Path(dir, storeID string) string {
	sum := sha256.Sum256([]byte(storeID))
	return filepath.Join(dir, Dir, hex.EncodeToString(sum[:16]))
}

// Load returns the records of the file at path if it holds storeID's
// metadata. A missing file gives none and no error. A file of another
// store or with a damaged start gives none and an error saying why; a
// damaged record later gives the records before it and an error.
func Load(path, storeID string) ([]consistency.Record, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("metalog: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("metalog: %w", err)
	}
	left := st.Size()
	br := bufio.NewReaderSize(f, 64<<10)
	head := make([]byte, len(magic))
	if _, err := io.ReadFull(br, head); err != nil || string(head) != magic {
		return nil, fmt.Errorf("metalog: %s: %w: no magic", path, errCorrupt)
	}
	left -= int64(len(magic))
	var out []consistency.Record
	for n := 0; ; n++ {
		var frame [8]byte
		if _, err := io.ReadFull(br, frame[:]); err != nil {
			if err == io.EOF {
				if n == 0 {
					return nil, fmt.Errorf("metalog: %s: %w: no header", path, errCorrupt)
				}
				return out, nil
			}
			return out, fmt.Errorf("metalog: %s: record %d: torn: %w", path, n, errCorrupt)
		}
		left -= 8
		size, sum := binary.LittleEndian.Uint32(frame[:4]), binary.LittleEndian.Uint32(frame[4:])
		if int64(size) > left || size > maxRecord {
			return out, fmt.Errorf("metalog: %s: record %d: length %d with %d bytes left: %w", path, n, size, left, errCorrupt)
		}
		payload := make([]byte, size)
		if _, err := io.ReadFull(br, payload); err != nil {
			return out, fmt.Errorf("metalog: %s: record %d: %w", path, n, err)
		}
		left -= int64(size)
		if crc32.Checksum(payload, castagnoli) != sum {
			return out, fmt.Errorf("metalog: %s: record %d: checksum mismatch: %w", path, n, errCorrupt)
		}
		r, err := decode(payload)
		if err != nil {
			return out, fmt.Errorf("metalog: %s: record %d: %w", path, n, err)
		}
		if n == 0 {
			if r.Op != opHeader || r.Name != storeID {
				return nil, fmt.Errorf("metalog: %s: %w: the file is another store's", path, errCorrupt)
			}
			continue
		}
		if r.Op == opHeader {
			return out, fmt.Errorf("metalog: %s: record %d: a second header: %w", path, n, errCorrupt)
		}
		out = append(out, r)
	}
}

// Remove removes the file at path, if any.
func Remove(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("metalog: %w", err)
	}
	return nil
}

// Log is a consistency.Journal writing to a file. It writes nothing until
// its first Rewrite (consistency.Meta.SetJournal gives it one). After an
// I/O error it removes its file and drops every later record: the next
// process starts cold. Log is safe for concurrent use.
type Log struct {
	path, storeID string
	log           *slog.Logger

	mu     sync.Mutex // guards the fields below
	f      *os.File   // open for appending; nil before the first Rewrite
	buf    []byte     // encoding buffer
	size   int64      // bytes in the file
	base   int64      // bytes after the last rewrite
	failed bool
	closed bool
}

var _ consistency.Journal = (*Log)(nil)

// New returns a Log that will write storeID's metadata to path. log
// (non-nil) hears of a failure.
func New(path, storeID string, log *slog.Logger) *Log {
	return &Log{path: path, storeID: storeID, log: log}
}

// frame appends r, framed, to l.buf; l.mu is held. It reports false for a
// record too large to keep.
func (l *Log) frame(r consistency.Record) bool {
	start := len(l.buf)
	l.buf = append(l.buf, make([]byte, 8)...)
	l.buf = encode(l.buf, r)
	payload := l.buf[start+8:]
	if len(payload) > maxRecord {
		l.buf = l.buf[:start]
		return false
	}
	binary.LittleEndian.PutUint32(l.buf[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(l.buf[start+4:], crc32.Checksum(payload, castagnoli))
	return true
}

// Record appends r to the file.
func (l *Log) Record(r consistency.Record) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil || l.failed || l.closed {
		return false
	}
	if r.Op == consistency.OpClear {
		return true
	}
	l.buf = l.buf[:0]
	if !l.frame(r) {
		// Too large to keep: what the file holds of the name is dropped.
		l.frame(consistency.Record{Op: consistency.OpForget, Name: r.Name})
	}
	n, err := l.f.Write(l.buf)
	l.size += int64(n)
	if err != nil {
		l.fail(err)
		return false
	}
	return l.size > 2*l.base+1<<20
}

// Rewrite replaces the file with records: to a temporary file in the same
// directory, synced, renamed over the old one.
func (l *Log) Rewrite(records []consistency.Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed || l.closed {
		return
	}
	if err := l.rewrite(records); err != nil {
		l.fail(err)
	}
}

func (l *Log) rewrite(records []consistency.Record) error {
	dir := filepath.Dir(l.path)
	// Mkdir, not MkdirAll: a cache directory removed meanwhile is not
	// made again (another tier may own the path by now).
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	tmp, err := os.CreateTemp(dir, "tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	bw := bufio.NewWriterSize(tmp, 256<<10)
	size := int64(len(magic))
	bw.WriteString(magic)
	write := func(r consistency.Record) {
		l.buf = l.buf[:0]
		if l.frame(r) {
			bw.Write(l.buf)
			size += int64(len(l.buf))
		}
	}
	write(consistency.Record{Op: opHeader, Name: l.storeID})
	for _, r := range records {
		write(r)
	}
	err = bw.Flush()
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), l.path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	if l.f != nil {
		l.f.Close()
	}
	l.f, err = os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	l.size, l.base = size, size
	if cap(l.buf) > 1<<20 {
		l.buf = nil
	}
	return nil
}

// fail stops the log after err and removes its file, which may now miss
// changes; l.mu is held.
func (l *Log) fail(err error) {
	l.failed = true
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
	os.Remove(l.path)
	l.log.Warn("tierfs: metadata beside the disk tier not kept", "file", l.path, "err", err)
}

// Close closes the file; later records are dropped. It is idempotent.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("metalog: %w", err)
	}
	return nil
}
