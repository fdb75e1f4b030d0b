package s3test

import (
	"bytes"
	"cmp"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/maphash"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Multipart uploads. gofakes3's own uploader reads each part with a
// growing io.ReadAll and, at CompleteMultipartUpload, copies every part
// into one body, hands it to s3mem, which copies it again and hashes all of
// it, under a lock every upload shares: seconds per GiB of fresh memory
// and MD5 on the request that real S3 answers in well under a second,
// which made the fixture, not the link, the limit of a benchmark of
// uploads. backend does what S3 does instead:
//
//   - UploadPart reads the part into one buffer of its Content-Length,
//     hashing it as it arrives (the part's ETag is its MD5, as in S3; with
//     Config.FastPartETags a 64-bit maphash and the length, which cost the
//     CPUs the server shares with a benchmarked client a tenth as much);
//   - CompleteMultipartUpload checks the list (ascending part numbers,
//     each uploaded, with its ETag: else InvalidPartOrder or InvalidPart,
//     as S3 answers) and publishes the parts as they are, without copying
//     or hashing them again: the object is an overlay over s3mem (objects
//     below), read as the concatenation of its parts, whose ETag is S3's
//     multipart one, "md5-of-the-parts'-md5s-N" (see etag.go);
//   - AbortMultipartUpload drops the parts; ListParts and
//     ListMultipartUploads page as S3 does.
//
// Every other object lives in s3mem. A PutObject, CopyObject or DeleteObject
// of a key replaces or removes its overlay object, so each key has one
// current object, in one of the two. The backend is not versioned (gofakes3
// then answers versioning requests with NotImplemented): no test uses
// versions, and an overlay object has none.

// backend is the built-in backend: s3mem, with objects completed by a
// multipart upload held beside it. Its methods may be called concurrently.
// mu is never held while calling mem.
type backend struct {
	mem *s3mem.Backend

	mu      sync.Mutex // guards objects, uploads, nextID, free, keep and the objects' readers and removed
	objects map[objectID]*mpObject
	uploads map[gofakes3.UploadID]*mpUpload
	nextID  uint64

	// Part buffers of the sizes Server.ReserveParts reserved: free ones
	// by length, and how many of each length to keep (see pool.go).
	free map[int][][]byte
	keep map[int]int

	// fastETags: parts are hashed with maphash under seed, not MD5
	// (Config.FastPartETags).
	fastETags bool
	seed      maphash.Seed
}

var (
	_ gofakes3.Backend          = (*backend)(nil)
	_ gofakes3.MultipartBackend = (*backend)(nil)
)

func newBackend(fastETags bool) *backend {
	return &backend{
		fastETags: fastETags,
		seed:      maphash.MakeSeed(),
		mem:       s3mem.New(),
		objects:   make(map[objectID]*mpObject),
		uploads:   make(map[gofakes3.UploadID]*mpUpload),
		free:      make(map[int][][]byte),
		keep:      make(map[int]int),
	}
}

// mpObject is an object completed by a multipart upload: its parts, in
// order, never modified once published.
type mpObject struct {
	parts    [][]byte
	size     int64
	hash     []byte // MD5 of the parts' MD5s: the multipart ETag without its "-N"
	meta     map[string]string
	modified time.Time

	readers int  // bodies being read (GetObject's Contents not yet closed)
	removed bool // replaced or deleted: the parts go back to the pool after the last reader
}

// mpUpload is a multipart upload in progress. Its parts are guarded by
// backend.mu.
type mpUpload struct {
	id        gofakes3.UploadID
	bucket    string
	key       string
	meta      map[string]string
	initiated time.Time
	seq       uint64 // order of creation
	parts     map[int]*mpPart
}

type mpPart struct {
	body     []byte
	sum      [md5.Size]byte // its MD5, or with Config.FastPartETags its maphash and length
	modified time.Time
}

func (p *mpPart) etag() string { return `"` + hex.EncodeToString(p.sum[:]) + `"` }

// reader returns the bytes [off, off+n) of o.
func (o *mpObject) reader(off, n int64) io.Reader {
	var rs []io.Reader
	for _, p := range o.parts {
		if n <= 0 {
			break
		}
		if off >= int64(len(p)) {
			off -= int64(len(p))
			continue
		}
		end := min(int64(len(p)), off+n)
		rs = append(rs, bytes.NewReader(p[off:end]))
		n -= end - off
		off = 0
	}
	return io.MultiReader(rs...)
}

// toObject describes o; with a body, it counts a reader of o until the
// body is closed. The caller holds b.mu.
func (b *backend) toObject(o *mpObject, key string, rng *gofakes3.ObjectRangeRequest, withBody bool) (*gofakes3.Object, error) {
	obj := &gofakes3.Object{Name: key, Metadata: maps.Clone(o.meta), Size: o.size, Hash: o.hash}
	if !withBody {
		obj.Contents = io.NopCloser(bytes.NewReader(nil))
		return obj, nil
	}
	r, err := rng.Range(o.size)
	if err != nil {
		return nil, err
	}
	obj.Range = r
	off, n := int64(0), o.size
	if r != nil {
		off, n = r.Start, r.Length
	}
	o.readers++
	obj.Contents = &objectBody{Reader: o.reader(off, n), done: sync.OnceFunc(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		o.readers--
		b.releaseLocked(o)
	})}
	return obj, nil
}

