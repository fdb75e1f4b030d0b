package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/tierfs/tierfs/internal/reqcount"
	"github.com/tierfs/tierfs/objstore"
)

// Part sizes and counts, as S3 limits them.
const (
	DefaultPartSize = 8 << 20 // 8 MiB
	MinPartSize     = 5 << 20 // 5 MiB, S3's minimum for all parts but the last
	MaxPartSize     = 5 << 30 // 5 GiB, S3's maximum
	MaxParts        = 10000   // S3's maximum number of parts in one upload
	// DefaultConcurrency is the number of parts of one upload in flight.
	// Five, as the SDK's transfer manager uses: every part waits out a
	// round trip on its connection before its body moves, so parts in
	// flight that only just fill a link at full speed (four of 50 MB/s on
	// 200 MB/s) leave it idle for those waits (at 20 ms and 8 MiB parts,
	// four carry at most 0.89 of it); one more part keeps it full.
	DefaultConcurrency = 5
	// DefaultRegion is used when neither Options.Region nor the SDK's
	// configuration chain names one. S3-compatible servers mostly ignore
	// the region; AWS answers a wrong one with a redirect error.
	DefaultRegion = "us-east-1"
)

// Options configure a Store. The zero value is valid: the client comes from
// the SDK's default configuration chain and every other field takes the
// default given in its comment.
type Options struct {
	// Client, if not nil, is used as is: Endpoint, Region, PathStyle and
	// HTTPClient must then be empty, since they would be ignored. The
	// Store still asks for request and response checksums only when an
	// operation requires them (see the package documentation), and wraps
	// the client's HTTP client to count its requests, per call; see
	// "Counting requests" in the package documentation for what can be
	// counted then. Close does not close the idle connections of a Client
	// given here.
	Client *s3.Client

	// Endpoint is the base URL of an S3-compatible server, e.g.
	// "http://127.0.0.1:7070". Empty means AWS S3 (or the endpoint from
	// the SDK's configuration, such as AWS_ENDPOINT_URL_S3).
	Endpoint string
	// Region is the signing region. Empty means the SDK's configuration
	// chain (AWS_REGION, the shared config file), then DefaultRegion.
	Region string
	// PathStyle addresses buckets as endpoint/bucket/key instead of
	// bucket.endpoint/key; most S3-compatible servers want it.
	PathStyle bool
	// HTTPClient sends the requests when Client is nil. The Store sends
	// through a shallow copy of it whose Transport (nil meaning
	// http.DefaultTransport) is wrapped to count requests; its timeout,
	// redirect policy and cookie jar are kept, and AWS_CA_BUNDLE, for one,
	// is not applied to it. Nil means a client with the transport the
	// SDK's configuration chain builds (timeouts, TLS, AWS_CA_BUNDLE), up
	// to 100 idle connections per host, and redirects not followed; Close
	// closes its idle connections.
	HTTPClient *http.Client
	// Logger receives the SDK's log output (warnings, such as a reply
	// without a checksum the SDK expected), redacted with
	// objstore.RedactText. Nil means none: the SDK's default logger
	// writes to stderr, and is replaced. It does not apply to Client.
	Logger *slog.Logger

	// PartSize is the size of one part of a multipart upload in bytes, and
	// the largest body stored with a single PutObject. Zero means
	// DefaultPartSize; otherwise it must lie in [MinPartSize, MaxPartSize].
	// Put raises it for one upload when a known size would need more than
	// MaxParts parts.
	PartSize int64
	// Concurrency is the number of parts of one upload in flight at once.
	// A Put holds up to Concurrency+1 part buffers in memory. Zero means
	// DefaultConcurrency; negative is an error.
	Concurrency int

	// VersionIDs makes the Store report S3 version ids in Object.Version
	// and pin reads to them (versionId=) as well as to the ETag, for
	// buckets with versioning enabled: a read pinned to an overwritten
	// version then still reads that version. False (the default) keeps
	// versions to ETags, which pin reads on every server: a read pinned to
	// an overwritten object fails with objstore.ErrChanged. Leave it off
	// for servers that report version ids inconsistently (gofakes3 sends
	// one on HEAD but not on PUT).
	VersionIDs bool

	// HeaderTimeout bounds the wait for the headers of each reply once
	// its request is sent: a server that accepts the connection and never
	// answers fails the request (the SDK retries it) instead of hanging
	// it. Zero means objstore.DefaultHeaderTimeout (30s); negative means
	// no bound. It applies to the HTTP client New builds, not to
	// Options.Client or Options.HTTPClient, whose timeouts are the
	// caller's.
	HeaderTimeout time.Duration

	// Retry governs how readers resume bodies cut short. The SDK's own
	// retryer (3 attempts, with backoff, for 5xx, throttling such as 503
	// SlowDown, and connection errors) retries whole requests; Retry is
	// about bodies that break after the response headers arrived.
	Retry objstore.RetryPolicy
}

