package peer

import (
	"bytes"
	"testing"

	"github.com/tierfs/tierfs/objstore"
)

// FuzzDecodeMeta: any metadata a member advertises decodes or fails
// without panicking, and what decodes encodes back to the same bytes.
func FuzzDecodeMeta(f *testing.F) {
	f.Add(meta{DataAddr: "127.0.0.1:7947", Zone: "a", Weight: 1, BlockSize: 8 << 20}.encode())
	f.Add([]byte{metaVersion, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			return
		}
		if got := m.encode(); !bytes.Equal(got, b) {
			t.Errorf("decode(%x) = %+v, which encodes to %x", b, m, got)
		}
	})
}

// FuzzReadFrame: no response body makes a client panic or accept a frame
// other than the genuine one.
func FuzzReadFrame(f *testing.F) {
	k := deriveKeys(testSecret)
	nonce := bytes.Repeat([]byte{9}, nonceLen)
	ident := identity(testStore, objstore.Object{Key: "k", Size: 1 << 20, Version: objstore.Version{ETag: "e"}}, testBlock, 2)
	var genuine bytes.Buffer
	payload := []byte("the genuine payload of one frame")
	if err := newFrameTagger(k.frame, nonce, ident).writeFrame(&genuine, 100, payload); err != nil {
		f.Fatal(err)
	}
	f.Add(genuine.Bytes())
	f.Add(genuine.Bytes()[:20])
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, body []byte) {
		dst := make([]byte, 4096)
		n, err := newFrameTagger(k.frame, nonce, ident).readFrame(bytes.NewReader(body), 100, dst, 4096)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(body, genuine.Bytes()) || !bytes.Equal(dst[:n], payload) {
			t.Errorf("accepted a frame that is not the genuine one: %x", body)
		}
	})
}
