package memstore

import (
	"context"
	"io/fs"
	"slices"
	"strings"

	"github.com/tierfs/tierfs/objstore"
)

// DefaultMaxKeys is the page size of List when ListOptions.MaxKeys is 0,
// as in S3.
const DefaultMaxKeys = 1000

// List returns one page of the keys under opts.Prefix in byte-wise lexical
// order, as S3 pages them: common prefixes count toward MaxKeys, and
// ListPage.Next is the last key or common prefix of the page (an opaque
// token to callers), set only when more entries follow.
func (s *Store) List(ctx context.Context, opts objstore.ListOptions) (objstore.ListPage, error) {
	if !objstore.ValidPrefix(opts.Prefix) {
		return objstore.ListPage{}, newErr(OpList, opts.Prefix, fs.ErrInvalid, "invalid prefix")
	}
	if opts.MaxKeys < 0 {
		return objstore.ListPage{}, newErr(OpList, opts.Prefix, fs.ErrInvalid, "negative MaxKeys %d", opts.MaxKeys)
	}
	if err := s.inst.request(ctx, OpList, opts.Prefix); err != nil {
		return objstore.ListPage{}, err
	}
	maxKeys := opts.MaxKeys
	if maxKeys == 0 {
		maxKeys = DefaultMaxKeys
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	var page objstore.ListPage
	n := 0
	// Start at the first key after both the prefix and the token.
	start, _ := slices.BinarySearch(s.keys, opts.Prefix)
	if opts.Token != "" {
		i, found := slices.BinarySearch(s.keys, opts.Token)
		if found {
			i++
		}
		start = max(start, i)
	}
	for i := start; i < len(s.keys); i++ {
		key := s.keys[i]
		if !strings.HasPrefix(key, opts.Prefix) {
			break // keys are sorted: none further has the prefix
		}
		entry, isPrefix := key, false
		if opts.Delimiter != "" {
			if j := strings.Index(key[len(opts.Prefix):], opts.Delimiter); j >= 0 {
				entry, isPrefix = key[:len(opts.Prefix)+j+len(opts.Delimiter)], true
			}
		}
		// A token that is a common prefix skips the keys under it.
		if entry <= opts.Token || (isPrefix && len(page.Prefixes) > 0 && page.Prefixes[len(page.Prefixes)-1] == entry) {
			continue
		}
		if n == maxKeys {
			page.Next = last(page)
			break
		}
		n++
		if isPrefix {
			page.Prefixes = append(page.Prefixes, entry)
		} else {
			page.Objects = append(page.Objects, s.objects[key].attrs())
		}
	}
	return page, nil
}

// last returns the greatest entry of a non-empty page.
func last(page objstore.ListPage) string {
	var k, p string
	if len(page.Objects) > 0 {
		k = page.Objects[len(page.Objects)-1].Key
	}
	if len(page.Prefixes) > 0 {
		p = page.Prefixes[len(page.Prefixes)-1]
	}
	return max(k, p)
}