// objectBody is the body of an overlay object being read.
type objectBody struct {
	io.Reader
	done func()
}

func (r *objectBody) Close() error {
	r.done()
	return nil
}

// forget drops the overlay object of bucket/key, if any.
func (b *backend) forget(bucket, key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.removeLocked(objectID{bucket, key})
}

// removeLocked drops the overlay object id; its parts go back to the pool
// once no reader holds them. The caller holds mu.
func (b *backend) removeLocked(id objectID) {
	o := b.objects[id]
	if o == nil {
		return
	}
	delete(b.objects, id)
	o.removed = true
	b.releaseLocked(o)
}

// releaseLocked returns the parts of a removed object nobody reads to the
// pool. The caller holds mu.
func (b *backend) releaseLocked(o *mpObject) {
	if o.removed && o.readers == 0 {
		b.putLocked(o.parts...)
		o.parts = nil
	}
}

// gofakes3.Backend: the overlay first, then s3mem.

func (b *backend) ListBuckets() ([]gofakes3.BucketInfo, error) { return b.mem.ListBuckets() }
func (b *backend) CreateBucket(name string) error              { return b.mem.CreateBucket(name) }
func (b *backend) BucketExists(name string) (bool, error)      { return b.mem.BucketExists(name) }

func (b *backend) DeleteBucket(name string) error {
	b.mu.Lock()
	for id := range b.objects {
		if id.bucket == name {
			b.mu.Unlock()
			return gofakes3.ResourceError(gofakes3.ErrBucketNotEmpty, name)
		}
	}
	b.mu.Unlock()
	return b.mem.DeleteBucket(name)
}

func (b *backend) ForceDeleteBucket(name string) error {
	if err := b.mem.ForceDeleteBucket(name); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for id := range b.objects {
		if id.bucket == name {
			b.removeLocked(id)
		}
	}
	for id, u := range b.uploads {
		if u.bucket == name {
			delete(b.uploads, id)
			b.putPartsLocked(u)
		}
	}
	return nil
}

