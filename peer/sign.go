package peer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"hash/crc32"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/objstore"
)

// keys are the keys derived from the cluster secret, one per use, so a
// tag of one kind can never pass for another.
type keys struct {
	gossip  []byte // 32 bytes: memberlist's AES-256-GCM key
	request []byte // signs requests
	frame   []byte // tags frames
}

func deriveKeys(secret []byte) keys {
	d := func(label string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte("tierfs peer key\x00" + label))
		return m.Sum(nil)
	}
	return keys{gossip: d("gossip"), request: d("request"), frame: d("frame")}
}

// identity is the canonical encoding of a block's identity: store, key,
// ETag, version id (length-prefixed), object size, block size, index.
// Requests and frames are bound to it.
func identity(storeID string, obj objstore.Object, blockSize, idx int64) []byte {
	b := make([]byte, 0, 64+len(storeID)+len(obj.Key)+len(obj.Version.ETag)+len(obj.Version.ID))
	for _, s := range [...]string{storeID, obj.Key, obj.Version.ETag, obj.Version.ID} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(obj.Size))
	b = binary.BigEndian.AppendUint64(b, uint64(blockSize))
	b = binary.BigEndian.AppendUint64(b, uint64(idx))
	return b
}

func refIdentity(ref cache.BlockRef) []byte {
	return identity(ref.StoreID, ref.Object, ref.BlockSize, ref.Index)
}

// The data plane's path and headers.
const (
	blockPath = "/tierfs/v1/block"
	// secondPath asks for a block as its secondary owner, the primary
	// having failed or been skipped (see Member.loadLocal).
	secondPath = blockPath + "/secondary"
	// cachedPath asks for a range of a block only if the owner holds it
	// (a sparse read, see Member.FetchCached): answered from its tiers,
	// or 404, never by a load.
	cachedPath  = blockPath + "/cached"
	hdrTime     = "Tierfs-Time"
	hdrNonce    = "Tierfs-Nonce"
	hdrSig      = "Tierfs-Signature"
	nonceLen    = 16
	tagLen      = sha256.Size
	frameHeader = 4          // payload length, big-endian
	frameFooter = 4 + tagLen // CRC32C, then the HMAC tag
)

// signRequest returns the signature of a block request: HMAC-SHA256 under
// the request key over the method, the path, the block's identity, the
// first byte asked for, the number of bytes asked for a range request
// (cachedPath; a block request, which asks to the block's end, passes -1
// and has none), the timestamp (Unix nanoseconds) and the nonce. The path
// is signed, so the two layouts cannot pass for each other.
func signRequest(key []byte, method, path string, ident []byte, from, length, ts int64, nonce []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("tierfs request v1\x00"))
	m.Write([]byte(method + "\x00" + path + "\x00"))
	m.Write(binary.BigEndian.AppendUint32(nil, uint32(len(ident))))
	m.Write(ident)
	var n [24]byte
	binary.BigEndian.PutUint64(n[:8], uint64(from))
	i := 8
	if length >= 0 {
		binary.BigEndian.PutUint64(n[i:i+8], uint64(length))
		i += 8
	}
	binary.BigEndian.PutUint64(n[i:i+8], uint64(ts))
	m.Write(n[:i+8])
	m.Write(nonce)
	return m.Sum(nil)
}

func formatTime(ts int64) string { return strconv.FormatInt(ts, 10) }

// nonces remembers the nonces of accepted requests until they are too old
// to pass the clock-skew check, so each signed request is accepted once.
type nonces struct {
	mu      sync.Mutex               // guards seen and sweepAt
	seen    map[[nonceLen]byte]int64 // nonce → the request's timestamp
	sweepAt int
	max     int
}

func newNonces(max int) *nonces {
	return &nonces{seen: make(map[[nonceLen]byte]int64), sweepAt: 1024, max: max}
}

var errReplay = errors.New("peer: request replayed")

