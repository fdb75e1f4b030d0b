package metalog

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/tierfs/tierfs/consistency"
	"github.com/tierfs/tierfs/objstore"
)

// errCorrupt marks a record that does not decode.
var errCorrupt = errors.New("metalog: corrupt record")

// Entry kinds in a record.
const (
	kindFile byte = iota
	kindDir
	kindMissing
)

// opHeader is the first record of a file: the store's identity.
const opHeader consistency.Op = 0xff

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	b = append(b, 1)
	return binary.AppendVarint(b, t.UnixNano())
}

func appendObject(b []byte, o objstore.Object) []byte {
	b = appendString(b, o.Key)
	b = binary.AppendVarint(b, o.Size)
	b = appendTime(b, o.ModTime)
	b = appendString(b, o.Version.ETag)
	b = appendString(b, o.Version.ID)
	b = binary.AppendUvarint(b, uint64(len(o.Checksums)))
	for k, v := range o.Checksums {
		b = appendString(b, k)
		b = appendString(b, v)
	}
	return b
}

// encode appends r's payload to b.
func encode(b []byte, r consistency.Record) []byte {
	b = append(b, byte(r.Op))
	b = appendTime(b, r.At)
	b = appendString(b, r.Name)
	switch r.Op {
	case consistency.OpStore:
		switch {
		case r.Entry.Dir:
			b = append(b, kindDir)
		case r.Entry.Missing:
			b = append(b, kindMissing)
		default:
			b = append(b, kindFile)
			b = appendObject(b, r.Entry.Object)
		}
	case consistency.OpList:
		b = binary.AppendUvarint(b, uint64(len(r.List)))
		for _, e := range r.List {
			b = appendString(b, e.Name)
			if e.Dir {
				b = append(b, kindDir)
				continue
			}
			b = append(b, kindFile)
			b = appendObject(b, e.Object)
		}
	}
	return b
}

// decoder reads a payload; the first error sticks, and every length is
// checked against what is left, so a corrupt length allocates nothing.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() { d.err, d.b = errCorrupt, nil }

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a number of items, each at least one byte long.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) time() time.Time {
	switch d.byte() {
	case 0:
		return time.Time{}
	case 1:
		return time.Unix(0, d.varint())
	}
	d.fail()
	return time.Time{}
}

func (d *decoder) object() objstore.Object {
	var o objstore.Object
	o.Key = d.string()
	o.Size = d.varint()
	o.ModTime = d.time()
	o.Version.ETag = d.string()
	o.Version.ID = d.string()
	if n := d.count(); n > 0 {
		o.Checksums = make(map[string]string, n)
		for range n {
			k := d.string()
			o.Checksums[k] = d.string()
		}
	}
	if o.Size < 0 || o.Version.IsZero() {
		d.fail()
	}
	return o
}

// decode decodes one payload.
func decode(b []byte) (consistency.Record, error) {
	d := &decoder{b: b}
	var r consistency.Record
	r.Op = consistency.Op(d.byte())
	r.At = d.time()
	r.Name = d.string()
	switch r.Op {
	case opHeader, consistency.OpForget, consistency.OpClear:
	case consistency.OpStore:
		switch d.byte() {
		case kindFile:
			r.Entry.Object = d.object()
		case kindDir:
			r.Entry.Dir = true
		case kindMissing:
			r.Entry.Missing = true
		default:
			d.fail()
		}
	case consistency.OpList:
		n := d.count()
		if n > 0 {
			r.List = make([]consistency.ListEntry, 0, n)
		}
		for range n {
			e := consistency.ListEntry{Name: d.string()}
			switch d.byte() {
			case kindFile:
				e.Object = d.object()
			case kindDir:
				e.Dir = true
			default:
				d.fail()
			}
			if d.err != nil {
				break
			}
			r.List = append(r.List, e)
		}
	default:
		d.fail()
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	return r, d.err
}
