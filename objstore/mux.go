package objstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Opener opens a Store from a parsed URL. Backends provide one per scheme.
type Opener interface {
	OpenStoreURL(ctx context.Context, u *url.URL) (Store, error)
}

// OpenerFunc adapts a function to an Opener.
type OpenerFunc func(ctx context.Context, u *url.URL) (Store, error)

// OpenStoreURL calls f.
func (f OpenerFunc) OpenStoreURL(ctx context.Context, u *url.URL) (Store, error) { return f(ctx, u) }

// URLMux maps URL schemes to Openers. The zero value is an empty mux ready
// to use; it is safe for concurrent use.
type URLMux struct {
	mu      sync.RWMutex // guards openers
	openers map[string]Opener
}

// Register adds o for scheme. Registering a scheme twice is an error.
func (m *URLMux) Register(scheme string, o Opener) error {
	scheme = strings.ToLower(scheme)
	if scheme == "" || o == nil {
		return fmt.Errorf("objstore: register %q: %w: empty scheme or nil opener", scheme, fs.ErrInvalid)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.openers[scheme]; dup {
		return fmt.Errorf("objstore: register %q: %w: scheme already registered", scheme, fs.ErrExist)
	}
	if m.openers == nil {
		m.openers = make(map[string]Opener)
	}
	m.openers[scheme] = o
	return nil
}

// Schemes returns the registered schemes, sorted.
func (m *URLMux) Schemes() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s := make([]string, 0, len(m.openers))
	for k := range m.openers {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}

// Open parses rawURL and opens a Store with the Opener of its scheme. A
// malformed URL or an unknown scheme is an error wrapping fs.ErrInvalid.
func (m *URLMux) Open(ctx context.Context, rawURL string) (Store, error) {
	u, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	m.mu.RLock()
	o := m.openers[u.Scheme]
	m.mu.RUnlock()
	if o == nil {
		hint := ""
		if pkg, ok := backends[u.Scheme]; ok {
			hint = fmt.Sprintf("; import _ %q (or github.com/tierfs/tierfs/all) to register it", pkg)
		}
		return nil, fmt.Errorf("objstore: open %s: %w: unknown scheme %q (registered: %s)%s",
			Redact(u), fs.ErrInvalid, u.Scheme, strings.Join(m.Schemes(), ", "), hint)
	}
	return o.OpenStoreURL(ctx, u)
}

// backends are the packages of this module that register each scheme,
// named in the error for a scheme not registered.
var backends = map[string]string{
	"s3":   "github.com/tierfs/tierfs/objstore/s3store",
	"oss":  "github.com/tierfs/tierfs/objstore/ossstore",
	"file": "github.com/tierfs/tierfs/objstore/filestore",
	"mem":  "github.com/tierfs/tierfs/objstore/memstore",
}

// ParseURL parses a store URL. It requires a scheme, rejects user
// information (credentials never go in URLs: they would reach logs), and
// lower-cases the scheme.
func ParseURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the whole URL, credentials and all: keep only
		// the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("objstore: open: %w: malformed URL: %w", fs.ErrInvalid, err)
	}
	if u.Scheme == "" {
		return nil, fmt.Errorf("objstore: open %s: %w: missing scheme, want e.g. s3://bucket/prefix", Redact(u), fs.ErrInvalid)
	}
	if u.Opaque != "" {
		return nil, fmt.Errorf("objstore: open %s: %w: want scheme://bucket/prefix", Redact(u), fs.ErrInvalid)
	}
	if u.User != nil {
		return nil, fmt.Errorf("objstore: open %s: %w: credentials in the URL are not accepted; use the environment or the SDK's credential chain", Redact(u), fs.ErrInvalid)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	return u, nil
}

// Redact returns u as text fit for errors and logs: no user
// information, no fragment, and no query value that could hold a secret.
// Only the values of parameters known to hold none are kept (region,
// path_style and the timeouts); an endpoint keeps its scheme, host and
// path, without user information or query (a presigned URL's
// X-Amz-Signature); every other value, known or not (a misplaced
// aws_secret_access_key=, token= or password=), reads REDACTED.
func Redact(u *url.URL) string { return RedactURL(u).String() }

// RedactURL is [Redact] returning a copy of u. It keeps every parameter
// name, each as often, so a redacted URL can still be checked for unknown
// or repeated parameters.
func RedactURL(u *url.URL) *url.URL {
	c := *u
	c.User = nil
	c.Fragment, c.RawFragment = "", ""
	if c.RawQuery == "" {
		return &c
	}
	// Pairs that do not parse are left out, as url.URL.Query leaves them.
	q, _ := url.ParseQuery(c.RawQuery)
	for k, vs := range q {
		for i, v := range vs {
			vs[i] = redactValue(k, v)
		}
	}
	c.RawQuery = q.Encode()
	return &c
}

// safeParams are the query parameters whose values hold no secret.
var safeParams = map[string]func(string) bool{
	"region":         regexp.MustCompile(`^[a-z0-9-]{1,64}$`).MatchString,
	"path_style":     func(v string) bool { _, err := strconv.ParseBool(v); return err == nil },
	"header_timeout": func(v string) bool { _, err := time.ParseDuration(v); return err == nil },
}

const redacted = "REDACTED"

func redactValue(k, v string) string {
	switch {
	case safeParams[k] != nil:
		// Only a value of the right form: a secret pasted in the wrong
		// place is hidden there too.
		if !safeParams[k](v) {
			return redacted
		}
		return v
	case k == "endpoint":
		e, err := url.Parse(v)
		if err != nil || e.Opaque != "" {
			return redacted
		}
		e.User, e.RawQuery, e.ForceQuery = nil, "", false
		e.Fragment, e.RawFragment = "", ""
		return e.String()
	}
	return redacted
}

// RootPrefix turns the path of a store URL into a key prefix: "" or a
// valid key followed by "/". Empty elements from repeated or trailing
// slashes are rejected, so a prefix names one place.
func RootPrefix(u *url.URL) (string, error) {
	p := strings.TrimPrefix(u.Path, "/")
	if p == "" {
		return "", nil
	}
	p = strings.TrimSuffix(p, "/")
	if !ValidKey(p) {
		return "", fmt.Errorf("objstore: open %s: %w: bad prefix %q", Redact(u), fs.ErrInvalid, p)
	}
	return p + "/", nil
}

// Query checks that q holds only the named parameters, each at most once,
// and returns their values ("" when absent). Unknown parameters are an
// error: a misspelt option must not be ignored.
func Query(u *url.URL, names ...string) (map[string]string, error) {
	q := u.Query()
	out := make(map[string]string, len(names))
	for k, vs := range q {
		if !slices.Contains(names, k) {
			return nil, fmt.Errorf("objstore: open %s: %w: unknown parameter %q (known: %s)", Redact(u), fs.ErrInvalid, k, strings.Join(names, ", "))
		}
		if len(vs) > 1 {
			return nil, fmt.Errorf("objstore: open %s: %w: parameter %q given %d times", Redact(u), fs.ErrInvalid, k, len(vs))
		}
		out[k] = vs[0]
	}
	return out, nil
}

var defaultMux URLMux

// DefaultURLMux returns the mux that backend packages register their
// schemes with when imported ("s3", "oss", "file", "mem"), and that [Open]
// uses. Programs that want another set build their own URLMux.
func DefaultURLMux() *URLMux { return &defaultMux }

// Open opens a Store on the default mux; see [URLMux.Open]. Import the
// backends to be used, or the root tierfs package, which imports all.
func Open(ctx context.Context, rawURL string) (Store, error) {
	return defaultMux.Open(ctx, rawURL)
}