// ListBucket lists s3mem's objects and the overlay's together. The front
// asks for whole listings (no page) and pages them itself (list.go);
// gofakes3's own listing, which the front answers instead, would page
// the merged list here.
func (b *backend) ListBucket(name string, prefix *gofakes3.Prefix, page gofakes3.ListBucketPage) (*gofakes3.ObjectList, error) {
	if prefix == nil {
		prefix = &gofakes3.Prefix{}
	}
	b.mu.Lock()
	var over []*gofakes3.Content
	for id, o := range b.objects {
		if id.bucket == name {
			over = append(over, &gofakes3.Content{
				Key: id.key, LastModified: gofakes3.NewContentTime(o.modified),
				ETag: gofakes3.FormatETag(o.hash), Size: o.size,
			})
		}
	}
	b.mu.Unlock()
	if len(over) == 0 {
		return b.mem.ListBucket(name, prefix, page)
	}
	all, err := b.mem.ListBucket(name, &gofakes3.Prefix{HasPrefix: prefix.HasPrefix, Prefix: prefix.Prefix}, gofakes3.ListBucketPage{})
	if err != nil {
		return nil, err
	}
	entries := append(all.Contents, over...)
	slices.SortFunc(entries, func(x, y *gofakes3.Content) int { return cmp.Compare(x.Key, y.Key) })
	res := gofakes3.NewObjectList()
	var match gofakes3.PrefixMatch
	var n int64
	for i, c := range entries {
		if (page.HasMarker || page.Marker != "") && c.Key <= page.Marker {
			continue
		}
		if !prefix.Match(c.Key, &match) {
			continue
		}
		if match.CommonPrefix {
			if slices.ContainsFunc(res.CommonPrefixes, func(p gofakes3.CommonPrefix) bool { return p.Prefix == match.MatchedPart }) {
				continue
			}
			res.AddPrefix(match.MatchedPart)
		} else {
			res.Add(c)
		}
		n++
		if page.MaxKeys > 0 && n >= page.MaxKeys {
			res.NextMarker = c.Key
			res.IsTruncated = i < len(entries)-1
			break
		}
	}
	return res, nil
}

func (b *backend) HeadObject(bucket, key string) (*gofakes3.Object, error) {
	b.mu.Lock()
	if o := b.objects[objectID{bucket, key}]; o != nil {
		defer b.mu.Unlock()
		return b.toObject(o, key, nil, false)
	}
	b.mu.Unlock()
	return b.mem.HeadObject(bucket, key)
}

func (b *backend) GetObject(bucket, key string, rng *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
	b.mu.Lock()
	if o := b.objects[objectID{bucket, key}]; o != nil {
		defer b.mu.Unlock()
		return b.toObject(o, key, rng, true)
	}
	b.mu.Unlock()
	return b.mem.GetObject(bucket, key, rng)
}

func (b *backend) PutObject(bucket, key string, meta map[string]string, input io.Reader, size int64, conds *gofakes3.PutConditions) (gofakes3.PutObjectResult, error) {
	res, err := b.mem.PutObject(bucket, key, meta, input, size, conds)
	if err == nil {
		b.forget(bucket, key)
	}
	return res, err
}

func (b *backend) CopyObject(srcBucket, srcKey, dstBucket, dstKey string, meta map[string]string) (gofakes3.CopyObjectResult, error) {
	// Through b, so that an overlay source is read and the destination's
	// overlay object replaced.
	return gofakes3.CopyObject(b, srcBucket, srcKey, dstBucket, dstKey, meta)
}

func (b *backend) DeleteObject(bucket, key string) (gofakes3.ObjectDeleteResult, error) {
	res, err := b.mem.DeleteObject(bucket, key)
	if err == nil {
		b.forget(bucket, key)
	}
	return res, err
}

func (b *backend) DeleteMulti(bucket string, keys ...string) (gofakes3.MultiDeleteResult, error) {
	res, err := b.mem.DeleteMulti(bucket, keys...)
	if err == nil {
		for _, d := range res.Deleted {
			b.forget(bucket, d.Key)
		}
	}
	return res, err
}

// gofakes3.MultipartBackend.