// checkConnection validates the fields that name the server.
func (o *Options) checkConnection() error {
	if o.Endpoint != "" {
		if err := checkEndpoint(o.Endpoint); err != nil {
			return err
		}
	}
	return checkRegion(o.Region)
}

// Store is an objstore.Store over one bucket and key prefix of an
// S3-protocol server. It is safe for concurrent use.
type Store struct {
	client      *s3.Client
	bucket      string
	prefix      string // "" or ending in "/"
	partSize    int64
	concurrency int
	retry       objstore.RetryPolicy
	versionIDs  bool
	pathStyle   bool                // Options.PathStyle, for classifying requests
	callOpts    []func(*s3.Options) // applied to every call: noChecksums, and counting on a caller's client
	transport   *http.Transport     // ours to close; nil when the caller gave the client
	bufs        chan []byte         // free part buffers of partSize bytes, up to Concurrency+1; see put.go
	counter     reqcount.Counter    // the requests sent; see requests.go
	closed      atomic.Bool
}

var (
	_ objstore.Store          = (*Store)(nil)
	_ objstore.RequestCounter = (*Store)(nil)
	_ io.Closer               = (*Store)(nil)
)

// New returns a Store over bucket, with keys under prefix (empty, or a
// valid key optionally followed by "/": "data/train" and "data/train/"
// name the same root). Invalid arguments give an error wrapping
// fs.ErrInvalid. New makes no request; a missing bucket shows on the first
// call.
func New(ctx context.Context, bucket, prefix string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := checkBucket(bucket); err != nil {
		return nil, newError(fs.ErrInvalid, err)
	}
	if prefix != "" {
		p := strings.TrimSuffix(prefix, "/")
		if !objstore.ValidKey(p) {
			return nil, newError(fs.ErrInvalid, fmt.Errorf("bad prefix %q", prefix))
		}
		prefix = p + "/"
	}
	if err := o.checkConnection(); err != nil {
		return nil, newError(fs.ErrInvalid, err)
	}
	switch {
	case o.PartSize == 0:
		o.PartSize = DefaultPartSize
	case o.PartSize < MinPartSize || o.PartSize > MaxPartSize:
		return nil, newError(fs.ErrInvalid, fmt.Errorf("part size %d outside [%d, %d]", o.PartSize, MinPartSize, MaxPartSize))
	}
	switch {
	case o.Concurrency == 0:
		o.Concurrency = DefaultConcurrency
	case o.Concurrency < 0:
		return nil, newError(fs.ErrInvalid, fmt.Errorf("negative concurrency %d", o.Concurrency))
	}
	if o.Retry.BaseDelay < 0 || o.Retry.MaxDelay < 0 {
		return nil, newError(fs.ErrInvalid, fmt.Errorf("negative retry delay"))
	}
	s := &Store{
		bucket:      bucket,
		prefix:      prefix,
		partSize:    o.PartSize,
		concurrency: o.Concurrency,
		retry:       o.Retry,
		versionIDs:  o.VersionIDs,
		pathStyle:   o.PathStyle,
		client:      o.Client,
		callOpts:    []func(*s3.Options){noChecksums},
		bufs:        make(chan []byte, o.Concurrency+1),
	}
	if s.client != nil {
		if o.Endpoint != "" || o.Region != "" || o.PathStyle || o.HTTPClient != nil {
			return nil, newError(fs.ErrInvalid, fmt.Errorf("Options.Client excludes Endpoint, Region, PathStyle and HTTPClient"))
		}
		s.callOpts = append(s.callOpts, s.countCalls)
		return s, nil
	}
	if err := s.buildClient(ctx, &o); err != nil {
		return nil, err
	}
	return s, nil
}

