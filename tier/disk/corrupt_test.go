package disk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/tierfs/tierfs/tier"
	"github.com/tierfs/tierfs/tier/tiertest"
)

func testKey(i int) string  { return fmt.Sprintf("obj/etag-%d/block/%d", i%7, i) }
func testSize(i int) int    { return 20_000 + (i*7919)%300_000 }
func testData(i int) []byte { return tiertest.Block(testKey(i), testSize(i)) }

func TestCorruption(t *testing.T) {
	dir := t.TempDir()
	cfg := tier.DiskConfig{Dirs: []string{dir}, Quota: 1 << 30, MinFreeRatio: -1, FillQueue: 100}
	tr := openTier(t, cfg, nil)
	const n = 40
	for i := range n {
		if err := tr.Put(t.Context(), testKey(i), testData(i)); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, tr)
	if st := tr.Stats(); st.Blocks != n {
		t.Fatalf("%d blocks stored, want %d", st.Blocks, n)
	}
	path := func(i int) string { return tr.dirs[0].blockPath(hashKey(testKey(i))) }
	hdr := func(i int) int64 { return dataOffset(headerLen(len(testKey(i)), int64(testSize(i)))) } // where the data starts

	// 0: one byte of data flipped, in its third piece.
	f, err := os.OpenFile(path(0), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	off := hdr(0) + int64(testSize(0))/2
	f.ReadAt(b, off)
	b[0] ^= 0x40
	f.WriteAt(b, off)
	f.Close()
	// 1: truncated in the middle of its data.
	if err := os.Truncate(path(1), hdr(1)+int64(testSize(1))/2); err != nil {
		t.Fatal(err)
	}
	// 2: header zeroed.
	f, err = os.OpenFile(path(2), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(make([]byte, 64), 0)
	f.Close()
	// 3 and 4: files swapped.
	tmp := path(3) + ".swap"
	for _, r := range [][2]string{{path(3), tmp}, {path(4), path(3)}, {tmp, path(4)}} {
		if err := os.Rename(r[0], r[1]); err != nil {
			t.Fatal(err)
		}
	}
	damaged := map[int]bool{0: true, 1: true, 2: true, 3: true, 4: true}

	datas := make([][]byte, n)
	for i := range n {
		datas[i] = testData(i)
	}
	r := rand.New(rand.NewPCG(3, 4))
	var wrong, misses, hits int
	for range 10_000 {
		i := r.IntN(n)
		size := testSize(i)
		off := r.IntN(size + 1)
		p := make([]byte, r.IntN(size-off+100))
		got, err := tr.ReadAt(t.Context(), testKey(i), p, int64(off))
		switch {
		case errors.Is(err, tier.ErrMiss):
			misses++
			if !damaged[i] {
				t.Fatalf("miss on intact block %d: %v", i, err)
			}
			if got != 0 {
				t.Fatalf("miss with %d bytes", got)
			}
			continue
		case err != nil && err != io.EOF:
			t.Fatalf("ReadAt(%d, off %d, len %d): %v", i, off, len(p), err)
		}
		hits++
		want := datas[i][off:]
		if len(want) > len(p) {
			want = want[:len(p)]
		}
		if !bytes.Equal(p[:got], want) || (got < len(p)) != (err == io.EOF) {
			wrong++
		}
	}
	if wrong != 0 {
		t.Fatalf("%d reads returned wrong bytes", wrong)
	}
	// Every damaged block is detected by a read covering the damage (a
	// whole read covers it for sure).
	for i := range damaged {
		if _, err := tr.ReadAt(t.Context(), testKey(i), make([]byte, testSize(i)), 0); !errors.Is(err, tier.ErrMiss) {
			t.Errorf("whole read of damaged block %d: %v, want a miss", i, err)
		}
		if _, err := os.Stat(path(i)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("damaged block %d still on disk: %v", i, err)
		}
	}
	st := tr.Stats()
	if st.Corrupt != int64(len(damaged)) {
		t.Errorf("Stats.Corrupt = %d, want %d", st.Corrupt, len(damaged))
	}
	if st.Blocks != n-int64(len(damaged)) {
		t.Errorf("Stats.Blocks = %d, want %d", st.Blocks, n-len(damaged))
	}
	t.Logf("%d hits, %d misses, %+v", hits, misses, st)
}
