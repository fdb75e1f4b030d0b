package ossstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/transport"

	"github.com/tierfs/tierfs/internal/reqcount"
	"github.com/tierfs/tierfs/objstore"
)

// Part sizes and defaults.
const (
	// DefaultPartSize is the part size of multipart uploads when
	// Options.PartSize is zero; bodies up to this size go in one PutObject.
	DefaultPartSize int64 = 8 << 20
	// MinPartSize is the smallest part OSS accepts (100 KiB).
	MinPartSize int64 = oss.MinPartSize
	// MaxPartSize is the largest part OSS accepts (5 GiB).
	MaxPartSize int64 = oss.MaxPartSize
	// DefaultConcurrency is the number of parts uploaded at once when
	// Options.Concurrency is zero: five, as s3store uses (see there why).
	DefaultConcurrency = 5
	// maxListKeys is the largest page OSS serves.
	maxListKeys = 1000
)

// Options configure a Store. The zero value is valid when the Region (or
// an OSS endpoint) is given and credentials are in the environment.
type Options struct {
	// Client, if not nil, is used as is: Endpoint, Region, PathStyle and
	// Credentials are then ignored, and Close does not touch the client.
	// Its requests are counted only in part: see "Counting requests" in
	// the package documentation.
	Client *oss.Client

	// Endpoint is the OSS endpoint, a host ("oss-cn-hangzhou.aliyuncs.com",
	// https is implied) or a base URL ("http://127.0.0.1:9000"). Empty
	// means the public endpoint of Region.
	Endpoint string
	// Region is the OSS region ("cn-hangzhou"), which V4 signing needs.
	// Empty means the region named by an endpoint of the form
	// oss-<region>[-internal].aliyuncs.com; otherwise it is required.
	Region string
	// PathStyle sends requests as https://endpoint/bucket/key instead of
	// OSS's virtual-host style https://bucket.endpoint/key. Local test
	// servers need it; an endpoint that is an IP address gets it anyway.
	PathStyle bool
	// Credentials sign requests. Nil means the SDK's environment provider:
	// OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET and OSS_SESSION_TOKEN, read
	// on every request. The SDK has no default chain beyond that; pass
	// credentials.NewEcsRoleCredentialsProvider for an ECS RAM role or
	// credentials.NewAnonymousCredentialsProvider for a public bucket.
	Credentials credentials.CredentialsProvider

	// PartSize is the size of one part of a multipart upload, in bytes;
	// bodies up to PartSize go in one PutObject. Zero means
	// DefaultPartSize (8 MiB); otherwise it must lie in
	// [MinPartSize, MaxPartSize]. A body of known size that would need
	// more than 10,000 parts gets larger parts.
	PartSize int64
	// Concurrency is the number of parts uploaded at once. Zero means
	// DefaultConcurrency.
	Concurrency int
	// HeaderTimeout bounds the wait for the headers of each reply once
	// its request is sent: a server that accepts the connection and never
	// answers fails the request (the SDK retries it) instead of hanging
	// it. Zero means objstore.DefaultHeaderTimeout (30s); negative means
	// no bound. It does not apply to Options.Client.
	HeaderTimeout time.Duration
	// Retry governs how reads resume cut bodies; see objstore.RetryPolicy.
	// The SDK's own retries of failed requests (3 attempts, jittered
	// backoff) stay on beneath it.
	Retry objstore.RetryPolicy
	// Logger receives the SDK's warnings and errors, redacted with
	// objstore.RedactText. Nil means none. The SDK's info and debug
	// levels are never turned on: its debug level prints request headers,
	// STS token included. It does not apply to Client.
	Logger *slog.Logger
}

// Store is an objstore.Store over one OSS bucket and key prefix. It is
// safe for concurrent use.
type Store struct {
	client      *oss.Client
	httpClient  *http.Client // built by New, closed by Close; nil for Options.Client
	bucket      string
	prefix      string // "" or ending in "/"
	partSize    int64
	concurrency int
	retry       objstore.RetryPolicy
	pathStyle   bool                 // Options.PathStyle, for classifying requests
	callOpts    []func(*oss.Options) // applied to every call; counts responses on a caller's client
	counter     reqcount.Counter     // the requests sent; see requests.go
	closed      atomic.Bool
}

var (
	_ objstore.Store          = (*Store)(nil)
	_ objstore.RequestCounter = (*Store)(nil)
	_ io.Closer               = (*Store)(nil)
)