// buildClient makes the S3 client from the SDK's default configuration
// chain and o.
func (s *Store) buildClient(ctx context.Context, o *Options) error {
	var loadOpts []func(*config.LoadOptions) error
	if o.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(o.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		// The error names a config file or profile at most, never a secret.
		return newError(nil, fmt.Errorf("load aws config: %w", err))
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	// The SDK logs warnings to stderr by default; tierfs logs nothing
	// unless asked, and then through the caller's logger.
	cfg.Logger = logging.Nop{}
	if o.Logger != nil {
		cfg.Logger = sdkLogger(o.Logger)
	}
	if o.HTTPClient != nil {
		cfg.HTTPClient = s.countingClient(o.HTTPClient, s.requestKind)
	} else {
		// Take a copy of the transport the SDK configured (with
		// AWS_CA_BUNDLE applied, if set) so that Close can close its idle
		// connections; the SDK's own client offers no way to.
		bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient)
		if !ok {
			bc = awshttp.NewBuildableClient()
		}
		tr := bc.GetTransport()
		tr.MaxIdleConnsPerHost = 100
		switch {
		case o.HeaderTimeout == 0:
			tr.ResponseHeaderTimeout = objstore.DefaultHeaderTimeout
		case o.HeaderTimeout > 0:
			tr.ResponseHeaderTimeout = o.HeaderTimeout
		}
		s.transport = tr
		cfg.HTTPClient = &http.Client{
			Transport: s.counter.Transport(tr, s.requestKind),
			Timeout:   bc.GetTimeout(),
			// S3 answers a wrong region with a 301; surface it as an
			// error instead of following it (as the SDK's client does).
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	s.client = s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = o.PathStyle
		noChecksums(so)
	})
	return nil
}

// noChecksums makes the SDK send and check checksums only where an
// operation requires them; see "Checksums" in the package documentation.
// It is applied to every call, so it holds for a caller's client too.
func noChecksums(o *s3.Options) {
	o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
}

// Close closes the idle connections of the HTTP client New built (not
// those of a client given in Options). Calls after the first do nothing;
// other methods called after Close fail with an error wrapping
// fs.ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.transport != nil {
		s.transport.CloseIdleConnections()
	}
	return nil
}

// As sets *i to the Store's client when i is a **s3.Client, and reports
// whether it did.
func (s *Store) As(i any) bool {
	p, ok := i.(**s3.Client)
	if ok {
		*p = s.client
	}
	return ok
}

// Bucket returns the name of the bucket the Store is rooted in.
func (s *Store) Bucket() string { return s.bucket }

// Prefix returns the key prefix ("" or ending in "/") of the Store's root.
func (s *Store) Prefix() string { return s.prefix }

func (s *Store) check(op, key string) error {
	if err := objstore.CheckKey(op, key); err != nil {
		return err
	}
	return s.checkOpen(op, key)
}

func (s *Store) checkOpen(op, key string) error {
	if s.closed.Load() {
		return objstore.NewError(op, key, fs.ErrClosed, errors.New("s3: store closed"))
	}
	return nil
}

// Stat returns the attributes of key with a HeadObject request.
func (s *Store) Stat(ctx context.Context, key string) (objstore.Object, error) {
	if err := s.check("stat", key); err != nil {
		return objstore.Object{}, err
	}
	obj, err := s.head(ctx, key, objstore.Version{})
	if err != nil {
		return objstore.Object{}, mapError("stat", key, err, false)
	}
	return obj, nil
}

// head sends HeadObject, pinned to v when v is not zero. Errors are the
// SDK's, unmapped.
func (s *Store) head(ctx context.Context, key string, v objstore.Version) (objstore.Object, error) {
	in := &s3.HeadObjectInput{Bucket: &s.bucket, Key: aws.String(s.prefix + key)}
	if v.ETag != "" {
		in.IfMatch = aws.String(quote(v.ETag))
	}
	if v.ID != "" {
		in.VersionId = aws.String(v.ID)
	}
	out, err := s.client.HeadObject(ctx, in, s.callOpts...)
	if err != nil {
		return objstore.Object{}, err
	}
	if out.ContentLength == nil {
		// The SDK would make it 0: an empty file.
		return objstore.Object{}, badReply("HEAD without Content-Length")
	}
	obj := objstore.Object{
		Key:     key,
		Size:    aws.ToInt64(out.ContentLength),
		ModTime: aws.ToTime(out.LastModified),
		Version: s.version(out.ETag, out.VersionId),
		Checksums: checksums(map[string]*string{
			"crc32": out.ChecksumCRC32, "crc32c": out.ChecksumCRC32C, "crc64nvme": out.ChecksumCRC64NVME,
			"sha1": out.ChecksumSHA1, "sha256": out.ChecksumSHA256,
		}),
	}
	if err := checkVersion(v, obj.Version); err != nil {
		return objstore.Object{}, err
	}
	if obj.Version.IsZero() {
		return objstore.Object{}, badReply("HEAD without ETag: a read could not be pinned to one version")
	}
	return obj, nil
}

