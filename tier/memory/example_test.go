package memory_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/tierfs/tierfs/tier"
	"github.com/tierfs/tierfs/tier/memory"
)

func Example() {
	ctx := context.Background()
	mt, err := memory.New(memory.DefaultConfig(64 << 20))
	if err != nil {
		panic(err)
	}
	defer mt.Close()

	// Put never waits; Wait lets ristretto's admission settle.
	if err := mt.Put(ctx, "obj@v1/0", []byte("hello, block")); err != nil {
		panic(err)
	}
	mt.Wait()

	p := make([]byte, 5)
	n, err := mt.ReadAt(ctx, "obj@v1/0", p, 7)
	fmt.Println(n, err, string(p))

	_, err = mt.ReadAt(ctx, "obj@v2/0", p, 0)
	fmt.Println(errors.Is(err, tier.ErrMiss))

	st := mt.Stats()
	fmt.Println(st.Hits, st.Misses, st.Puts, st.Blocks)
	// Output:
	// 5 <nil> block
	// true
	// 1 1 1 1
}
