package ossstore

import (
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"strconv"
	"time"

	"github.com/tierfs/tierfs/objstore"
)

// Scheme is the URL scheme this package registers with
// objstore.DefaultURLMux.
const Scheme = "oss"

func init() {
	if err := objstore.DefaultURLMux().Register(Scheme, objstore.OpenerFunc(OpenURL)); err != nil {
		panic(err) // a second package registering "oss" is a programming error
	}
}

// OpenURL opens a Store from a URL of the form
//
//	oss://bucket/prefix?endpoint=…&region=…&path_style=true
//
// See the package documentation for the parameters. Credentials come from
// the environment, never from the URL.
func OpenURL(ctx context.Context, u *url.URL) (objstore.Store, error) {
	bucket, prefix, opts, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	opts.Logger = objstore.LoggerFromContext(ctx)
	s, err := New(ctx, bucket, prefix, &opts)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ParseURL splits an oss:// URL into the arguments of New. It sends no
// request and reads no environment. Errors wrap fs.ErrInvalid.
func ParseURL(u *url.URL) (bucket, prefix string, opts Options, err error) {
	safe := redacted(u)
	fail := func(format string, args ...any) (string, string, Options, error) {
		return "", "", Options{}, fmt.Errorf("objstore: oss: open %s: %w: "+format, append([]any{objstore.Redact(safe), fs.ErrInvalid}, args...)...)
	}
	if u.Scheme != Scheme {
		return fail("scheme %q, want %q", u.Scheme, Scheme)
	}
	if u.Opaque != "" {
		return fail("want oss://bucket/prefix")
	}
	if u.User != nil {
		return fail("credentials in the URL are not accepted; set OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET")
	}
	if u.Fragment != "" || u.RawFragment != "" {
		return fail("a fragment has no meaning here")
	}
	if u.Port() != "" || u.Host != u.Hostname() {
		return fail("bucket %q has a port", u.Host)
	}
	if !ValidBucketName(u.Host) {
		return fail("bad bucket name %q: want 3 to 63 lower-case letters, digits and hyphens, not starting or ending with a hyphen", u.Host)
	}
	prefix, err = objstore.RootPrefix(safe)
	if err != nil {
		return "", "", Options{}, err
	}
	// Checked on the redacted copy, whose errors show no credential; it
	// has the same parameters, each as often.
	if _, err := objstore.Query(safe, "endpoint", "region", "path_style", "header_timeout"); err != nil {
		return "", "", Options{}, err
	}
	q := u.Query()
	opts.Endpoint = q.Get("endpoint")
	opts.Region = q.Get("region")
	if v, ok := q["path_style"]; ok {
		v := v[0]
		if opts.PathStyle, err = strconv.ParseBool(v); err != nil {
			return fail("path_style: want true or false")
		}
	}
	if v, ok := q["header_timeout"]; ok {
		d, err := time.ParseDuration(v[0])
		if err != nil || d == 0 {
			return fail("header_timeout: want a duration such as 10s (negative: no bound)")
		}
		opts.HeaderTimeout = d
	}
	if _, err := checkEndpoint(opts.Endpoint); err != nil {
		return fail("bad endpoint: want host[:port] or http(s)://host[:port]")
	}
	if opts.Region != "" && !validRegion(opts.Region) {
		return fail("bad region: want a-z, 0-9 and '-'")
	}
	return u.Host, prefix, opts, nil
}

// redacted returns a copy of u fit for an error; see objstore.RedactURL.
func redacted(u *url.URL) *url.URL { return objstore.RedactURL(u) }