// New returns a Store for bucket, with every key under prefix (empty, or
// a valid key; a trailing "/" is added). Invalid arguments are errors
// wrapping fs.ErrInvalid. New sends no request.
func New(ctx context.Context, bucket, prefix string, opts *Options) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, openError(err)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if !ValidBucketName(bucket) {
		return nil, openError(fmt.Errorf("%w: bad bucket name %q: want 3 to 63 lower-case letters, digits and hyphens, not starting or ending with a hyphen", fs.ErrInvalid, bucket))
	}
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix != "" {
		if !objstore.ValidKey(prefix) {
			return nil, openError(fmt.Errorf("%w: bad prefix %q", fs.ErrInvalid, prefix))
		}
		prefix += "/"
	}
	switch {
	case o.PartSize == 0:
		o.PartSize = DefaultPartSize
	case o.PartSize < MinPartSize || o.PartSize > MaxPartSize:
		return nil, openError(fmt.Errorf("%w: part size %d outside [%d, %d]", fs.ErrInvalid, o.PartSize, MinPartSize, MaxPartSize))
	}
	switch {
	case o.Concurrency == 0:
		o.Concurrency = DefaultConcurrency
	case o.Concurrency < 0:
		return nil, openError(fmt.Errorf("%w: negative concurrency %d", fs.ErrInvalid, o.Concurrency))
	}
	if o.Retry.BaseDelay < 0 || o.Retry.MaxDelay < 0 {
		return nil, openError(fmt.Errorf("%w: negative retry delay", fs.ErrInvalid))
	}
	s := &Store{
		client:      o.Client,
		bucket:      bucket,
		prefix:      prefix,
		partSize:    o.PartSize,
		concurrency: o.Concurrency,
		retry:       o.Retry,
		pathStyle:   o.PathStyle,
	}
	if s.client != nil {
		s.callOpts = []func(*oss.Options){s.countResponses}
		return s, nil
	}
	cfg, hc, err := clientConfig(o)
	if err != nil {
		return nil, openError(err)
	}
	hc.Transport = s.counter.Transport(hc.Transport, s.requestKind)
	s.client, s.httpClient = oss.NewClient(cfg), hc
	return s, nil
}

// clientConfig builds the SDK configuration for o (o.Client is nil).
func clientConfig(o Options) (*oss.Config, *http.Client, error) {
	endpoint, err := checkEndpoint(o.Endpoint)
	if err != nil {
		return nil, nil, err
	}
	region := o.Region
	if region == "" && endpoint != nil {
		region = regionOf(endpoint.Hostname())
	}
	switch {
	case region == "" && endpoint == nil:
		return nil, nil, fmt.Errorf("%w: no region and no endpoint", fs.ErrInvalid)
	case region == "":
		return nil, nil, fmt.Errorf("%w: no region for endpoint %s: V4 signing needs one", fs.ErrInvalid, endpoint.Host)
	case !validRegion(region):
		return nil, nil, fmt.Errorf("%w: bad region %q", fs.ErrInvalid, region)
	}
	creds := o.Credentials
	if creds == nil {
		creds = credentials.NewEnvironmentVariableCredentialsProvider()
	}
	// Our own transport, so that Close can drop its idle connections. Go's
	// transparent gzip is off: an object stored with Content-Encoding gzip
	// must come back as stored bytes, or ranges would not add up.
	hc := transport.NewHttpClient(&transport.Config{}, func(t *http.Transport) {
		t.DisableCompression = true
		t.MaxIdleConnsPerHost = 64
		switch {
		case o.HeaderTimeout == 0:
			t.ResponseHeaderTimeout = objstore.DefaultHeaderTimeout
		case o.HeaderTimeout > 0:
			t.ResponseHeaderTimeout = o.HeaderTimeout
		}
	})
	cfg := oss.NewConfig().
		WithRegion(region).
		WithCredentialsProvider(creds).
		WithUsePathStyle(o.PathStyle)
	cfg.HttpClient = doer{hc}
	if o.Logger != nil {
		l := o.Logger
		cfg = cfg.WithLogLevel(oss.LogWarn).WithLogPrinter(oss.LogPrinterFunc(func(v ...any) {
			l.Warn("ossstore: oss sdk: " + objstore.RedactText(strings.TrimSpace(fmt.Sprint(v...))))
		}))
	}
	if endpoint != nil {
		cfg = cfg.WithEndpoint(endpoint.String())
	}
	return cfg, hc, nil
}