// NewRangeReader opens [off, off+length) of key with ranged GetObject
// requests pinned to one version (If-Match on the ETag, and versionId when
// the version has an ID); see objstore.Store.
func (s *Store) NewRangeReader(ctx context.Context, key string, off, length int64, opts objstore.ReadOptions) (*objstore.Reader, error) {
	if err := s.check("read", key); err != nil {
		return nil, err
	}
	open := func(ctx context.Context, off, length int64, v objstore.Version) (io.ReadCloser, objstore.Object, error) {
		body, obj, err := s.openRange(ctx, key, off, length, v)
		if err != nil {
			return nil, objstore.Object{}, mapError("read", key, err, !v.IsZero())
		}
		return body, obj, nil
	}
	return objstore.NewReader(ctx, key, off, length, opts, s.retry, open)
}

// openRange is the objstore.RangeOpener of NewRangeReader. Errors are the
// SDK's or errChanged / range errors, unmapped.
func (s *Store) openRange(ctx context.Context, key string, off, length int64, v objstore.Version) (io.ReadCloser, objstore.Object, error) {
	if length == 0 {
		// No byte to get, and "bytes=off-(off-1)" is not a range: learn
		// the size and version from a HEAD instead.
		obj, err := s.head(ctx, key, v)
		return http.NoBody, obj, err
	}
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.prefix + key)}
	ranged := off > 0 || length > 0
	switch {
	case length > 0:
		in.Range = aws.String("bytes=" + strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(off+length-1, 10))
	case off > 0:
		in.Range = aws.String("bytes=" + strconv.FormatInt(off, 10) + "-")
	}
	// off == 0 with length < 0 sends no Range, so an empty object reads as
	// an empty body instead of a 416.
	if v.ETag != "" {
		in.IfMatch = aws.String(quote(v.ETag))
	}
	if v.ID != "" {
		in.VersionId = aws.String(v.ID)
	}
	out, err := s.client.GetObject(ctx, in, s.callOpts...)
	if err != nil {
		if httpStatus(err) == http.StatusRequestedRangeNotSatisfiable {
			// The range starts at or past the end. HEAD for the size: at
			// off == size the range is empty and valid; past it, the
			// caller's range check reports fs.ErrInvalid.
			obj, herr := s.head(ctx, key, v)
			if herr != nil {
				return nil, objstore.Object{}, herr
			}
			if off >= obj.Size {
				return http.NoBody, obj, nil
			}
			return nil, objstore.Object{}, err
		}
		return nil, objstore.Object{}, err
	}
	obj := objstore.Object{
		Key:     key,
		ModTime: aws.ToTime(out.LastModified),
		Version: s.version(out.ETag, out.VersionId),
	}
	// Some servers ignore If-Match (or versionId): never hand out bytes of
	// a version other than the pinned one.
	if err := checkVersion(v, obj.Version); err != nil {
		out.Body.Close()
		return nil, objstore.Object{}, err
	}
	if obj.Version.IsZero() {
		out.Body.Close()
		return nil, objstore.Object{}, badReply("GET without ETag: the read could not be pinned to one version")
	}
	body := out.Body
	if cr := aws.ToString(out.ContentRange); cr != "" {
		start, end, total, err := parseContentRange(cr)
		if err == nil {
			err = checkBodyRange(off, length, start, end, total, out.ContentLength)
		}
		if err != nil {
			out.Body.Close()
			return nil, objstore.Object{}, badReply("Content-Range %q for bytes from %d (length %d): %v", cr, off, length, err)
		}
		obj.Size = total
	} else {
		if out.ContentLength == nil {
			// A whole body of unknown length (chunked): its end could not
			// be told from a cut.
			out.Body.Close()
			return nil, objstore.Object{}, badReply("GET without Content-Length or Content-Range")
		}
		obj.Size = aws.ToInt64(out.ContentLength)
		if ranged && off > 0 {
			// The server ignored Range and sent the whole object
			// (200 OK): skip to off. Bytes past the range are never
			// read by objstore.Reader.
			if off > obj.Size {
				out.Body.Close()
				return http.NoBody, obj, nil // the range check reports it
			}
			if _, err := io.CopyN(io.Discard, out.Body, off); err != nil {
				out.Body.Close()
				return nil, objstore.Object{}, fmt.Errorf("s3: skipping to %d in a body sent whole: %w", off, err)
			}
		}
	}
	return body, obj, nil
}

