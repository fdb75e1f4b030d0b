// Package reqcount counts the requests an objstore backend sends, by
// kind, for objstore.RequestStats: a [Counter] of atomic counts, an
// http.RoundTripper (and an HTTP client wrapper) that feed it from every
// request on the wire, and the classification of S3- and OSS-protocol
// requests by method and URL that both protocols share.
package reqcount

import (
	"sync/atomic"

	"github.com/tierfs/tierfs/objstore"
)

// Kind is the kind of one request, a field of objstore.RequestStats.
type Kind int

// The kinds, as documented on objstore.RequestStats.
const (
	Get Kind = iota
	Head
	List
	Put
	Delete
	Other
	numKinds
)

func (k Kind) String() string {
	switch k {
	case Get:
		return "Get"
	case Head:
		return "Head"
	case List:
		return "List"
	case Put:
		return "Put"
	case Delete:
		return "Delete"
	case Other:
		return "Other"
	}
	return "Kind(?)"
}

// Counter holds the counts of one store. The zero value counts from zero;
// all methods are safe for concurrent use. A Counter must not be copied
// after first use.
type Counter struct {
	n        [numKinds]atomic.Int64
	bytesIn  atomic.Int64
	bytesOut atomic.Int64
}

// Add counts one request of kind k; an unknown kind counts as Other.
func (c *Counter) Add(k Kind) {
	if k < 0 || k >= numKinds {
		k = Other
	}
	c.n[k].Add(1)
}

// AddIn counts n object bytes received.
func (c *Counter) AddIn(n int64) {
	if n > 0 {
		c.bytesIn.Add(n)
	}
}

// AddOut counts n object bytes sent and accepted.
func (c *Counter) AddOut(n int64) {
	if n > 0 {
		c.bytesOut.Add(n)
	}
}

// Stats returns the counts so far. Each field is read atomically, but not
// all of them at one instant: a request in progress may show in one field
// and not yet in another.
func (c *Counter) Stats() objstore.RequestStats {
	return objstore.RequestStats{
		Gets:     c.n[Get].Load(),
		Heads:    c.n[Head].Load(),
		Lists:    c.n[List].Load(),
		Puts:     c.n[Put].Load(),
		Deletes:  c.n[Delete].Load(),
		Other:    c.n[Other].Load(),
		BytesIn:  c.bytesIn.Load(),
		BytesOut: c.bytesOut.Load(),
	}
}
