package consistency

import (
	"fmt"
	"time"
)

// Forever, as a TTL, means "until Refresh" (or Close when the FS keeps no
// metadata beside a disk tier).
const Forever time.Duration = -1

// Policy decides how long metadata is trusted and whether writes are
// allowed. It does no I/O: the FS asks it and does the I/O itself.
// Implementations must be safe for concurrent use; the ones here are
// immutable values.
type Policy interface {
	// AttrTTL is how long a name's metadata (existence, size, version) is
	// trusted before it is asked of the store again: Forever (negative)
	// means until Refresh, zero means every time.
	AttrTTL() time.Duration
	// NegativeTTL is how long a name found missing is remembered, with
	// the same conventions as AttrTTL.
	NegativeTTL() time.Duration
	// Writable reports whether Create and Remove are allowed.
	Writable() bool
	// String names the policy for logs and errors.
	String() string
}

type policy struct {
	name     string
	attr     time.Duration
	negative time.Duration
	writable bool
}

func (p policy) AttrTTL() time.Duration     { return p.attr }
func (p policy) NegativeTTL() time.Duration { return p.negative }
func (p policy) Writable() bool             { return p.writable }
func (p policy) String() string             { return p.name }

// ReadOnly is the policy for a static dataset, and the default: metadata
// and versions, found or missing, and directory listings are cached until
// Refresh (a Warmup refreshes them too) — across restarts when the FS
// keeps its metadata beside a disk tier — and writes are refused with
// fs.ErrPermission.
// An open file reads the version it saw at open whatever happens later.
func ReadOnly() Policy {
	return policy{name: "read-only", attr: Forever, negative: Forever}
}

// TTL is the policy for a dataset that changes on events: metadata is
// revalidated with the store once it is older than attr (directory
// listings too), and a missing name is remembered for negative. Zero means "ask every time"; Forever
// means "until Refresh". Writes are refused. Files opened before
// a change keep reading the version they opened.
func TTL(attr, negative time.Duration) Policy {
	return policy{name: fmt.Sprintf("ttl(attr=%v, negative=%v)", ttlString(attr), ttlString(negative)), attr: norm(attr), negative: norm(negative)}
}

// ReadWrite is the policy for one read-write workspace: Create and Remove
// are allowed, writes go through to the store when the writer is closed,
// and the process reads its own writes at once. Metadata of names not
// written here is revalidated after attr (zero: every time); a missing
// name is not remembered, so a file another process creates appears at
// once.
func ReadWrite(attr time.Duration) Policy {
	return policy{name: fmt.Sprintf("read-write(attr=%v)", ttlString(attr)), attr: norm(attr), negative: 0, writable: true}
}

func norm(d time.Duration) time.Duration {
	if d < 0 {
		return Forever
	}
	return d
}

func ttlString(d time.Duration) string {
	if d < 0 {
		return "forever"
	}
	return d.String()
}