// checkBodyRange checks the range [start, end] of an object of total
// bytes that a 206 reply carries (with its Content-Length, if any) against
// the read asked for: length bytes from off, a negative length meaning to
// the end. A range that runs past the object's end is cut there, as S3
// does.
func checkBodyRange(off, length, start, end, total int64, contentLength *int64) error {
	want := total - 1
	if length > 0 && off+length < total {
		want = off + length - 1
	}
	switch {
	case start != off:
		return fmt.Errorf("starts at %d", start)
	case end != want:
		return fmt.Errorf("ends at %d, want %d", end, want)
	case contentLength != nil && *contentLength != end-start+1:
		return fmt.Errorf("with Content-Length %d", *contentLength)
	}
	return nil
}

// parseContentRange parses "bytes start-end/total".
func parseContentRange(cr string) (start, end, total int64, err error) {
	rest, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return 0, 0, 0, errors.New("no bytes unit")
	}
	rng, tot, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, 0, errors.New("no total")
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, 0, errors.New("no range")
	}
	if start, err = strconv.ParseInt(a, 10, 64); err != nil {
		return 0, 0, 0, err
	}
	if end, err = strconv.ParseInt(b, 10, 64); err != nil {
		return 0, 0, 0, err
	}
	if total, err = strconv.ParseInt(tot, 10, 64); err != nil {
		return 0, 0, 0, err
	}
	if start < 0 || end < start || total <= end {
		return 0, 0, 0, errors.New("inconsistent")
	}
	return start, end, total, nil
}

// List returns one page of keys with ListObjectsV2. Keys are asked for
// URL-encoded (encoding-type=url) and decoded here; see "Listing" in the
// package documentation for the keys that are left out.
func (s *Store) List(ctx context.Context, opts objstore.ListOptions) (objstore.ListPage, error) {
	if !objstore.ValidPrefix(opts.Prefix) {
		return objstore.ListPage{}, objstore.NewError("list", opts.Prefix, fs.ErrInvalid, errors.New("s3: invalid prefix"))
	}
	if opts.MaxKeys < 0 {
		return objstore.ListPage{}, objstore.NewError("list", opts.Prefix, fs.ErrInvalid, fmt.Errorf("s3: negative MaxKeys %d", opts.MaxKeys))
	}
	if err := s.checkOpen("list", opts.Prefix); err != nil {
		return objstore.ListPage{}, err
	}
	in := &s3.ListObjectsV2Input{
		Bucket:       &s.bucket,
		Prefix:       aws.String(s.prefix + opts.Prefix),
		EncodingType: types.EncodingTypeUrl,
	}
	if opts.Delimiter != "" {
		in.Delimiter = aws.String(opts.Delimiter)
	}
	if opts.Token != "" {
		in.ContinuationToken = aws.String(opts.Token)
	}
	if opts.MaxKeys > 0 {
		in.MaxKeys = aws.Int32(int32(min(opts.MaxKeys, 1<<31-1)))
	}
	out, err := s.client.ListObjectsV2(ctx, in, s.callOpts...)
	if err != nil {
		return objstore.ListPage{}, mapError("list", opts.Prefix, err, false)
	}
	// The SDK does not decode encoding-type=url responses; a server that
	// ignored the parameter says so by leaving EncodingType out.
	encoded := out.EncodingType == types.EncodingTypeUrl
	decode := func(k string) (string, error) {
		if !encoded {
			return k, nil
		}
		return url.QueryUnescape(k)
	}
	var page objstore.ListPage
	for _, o := range out.Contents {
		full, err := decode(aws.ToString(o.Key))
		if err != nil {
			return objstore.ListPage{}, objstore.NewError("list", opts.Prefix, nil, fmt.Errorf("s3: undecodable key %q: %w", aws.ToString(o.Key), err))
		}
		key, ok := strings.CutPrefix(full, s.prefix)
		if !ok || !objstore.ValidKey(key) {
			continue // see "Listing" in the package documentation
		}
		page.Objects = append(page.Objects, objstore.Object{
			Key:     key,
			Size:    aws.ToInt64(o.Size),
			ModTime: aws.ToTime(o.LastModified),
			Version: s.version(o.ETag, nil),
		})
	}
	for _, p := range out.CommonPrefixes {
		full, err := decode(aws.ToString(p.Prefix))
		if err != nil {
			return objstore.ListPage{}, objstore.NewError("list", opts.Prefix, nil, fmt.Errorf("s3: undecodable prefix %q: %w", aws.ToString(p.Prefix), err))
		}
		rel, ok := strings.CutPrefix(full, s.prefix)
		if !ok || !objstore.ValidKey(strings.TrimSuffix(rel, opts.Delimiter)) {
			continue
		}
		page.Prefixes = append(page.Prefixes, rel)
	}
	if aws.ToBool(out.IsTruncated) {
		page.Next = aws.ToString(out.NextContinuationToken)
		if page.Next == "" {
			return objstore.ListPage{}, objstore.NewError("list", opts.Prefix, nil, errors.New("s3: truncated listing without a continuation token"))
		}
	}
	return page, nil
}

