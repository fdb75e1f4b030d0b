package s3store

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tierfs/tierfs/objstore"
)

// Scheme is the URL scheme this package registers with
// objstore.DefaultURLMux.
const Scheme = "s3"

func init() {
	if err := objstore.DefaultURLMux().Register(Scheme, objstore.OpenerFunc(OpenURL)); err != nil {
		panic(err)
	}
}

// OpenURL opens a Store from a URL of the form
// s3://bucket/prefix?endpoint=…&region=…&path_style=true; see the package
// documentation. It is the Opener registered for "s3".
func OpenURL(ctx context.Context, u *url.URL) (objstore.Store, error) {
	bucket, prefix, opts, err := parseURL(u)
	if err != nil {
		return nil, err
	}
	opts.Logger = objstore.LoggerFromContext(ctx)
	return New(ctx, bucket, prefix, &opts)
}

// URL query parameters.
const (
	paramEndpoint  = "endpoint"
	paramRegion    = "region"
	paramPathStyle = "path_style"
	paramTimeout   = "header_timeout"
)

// parseURL turns an s3:// URL into New's arguments. It is a pure function
// (no network, no environment), so it can be fuzzed.
func parseURL(u *url.URL) (bucket, prefix string, opts Options, err error) {
	if u.Scheme != Scheme {
		return "", "", Options{}, urlError(u, "scheme %q is not %q", u.Scheme, Scheme)
	}
	if u.User != nil || u.Opaque != "" {
		// objstore.ParseURL rejects these already; a URL built by hand
		// must not slip through either.
		return "", "", Options{}, urlError(u, "want s3://bucket/prefix without user information")
	}
	if u.Fragment != "" || u.RawFragment != "" {
		return "", "", Options{}, urlError(u, "unexpected fragment")
	}
	bucket = u.Host
	if err := checkBucket(bucket); err != nil {
		return "", "", Options{}, urlError(u, "%v", err)
	}
	// The objstore helpers quote the URL in their errors: give them a copy
	// without user information in the endpoint parameter.
	ru := redactedURL(u)
	prefix, err = objstore.RootPrefix(ru)
	if err != nil {
		return "", "", Options{}, err
	}
	if _, err := objstore.Query(ru, paramEndpoint, paramRegion, paramPathStyle, paramTimeout); err != nil {
		return "", "", Options{}, err
	}
	q, err := objstore.Query(u, paramEndpoint, paramRegion, paramPathStyle, paramTimeout)
	if err != nil {
		return "", "", Options{}, urlError(u, "bad query")
	}
	opts.Endpoint = q[paramEndpoint]
	opts.Region = q[paramRegion]
	if v, ok := q[paramPathStyle]; ok {
		b, perr := strconv.ParseBool(v)
		if perr != nil {
			return "", "", Options{}, urlError(u, "path_style is not a boolean")
		}
		opts.PathStyle = b
	}
	if v, ok := q[paramTimeout]; ok {
		d, perr := time.ParseDuration(v)
		if perr != nil || d == 0 {
			return "", "", Options{}, urlError(u, "header_timeout is not a duration such as 10s (negative: no bound)")
		}
		opts.HeaderTimeout = d
	}
	if err := opts.checkConnection(); err != nil {
		return "", "", Options{}, urlError(u, "%v", err)
	}
	return bucket, prefix, opts, nil
}

func urlError(u *url.URL, format string, args ...any) error {
	return fmt.Errorf("objstore: s3: open %s: %w: %s", redact(u), fs.ErrInvalid, fmt.Sprintf(format, args...))
}

// redact returns u as text fit for an error; see objstore.Redact.
func redact(u *url.URL) string { return objstore.Redact(u) }

// redactedURL returns a copy of u fit for an error; see objstore.RedactURL.
func redactedURL(u *url.URL) *url.URL { return objstore.RedactURL(u) }

// checkBucket applies the S3 rules for general purpose bucket names:
// 3 to 63 characters of lower-case letters, digits, '.' and '-', starting
// and ending with a letter or digit, no "..", not an IPv4 address, and none
// of the prefixes and suffixes S3 reserves.
func checkBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket name %q must be 3 to 63 characters long", b)
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return fmt.Errorf("bucket name %q may hold only a-z, 0-9, '.' and '-'", b)
		}
	}
	if !alnum(b[0]) || !alnum(b[len(b)-1]) {
		return fmt.Errorf("bucket name %q must start and end with a letter or digit", b)
	}
	if strings.Contains(b, "..") {
		return fmt.Errorf("bucket name %q must not contain \"..\"", b)
	}
	if ip := net.ParseIP(b); ip != nil {
		return fmt.Errorf("bucket name %q must not be an IP address", b)
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(b, p) {
			return fmt.Errorf("bucket name %q must not start with %q", b, p)
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(b, s) {
			return fmt.Errorf("bucket name %q must not end with %q", b, s)
		}
	}
	return nil
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// checkEndpoint accepts an absolute http or https URL with a host, no user
// information, query or fragment.
func checkEndpoint(ep string) error {
	u, err := url.Parse(ep)
	if err != nil {
		// url.Error quotes the input, which holds no secret (user
		// information is rejected below, but a parse failure could still
		// carry it): report without the text.
		return fmt.Errorf("endpoint is not a URL")
	}
	if u.User != nil {
		return fmt.Errorf("endpoint must not hold user information; credentials come from the SDK's default chain")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("endpoint must be an http or https URL")
	}
	if u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("endpoint has no host")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return fmt.Errorf("endpoint must not have a query or fragment")
	}
	if h := u.Hostname(); h == "" {
		return fmt.Errorf("endpoint has no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("endpoint has a bad port")
		}
	}
	return nil
}

// checkRegion accepts region names such as "us-east-1" or "auto":
// lower-case letters, digits and '-', at most 64 characters.
func checkRegion(r string) error {
	if len(r) > 64 {
		return fmt.Errorf("region is too long")
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("region may hold only a-z, 0-9 and '-'")
		}
	}
	return nil
}
