package peer

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math"
)

// metaVersion is the first byte of a member's metadata; a member ignores
// metadata of another version (it is not in the view).
const metaVersion = 1

// meta is what a member advertises in memberlist's node metadata: enough
// to decide ownership and to dial its block server. The store identity is
// carried as a hash, so a long store URL never pushes the metadata past
// memberlist's 512 bytes.
type meta struct {
	DataAddr  string
	Zone      string
	Weight    float64
	Store     [16]byte // storeHash(StoreID)
	BlockSize int64
}

func storeHash(id string) [16]byte {
	s := sha256.Sum256([]byte("tierfs store\x00" + id))
	var h [16]byte
	copy(h[:], s[:])
	return h
}

// encode lays meta out as: version, data address and zone (uvarint length
// and bytes each), weight (float64 bits, big-endian), store hash, block
// size (uvarint).
func (m meta) encode() []byte {
	b := make([]byte, 0, 48+len(m.DataAddr)+len(m.Zone))
	b = append(b, metaVersion)
	b = binary.AppendUvarint(b, uint64(len(m.DataAddr)))
	b = append(b, m.DataAddr...)
	b = binary.AppendUvarint(b, uint64(len(m.Zone)))
	b = append(b, m.Zone...)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(m.Weight))
	b = append(b, m.Store[:]...)
	b = binary.AppendUvarint(b, uint64(m.BlockSize))
	return b
}

var errMeta = errors.New("peer: malformed node metadata")

func decodeMeta(b []byte) (meta, error) {
	var m meta
	if len(b) < 1 || b[0] != metaVersion {
		return m, errMeta
	}
	orig := b
	b = b[1:]
	str := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return "", false
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, true
	}
	var ok bool
	if m.DataAddr, ok = str(); !ok {
		return m, errMeta
	}
	if m.Zone, ok = str(); !ok {
		return m, errMeta
	}
	if len(b) < 8+16 {
		return m, errMeta
	}
	m.Weight = math.Float64frombits(binary.BigEndian.Uint64(b))
	copy(m.Store[:], b[8:24])
	b = b[24:]
	bs, k := binary.Uvarint(b)
	if k <= 0 || k != len(b) || bs == 0 || bs > math.MaxInt64 {
		return m, errMeta
	}
	m.BlockSize = int64(bs)
	if !(m.Weight > 0 && m.Weight <= 1000) || m.DataAddr == "" {
		return m, errMeta
	}
	if !bytes.Equal(m.encode(), orig) { // a length not in its shortest form
		return m, errMeta
	}
	return m, nil
}