// add records nonce, refusing one seen before. now and skew say which
// records are old enough to forget: a request older than skew is refused
// as stale before it gets here.
func (c *nonces) add(nonce [nonceLen]byte, ts, now int64, skew time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.seen[nonce]; ok {
		return errReplay
	}
	if len(c.seen) >= c.sweepAt {
		for n, t := range c.seen {
			if now-t > int64(skew) {
				delete(c.seen, n)
			}
		}
		c.sweepAt = max(1024, 2*len(c.seen))
		if len(c.seen) >= c.max {
			return errors.New("peer: too many requests to remember")
		}
	}
	c.seen[nonce] = ts
	return nil
}

func parseNonce(s string) ([nonceLen]byte, bool) {
	var n [nonceLen]byte
	if len(s) != 2*nonceLen {
		return n, false
	}
	_, err := hex.Decode(n[:], []byte(s))
	return n, err == nil
}

// frameTagger computes frame tags for one response: HMAC-SHA256 under the
// frame key over the request's nonce, the block's identity, the frame's
// offset in the block, its length, its payload and its CRC32C. A frame is
// therefore valid only in the response to that request, for that block,
// at that offset.
type frameTagger struct {
	mac   hash.Hash
	nonce []byte
	ident []byte
}

func newFrameTagger(key, nonce, ident []byte) *frameTagger {
	return &frameTagger{mac: hmac.New(sha256.New, key), nonce: nonce, ident: ident}
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (t *frameTagger) tag(dst []byte, off int64, payload []byte, crc uint32) []byte {
	m := t.mac
	m.Reset()
	m.Write([]byte("tierfs frame v1\x00"))
	m.Write(t.nonce)
	m.Write(binary.BigEndian.AppendUint32(nil, uint32(len(t.ident))))
	m.Write(t.ident)
	var h [16]byte
	binary.BigEndian.PutUint64(h[:8], uint64(off))
	binary.BigEndian.PutUint32(h[8:12], uint32(len(payload)))
	binary.BigEndian.PutUint32(h[12:], crc)
	m.Write(h[:])
	m.Write(payload)
	return m.Sum(dst)
}

// writeFrame writes payload, the bytes of the block at off, as one frame:
// its length, the payload, its CRC32C and its tag. buf is scratch space of
// at least frameHeader+frameFooter bytes.
func (t *frameTagger) writeFrame(w io.Writer, off int64, payload []byte) error {
	var hdr [frameHeader]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(payload)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	if _, err := w.Write(payload); err != nil {
		return err
	}
	crc := crc32.Checksum(payload, castagnoli)
	foot := binary.BigEndian.AppendUint32(make([]byte, 0, frameFooter), crc)
	foot = t.tag(foot, off, payload, crc)
	_, err := w.Write(foot)
	return err
}

// errFrame means a frame failed verification: the peer sent bad bytes.
var errFrame = errors.New("peer: frame failed verification")

// readFrame reads the frame for the bytes at off into dst (which has room
// for the rest of the block) and verifies it; it returns the payload's
// length. Nothing is announced to readers until this returns: the caller
// then calls progress.
func (t *frameTagger) readFrame(r io.Reader, off int64, dst []byte, maxFrame int) (int, error) {
	var hdr [frameHeader]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:]))
	if n == 0 || n > maxFrame || n > len(dst) {
		return 0, errFrame
	}
	if _, err := io.ReadFull(r, dst[:n]); err != nil {
		return 0, unexpected(err)
	}
	var foot [frameFooter]byte
	if _, err := io.ReadFull(r, foot[:]); err != nil {
		return 0, unexpected(err)
	}
	crc := binary.BigEndian.Uint32(foot[:4])
	if crc32.Checksum(dst[:n], castagnoli) != crc {
		return 0, errFrame
	}
	var tag [tagLen]byte
	if !hmac.Equal(t.tag(tag[:0], off, dst[:n], crc), foot[4:]) {
		return 0, errFrame
	}
	return n, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