func (b *backend) CreateMultipartUpload(bucket, key string, meta map[string]string) (gofakes3.UploadID, error) {
	if ok, _ := b.mem.BucketExists(bucket); !ok {
		return "", gofakes3.BucketNotFound(bucket)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nextID++
	u := &mpUpload{
		id:     gofakes3.UploadID(strconv.FormatUint(b.nextID, 10)),
		bucket: bucket, key: key, meta: meta, initiated: time.Now(), seq: b.nextID,
		parts: make(map[int]*mpPart),
	}
	b.uploads[u.id] = u
	return u.id, nil
}

// upload returns the upload id of bucket/key; the caller holds mu.
func (b *backend) upload(bucket, key string, id gofakes3.UploadID) (*mpUpload, error) {
	u := b.uploads[id]
	if u == nil || u.bucket != bucket || u.key != key {
		return nil, gofakes3.ErrorMessage(gofakes3.ErrNoSuchUpload, "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")
	}
	return u, nil
}

func (b *backend) UploadPart(bucket, key string, id gofakes3.UploadID, num int, size int64, input io.Reader) (string, error) {
	if num < 1 || num > gofakes3.MaxUploadPartNumber {
		return "", gofakes3.ErrInvalidPart
	}
	b.mu.Lock()
	_, err := b.upload(bucket, key, id)
	b.mu.Unlock()
	if err != nil {
		return "", err
	}
	if size < 0 {
		return "", gofakes3.ErrMissingContentLength
	}
	// One buffer of the announced length, hashed as it fills.
	p := &mpPart{body: b.getBuf(size)}
	fail := func(err error) (string, error) {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.putLocked(p.body)
		return "", err
	}
	var h hash.Hash = md5.New()
	if b.fastETags {
		var mh maphash.Hash
		mh.SetSeed(b.seed)
		h = &mh
	}
	if _, err := io.ReadFull(io.TeeReader(input, h), p.body); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return fail(gofakes3.ErrIncompleteBody)
		}
		return fail(fmt.Errorf("s3test: reading part %d: %w", num, err))
	}
	var one [1]byte
	if n, _ := input.Read(one[:]); n > 0 {
		return fail(gofakes3.ErrIncompleteBody)
	}
	h.Sum(p.sum[:0]) // MD5: 16 bytes; maphash: 8, then the length
	if b.fastETags {
		binary.LittleEndian.PutUint64(p.sum[8:], uint64(size))
	}
	p.modified = time.Now()

	b.mu.Lock()
	defer b.mu.Unlock()
	u, err := b.upload(bucket, key, id) // aborted while the part arrived?
	if err != nil {
		b.putLocked(p.body)
		return "", err
	}
	if old := u.parts[num]; old != nil {
		b.putLocked(old.body)
	}
	u.parts[num] = p
	return p.etag(), nil
}

func (b *backend) AbortMultipartUpload(bucket, key string, id gofakes3.UploadID) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, err := b.upload(bucket, key, id)
	if err != nil {
		return err
	}
	delete(b.uploads, id)
	b.putPartsLocked(u)
	return nil
}

// CompleteMultipartUpload checks the part list as S3 does and publishes
// the parts named as the object, in O(parts): nothing is copied or hashed.
func (b *backend) CompleteMultipartUpload(bucket, key string, id gofakes3.UploadID, in *gofakes3.CompleteMultipartUploadRequest) (gofakes3.VersionID, string, error) {
	b.mu.Lock()
	u, err := b.upload(bucket, key, id)
	if err != nil {
		b.mu.Unlock()
		return "", "", err
	}
	if len(in.Parts) == 0 {
		b.mu.Unlock()
		return "", "", gofakes3.ErrorMessage(gofakes3.ErrMalformedXML, "You must specify at least one part.")
	}
	o := &mpObject{meta: u.meta, modified: time.Now(), parts: make([][]byte, 0, len(in.Parts))}
	sums := md5.New()
	prev := 0
	for _, cp := range in.Parts {
		if cp.PartNumber <= prev {
			b.mu.Unlock()
			return "", "", gofakes3.ErrorMessage(gofakes3.ErrInvalidPartOrder, "The list of parts was not in ascending order. The parts list must be specified in order by part number.")
		}
		prev = cp.PartNumber
		p := u.parts[cp.PartNumber]
		if p == nil || strings.Trim(cp.ETag, `"`) != hex.EncodeToString(p.sum[:]) {
			b.mu.Unlock()
			return "", "", gofakes3.ErrorMessagef(gofakes3.ErrInvalidPart, "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag (part %d).", cp.PartNumber)
		}
		o.parts = append(o.parts, p.body)
		o.size += int64(len(p.body))
		sums.Write(p.sum[:])
	}
	o.hash = sums.Sum(nil)
	delete(b.uploads, id)
	for _, cp := range in.Parts {
		delete(u.parts, cp.PartNumber) // now the object's
	}
	b.putPartsLocked(u) // the parts left out
	b.removeLocked(objectID{bucket, key})
	b.objects[objectID{bucket, key}] = o
	b.mu.Unlock()

	// The overlay object now answers for the key: drop s3mem's (a missing
	// key is no error).
	if _, err := b.mem.DeleteObject(bucket, key); err != nil {
		b.forget(bucket, key)
		return "", "", err
	}
	return "", fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(o.hash), len(in.Parts)), nil
}