// Delete removes key with DeleteObject. A missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.check("delete", key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: aws.String(s.prefix + key)}, s.callOpts...)
	if err != nil {
		if classify(err) == fs.ErrNotExist && !isNoSuchBucket(err) {
			return nil // some servers answer 404 for a missing key
		}
		return mapError("delete", key, err, false)
	}
	return nil
}

// errVersion is the cause of ErrChanged when a response's version differs
// from the pinned one.
type errVersion struct{ want, got objstore.Version }

func (e *errVersion) Error() string {
	return fmt.Sprintf("s3: want version %s, got %s", e.want, e.got)
}

// checkVersion returns an *errVersion if got does not satisfy want.
func checkVersion(want, got objstore.Version) error {
	if !want.Matches(got) {
		return &errVersion{want: want, got: got}
	}
	return nil
}

// version builds a Version from the ETag and, with Options.VersionIDs,
// the version id headers.
func (s *Store) version(etag, id *string) objstore.Version {
	if !s.versionIDs {
		id = nil
	}
	return version(etag, id)
}

// version builds a Version from the ETag and version id headers. S3's
// "null" version id (objects written while versioning was off) names no
// version and is treated as none.
func version(etag, id *string) objstore.Version {
	v := objstore.Version{ETag: unquote(aws.ToString(etag)), ID: aws.ToString(id)}
	if v.ID == "null" {
		v.ID = ""
	}
	return v
}

func unquote(etag string) string {
	etag = strings.TrimPrefix(etag, "W/")
	if len(etag) >= 2 && etag[0] == '"' && etag[len(etag)-1] == '"' {
		return etag[1 : len(etag)-1]
	}
	return etag
}

func quote(etag string) string { return `"` + etag + `"` }

func checksums(m map[string]*string) map[string]string {
	var out map[string]string
	for k, v := range m {
		if v != nil && *v != "" {
			if out == nil {
				out = make(map[string]string)
			}
			out[k] = *v
		}
	}
	return out
}

// serverTime returns the Date header of the HTTP response behind an SDK
// result, or the local time when it has none.
func serverTime(md middleware.Metadata) time.Time {
	if resp, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && resp != nil && resp.Response != nil {
		if t, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			return t
		}
	}
	return time.Now()
}

// sdkLogger routes the SDK's log lines to l: warnings at Warn, the rest
// at Debug, redacted.
func sdkLogger(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
		level := slog.LevelDebug
		if c == logging.Warn {
			level = slog.LevelWarn
		}
		l.Log(context.Background(), level, "s3store: aws sdk: "+objstore.RedactText(fmt.Sprintf(format, v...)))
	})
}