// doer is the HTTP client of a Store that New built. It works around two
// things the SDK does with request bodies:
//
//   - It always gives a request a non-nil body, and net/http sends a PUT
//     whose body has an unknown length (ContentLength 0 and a body)
//     chunked, which servers that require a length refuse (411). A
//     request the SDK marked as empty (a Content-Length header of 0, which
//     putObject sets for an empty object) goes with no body.
//   - It retries a failed request by rewinding the same body, while
//     net/http may still be reading the body of the failed attempt in its
//     connection's write loop (a server that answers 500 or 503 before
//     reading the whole body): a data race on the body, and bytes of one
//     attempt could end up in another. Each attempt here reads the body
//     through a guard that is cut off once Do returns.
type doer struct{ c *http.Client }

func (d doer) Do(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return d.c.Do(req)
	}
	req = req.Clone(req.Context())
	if req.ContentLength == 0 && req.Header.Get("Content-Length") == "0" {
		req.Body, req.GetBody = http.NoBody, nil
		return d.c.Do(req)
	}
	g := &guardedBody{r: req.Body}
	req.Body, req.GetBody = g, nil
	resp, err := d.c.Do(req)
	g.detach()
	return resp, err
}

// guardedBody passes reads on to r until detach is called.
type guardedBody struct {
	mu       sync.Mutex // guards detached and reads of r
	r        io.Reader
	detached bool
}

var errDetached = errors.New("request body no longer in use")

func (g *guardedBody) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.detached {
		return 0, errDetached
	}
	return g.r.Read(p)
}

// Close does nothing: the body belongs to the SDK, which reuses it.
func (g *guardedBody) Close() error { return nil }

// detach ends reads of r; it returns after any Read in progress.
func (g *guardedBody) detach() {
	g.mu.Lock()
	g.detached = true
	g.mu.Unlock()
}

// checkEndpoint parses an endpoint: a host[:port], or an http(s) base URL
// with no path, query or user information. "" gives nil.
func checkEndpoint(e string) (*url.URL, error) {
	if e == "" {
		return nil, nil
	}
	raw := e
	if !strings.Contains(e, "://") {
		raw = "https://" + e
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		// The endpoint is not echoed whole: it might carry user information.
		return nil, fmt.Errorf("%w: bad endpoint: want host[:port] or http(s)://host[:port]", fs.ErrInvalid)
	}
	if port := u.Port(); port != "" {
		if _, err := net.LookupPort("tcp", port); err != nil {
			return nil, fmt.Errorf("%w: bad endpoint port %q", fs.ErrInvalid, port)
		}
	}
	u.Path = ""
	return u, nil
}

var ossHost = regexp.MustCompile(`^oss-([a-z0-9-]+?)(-internal)?\.aliyuncs\.com$`)

// regionOf returns the region named by an OSS endpoint host, or "".
func regionOf(host string) string {
	m := ossHost.FindStringSubmatch(strings.ToLower(host))
	if m == nil || m[1] == "accelerate" || m[1] == "accelerate-overseas" {
		return ""
	}
	return m[1]
}

// validRegion reports whether r looks like an OSS region id.
func validRegion(r string) bool {
	if r == "" || len(r) > 64 {
		return false
	}
	for _, c := range r {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ValidBucketName reports whether name follows the OSS bucket naming
// rules: 3 to 63 characters of lower-case letters, digits and hyphens,
// starting and ending with a letter or digit.
func ValidBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Bucket returns the bucket the store reads.
func (s *Store) Bucket() string { return s.bucket }

// Prefix returns the key prefix of the store's root: "" or ending in "/".
func (s *Store) Prefix() string { return s.prefix }

// As sets *target to the store's *oss.Client when target is a
// **oss.Client, and reports whether it did.
func (s *Store) As(target any) bool {
	if p, ok := target.(**oss.Client); ok {
		*p = s.client
		return true
	}
	return false
}

// Close releases the idle connections of a client New built; a client
// passed in Options.Client is left alone. Readers already open keep
// working; other methods fail with an error wrapping fs.ErrClosed. Close
// may be called more than once.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.httpClient != nil {
		s.httpClient.CloseIdleConnections()
	}
	return nil
}

// fullKey returns the object name of key in the bucket.
func (s *Store) fullKey(key string) string { return s.prefix + key }

// check validates a call: store open, key valid, ctx live.
func (s *Store) check(ctx context.Context, op, key string) error {
	if s.closed.Load() {
		return newError(op, key, fs.ErrClosed, nil)
	}
	if !objstore.ValidKey(key) {
		return newError(op, key, fs.ErrInvalid, errors.New("invalid key"))
	}
	if err := ctx.Err(); err != nil {
		return newError(op, key, nil, err)
	}
	return nil
}