func (b *backend) ListParts(bucket, key string, id gofakes3.UploadID, marker int, limit int64) (*gofakes3.ListMultipartUploadPartsResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, err := b.upload(bucket, key, id)
	if err != nil {
		return nil, err
	}
	res := &gofakes3.ListMultipartUploadPartsResult{
		Bucket: bucket, Key: key, UploadID: id, MaxParts: limit, PartNumberMarker: marker, StorageClass: "STANDARD",
	}
	nums := make([]int, 0, len(u.parts))
	for n := range u.parts {
		if n > marker {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	for i, n := range nums {
		if int64(i) == limit {
			res.IsTruncated = true
			break
		}
		p := u.parts[n]
		res.Parts = append(res.Parts, gofakes3.ListMultipartUploadPartItem{
			PartNumber: n, LastModified: gofakes3.NewContentTime(p.modified), ETag: p.etag(), Size: int64(len(p.body)),
		})
		res.NextPartNumberMarker = n
	}
	return res, nil
}

// ListMultipartUploads lists the open uploads of bucket by key, then
// initiation, from marker on, as S3 does.
func (b *backend) ListMultipartUploads(bucket string, marker *gofakes3.UploadListMarker, prefix gofakes3.Prefix, limit int64) (*gofakes3.ListMultipartUploadsResult, error) {
	if ok, _ := b.mem.BucketExists(bucket); !ok {
		return nil, gofakes3.BucketNotFound(bucket)
	}
	b.mu.Lock()
	var ups []*mpUpload
	for _, u := range b.uploads {
		if u.bucket == bucket {
			ups = append(ups, u)
		}
	}
	b.mu.Unlock()
	slices.SortFunc(ups, func(x, y *mpUpload) int {
		return cmp.Or(cmp.Compare(x.key, y.key), cmp.Compare(x.seq, y.seq))
	})
	res := &gofakes3.ListMultipartUploadsResult{Bucket: bucket, Prefix: prefix.Prefix, Delimiter: prefix.Delimiter, MaxUploads: limit}
	start := 0
	if marker != nil && marker.Object != "" {
		res.KeyMarker, res.UploadIDMarker = marker.Object, marker.UploadID
		// After the marker's upload if it names one still open, else
		// after every upload of the marker's key.
		start = slices.IndexFunc(ups, func(u *mpUpload) bool { return u.key > marker.Object })
		if start < 0 {
			start = len(ups)
		}
		if marker.UploadID != "" {
			if i := slices.IndexFunc(ups, func(u *mpUpload) bool { return u.key == marker.Object && u.id == marker.UploadID }); i >= 0 {
				start = i + 1
			}
		}
	}
	var match gofakes3.PrefixMatch
	var n int64
	for _, u := range ups[start:] {
		if !prefix.Match(u.key, &match) {
			continue
		}
		if n == limit {
			res.IsTruncated = true
			break
		}
		if match.CommonPrefix {
			if !slices.ContainsFunc(res.CommonPrefixes, func(p gofakes3.CommonPrefix) bool { return p.Prefix == match.MatchedPart }) {
				res.CommonPrefixes = append(res.CommonPrefixes, match.AsCommonPrefix())
				n++
			}
			continue
		}
		res.Uploads = append(res.Uploads, gofakes3.ListMultipartUploadItem{
			Key: u.key, UploadID: u.id, StorageClass: "STANDARD", Initiated: gofakes3.NewContentTime(u.initiated),
		})
		res.NextKeyMarker, res.NextUploadIDMarker = u.key, u.id
		n++
	}
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = "", ""
	}
	return res, nil
}
