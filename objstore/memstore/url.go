package memstore

import (
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"sync"

	"github.com/tierfs/tierfs/objstore"
)

// Scheme is the URL scheme of memory stores.
const Scheme = "mem"

func init() {
	if err := objstore.DefaultURLMux().Register(Scheme, new(URLOpener)); err != nil {
		panic(err)
	}
}

// URLOpener opens mem://name URLs. The zero value opens a new, empty Store
// for every URL; [URLOpener.Add] names stores that Open then returns. The
// opener registered with objstore.DefaultURLMux is a zero URLOpener that
// nobody can add to, so the default mux keeps no state between opens;
// a program that wants mem://name to reach a Store it filled registers its
// own URLOpener on its own objstore.URLMux. A URLOpener is safe for
// concurrent use.
type URLOpener struct {
	mu     sync.Mutex        // guards stores
	stores map[string]*Store // by name
}

var _ objstore.Opener = (*URLOpener)(nil)

// Add makes mem://name open s. Adding a name twice is an error wrapping
// fs.ErrExist; an empty name is an error wrapping fs.ErrInvalid.
func (o *URLOpener) Add(name string, s *Store) error {
	if name == "" || s == nil {
		return fmt.Errorf("objstore: mem: add %q: %w: empty name or nil store", name, fs.ErrInvalid)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, dup := o.stores[name]; dup {
		return fmt.Errorf("objstore: mem: add %q: %w: name already added", name, fs.ErrExist)
	}
	if o.stores == nil {
		o.stores = make(map[string]*Store)
	}
	o.stores[name] = s
	return nil
}

// OpenStoreURL opens u, which must be mem://name (or mem:// with no name)
// with no path and no query. A name that was added returns that Store;
// any other name returns a new, empty Store.
func (o *URLOpener) OpenStoreURL(ctx context.Context, u *url.URL) (objstore.Store, error) {
	name, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("objstore: mem: open %s: %w", objstore.Redact(u), err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if s := o.stores[name]; s != nil {
		return s, nil
	}
	return New(), nil
}

// ParseURL checks a mem:// URL and returns the store name it holds. Paths
// (sub-prefixes), query parameters, ports and user information are
// errors wrapping fs.ErrInvalid.
func ParseURL(u *url.URL) (name string, err error) {
	bad := func(why string) error {
		return fmt.Errorf("objstore: mem: open %s: %w: %s; want mem://name", objstore.Redact(u), fs.ErrInvalid, why)
	}
	switch {
	case u.Scheme != Scheme:
		return "", bad(fmt.Sprintf("scheme %q", u.Scheme))
	case u.Opaque != "":
		return "", bad("opaque URL")
	case u.User != nil:
		return "", bad("user information")
	case u.Port() != "":
		return "", bad("port")
	case u.Path != "" || u.RawPath != "":
		return "", bad(fmt.Sprintf("path %q (sub-prefixes are not supported)", u.Path))
	case u.RawQuery != "" || u.ForceQuery:
		return "", bad("query parameters (none are known)")
	case u.Fragment != "":
		return "", bad("fragment")
	}
	return u.Hostname(), nil
}