// Stat returns the attributes of key with a HeadObject request.
func (s *Store) Stat(ctx context.Context, key string) (objstore.Object, error) {
	if err := s.check(ctx, "stat", key); err != nil {
		return objstore.Object{}, err
	}
	res, err := s.client.HeadObject(ctx, &oss.HeadObjectRequest{
		Bucket: oss.Ptr(s.bucket),
		Key:    oss.Ptr(s.fullKey(key)),
	}, s.callOpts...)
	if err != nil {
		return objstore.Object{}, mapError("stat", key, err)
	}
	obj := objstore.Object{
		Key:     key,
		Size:    res.ContentLength,
		Version: version(res.ETag, res.VersionId),
	}
	if res.LastModified != nil {
		obj.ModTime = *res.LastModified
	}
	obj.Checksums = checksums(res.HashCRC64)
	if err := checkHead(res.Headers, obj); err != nil {
		return objstore.Object{}, newError("stat", key, objstore.ErrBadResponse, err)
	}
	return obj, nil
}

// Delete removes key with a DeleteObject request; a missing key is not
// an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx, "delete", key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &oss.DeleteObjectRequest{
		Bucket: oss.Ptr(s.bucket),
		Key:    oss.Ptr(s.fullKey(key)),
	}, s.callOpts...)
	if err != nil {
		var se *oss.ServiceError
		if errors.As(err, &se) && se.Code == "NoSuchKey" {
			return nil
		}
		return mapError("delete", key, err)
	}
	return nil
}

// List returns one page of keys with a ListObjectsV2 request. Objects
// whose names are not valid keys (such as the "dir/" markers consoles
// create) cannot be addressed through a Store and are left out.
func (s *Store) List(ctx context.Context, opts objstore.ListOptions) (objstore.ListPage, error) {
	const op = "list"
	if s.closed.Load() {
		return objstore.ListPage{}, newError(op, opts.Prefix, fs.ErrClosed, nil)
	}
	if !objstore.ValidPrefix(opts.Prefix) {
		return objstore.ListPage{}, newError(op, opts.Prefix, fs.ErrInvalid, errors.New("invalid prefix"))
	}
	if opts.MaxKeys < 0 {
		return objstore.ListPage{}, newError(op, opts.Prefix, fs.ErrInvalid, fmt.Errorf("negative MaxKeys %d", opts.MaxKeys))
	}
	if err := ctx.Err(); err != nil {
		return objstore.ListPage{}, newError(op, opts.Prefix, nil, err)
	}
	req := &oss.ListObjectsV2Request{
		Bucket:       oss.Ptr(s.bucket),
		Prefix:       oss.Ptr(s.prefix + opts.Prefix),
		MaxKeys:      int32(min(opts.MaxKeys, maxListKeys)),
		EncodingType: oss.Ptr("url"),
	}
	if opts.Delimiter != "" {
		req.Delimiter = oss.Ptr(opts.Delimiter)
	}
	if opts.Token != "" {
		req.ContinuationToken = oss.Ptr(opts.Token)
	}
	res, err := s.client.ListObjectsV2(ctx, req, s.callOpts...)
	if err != nil {
		return objstore.ListPage{}, mapError(op, opts.Prefix, err)
	}
	var page objstore.ListPage
	for _, c := range res.Contents {
		key, ok := strings.CutPrefix(oss.ToString(c.Key), s.prefix)
		if !ok || !objstore.ValidKey(key) {
			continue
		}
		obj := objstore.Object{Key: key, Size: c.Size, Version: version(c.ETag, nil)}
		if c.LastModified != nil {
			obj.ModTime = *c.LastModified
		}
		page.Objects = append(page.Objects, obj)
	}
	for _, p := range res.CommonPrefixes {
		if cp, ok := strings.CutPrefix(oss.ToString(p.Prefix), s.prefix); ok && cp != "" {
			page.Prefixes = append(page.Prefixes, cp)
		}
	}
	if res.IsTruncated {
		page.Next = oss.ToString(res.NextContinuationToken)
		if page.Next == "" {
			return objstore.ListPage{}, newError(op, opts.Prefix, nil, errors.New("truncated listing without a continuation token"))
		}
	}
	return page, nil
}

// version builds a Version from an ETag (quoted or not) and a version id.
func version(etag, id *string) objstore.Version {
	return objstore.Version{ETag: unquote(oss.ToString(etag)), ID: oss.ToString(id)}
}

func unquote(etag string) string {
	if len(etag) >= 2 && etag[0] == '"' && etag[len(etag)-1] == '"' {
		return etag[1 : len(etag)-1]
	}
	return etag
}

// checksums returns the integrity values OSS reported, or nil.
func checksums(crc64 *string) map[string]string {
	if crc64 == nil || *crc64 == "" {
		return nil
	}
	return map[string]string{"crc64ecma": *crc64}
}
