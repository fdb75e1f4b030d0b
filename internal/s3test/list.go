package s3test

import (
	"cmp"
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/johannesboyne/gofakes3"
)

// The built-in backend's listings are answered here, not by gofakes3, which
// ignores encoding-type=url and, with a delimiter, repeats a common prefix
// on the page after the one that ended inside it (its next marker is the
// last key, not the prefix).
//
// Paging: a page ends after max-keys entries (keys and common prefixes
// together, at most 1000). The V1 NextMarker (sent only with a delimiter,
// as S3 does) and the V2 continuation token name the last entry of the page.
// A common prefix is listed only if it sorts after the marker, so a marker
// that is a common prefix skips every key under it.

// maxListKeys is S3's largest page.
const maxListKeys = 1000

type listParams struct {
	v2         bool
	prefix     string
	delimiter  string
	maxKeys    int
	marker     string // V1 marker, or V2 start-after / continuation token decoded
	startAfter string // V2, echoed
	token      string // V2 continuation-token, echoed
	urlEncode  bool
	owner      bool
}

func parseList(q map[string][]string) (listParams, *s3Error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	p := listParams{
		v2:        get("list-type") == "2",
		prefix:    get("prefix"),
		delimiter: get("delimiter"),
		maxKeys:   maxListKeys,
	}
	if v, ok := q["max-keys"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 0 {
			return p, &s3Error{Code: "InvalidArgument", Message: "Provided max-keys not an integer or within integer range"}
		}
		p.maxKeys = min(n, maxListKeys)
	}
	switch get("encoding-type") {
	case "":
	case "url":
		p.urlEncode = true
	default:
		return p, &s3Error{Code: "InvalidArgument", Message: "Invalid Encoding Method specified in Request"}
	}
	if !p.v2 {
		p.marker = get("marker")
		p.owner = true
		return p, nil
	}
	_, p.owner = q["fetch-owner"]
	p.owner = p.owner && get("fetch-owner") != "false"
	p.startAfter = get("start-after")
	p.marker = p.startAfter
	if tok, ok := q["continuation-token"]; ok {
		p.token = tok[0]
		m, err := base64.RawURLEncoding.DecodeString(p.token)
		if err != nil {
			return p, &s3Error{Code: "InvalidArgument", Message: "The continuation token provided is incorrect"}
		}
		p.marker = string(m)
	}
	return p, nil
}

// enc applies encoding-type=url to a key-like value: every byte outside
// RFC 3986's unreserved set and "/" becomes %XX (a space is %20, "+" is
// %2B), as S3 does (ceph s3-tests test_bucket_list_encoding_basic pins
// "quux ab/" -> "quux%20ab/", "foo+1/" -> "foo%2B1/"). Both url.PathUnescape
// and url.QueryUnescape (which the Alibaba OSS SDK uses) invert it, since
// no "+" is left in the output.
func (p listParams) enc(s string) string {
	if !p.urlEncode {
		return s
	}
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
	return b.String()
}

type listOwner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

type listContent struct {
	Key          string     `xml:"Key"`
	LastModified string     `xml:"LastModified"`
	ETag         string     `xml:"ETag"`
	Size         int64      `xml:"Size"`
	Owner        *listOwner `xml:"Owner,omitempty"`
	StorageClass string     `xml:"StorageClass"`
}

type listPrefix struct {
	Prefix string `xml:"Prefix"`
}

type listResultV1 struct {
	XMLName        xml.Name      `xml:"ListBucketResult"`
	Xmlns          string        `xml:"xmlns,attr"`
	Name           string        `xml:"Name"`
	Prefix         string        `xml:"Prefix"`
	Marker         string        `xml:"Marker"`
	NextMarker     string        `xml:"NextMarker,omitempty"`
	MaxKeys        int           `xml:"MaxKeys"`
	Delimiter      string        `xml:"Delimiter,omitempty"`
	EncodingType   string        `xml:"EncodingType,omitempty"`
	IsTruncated    bool          `xml:"IsTruncated"`
	Contents       []listContent `xml:"Contents"`
	CommonPrefixes []listPrefix  `xml:"CommonPrefixes"`
}

type listResultV2 struct {
	XMLName               xml.Name      `xml:"ListBucketResult"`
	Xmlns                 string        `xml:"xmlns,attr"`
	Name                  string        `xml:"Name"`
	Prefix                string        `xml:"Prefix"`
	ContinuationToken     string        `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string        `xml:"NextContinuationToken,omitempty"`
	StartAfter            string        `xml:"StartAfter,omitempty"`
	KeyCount              int           `xml:"KeyCount"`
	MaxKeys               int           `xml:"MaxKeys"`
	Delimiter             string        `xml:"Delimiter,omitempty"`
	EncodingType          string        `xml:"EncodingType,omitempty"`
	IsTruncated           bool          `xml:"IsTruncated"`
	Contents              []listContent `xml:"Contents"`
	CommonPrefixes        []listPrefix  `xml:"CommonPrefixes"`
}

// serveList answers ListObjects and ListObjectsV2 from the built-in backend.
func (s *Server) serveList(w http.ResponseWriter, r *http.Request, bucket string) {
	p, perr := parseList(r.URL.Query())
	if perr != nil {
		writeErrorBody(w, r, http.StatusBadRequest, *perr)
		return
	}
	if ok, _ := s.backend.BucketExists(bucket); !ok {
		writeError(w, r, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
		return
	}
	all, err := s.backend.ListBucket(bucket, &gofakes3.Prefix{HasPrefix: p.prefix != "", Prefix: p.prefix}, gofakes3.ListBucketPage{})
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	slices.SortFunc(all.Contents, func(a, b *gofakes3.Content) int { return cmp.Compare(a.Key, b.Key) })

	var (
		contents  []listContent
		prefixes  []listPrefix
		last      string // last entry listed
		lastCP    string // last common prefix listed
		n         int
		truncated bool
	)
	for _, c := range all.Contents {
		if c.Key <= p.marker {
			continue
		}
		if p.delimiter != "" {
			rest := c.Key[len(p.prefix):]
			if i := strings.Index(rest, p.delimiter); i >= 0 {
				cp := p.prefix + rest[:i+len(p.delimiter)]
				if cp == lastCP || cp <= p.marker {
					continue
				}
				if n == p.maxKeys {
					truncated = p.maxKeys > 0
					break
				}
				prefixes = append(prefixes, listPrefix{Prefix: p.enc(cp)})
				lastCP, last = cp, cp
				n++
				continue
			}
		}
		if n == p.maxKeys {
			truncated = p.maxKeys > 0
			break
		}
		lc := listContent{
			Key:          p.enc(c.Key),
			LastModified: c.LastModified.UTC().Format("2006-01-02T15:04:05.000Z"),
			ETag:         s.publicETag(objectID{bucket, c.Key}, c.ETag),
			Size:         c.Size,
			StorageClass: "STANDARD",
		}
		if p.owner {
			lc.Owner = &listOwner{ID: "fe7272ea58be830e56fe1663b10fafef", DisplayName: "s3test"}
		}
		contents = append(contents, lc)
		last = c.Key
		n++
	}

	const xmlns = "http://s3.amazonaws.com/doc/2006-03-01/"
	encType := ""
	if p.urlEncode {
		encType = "url"
	}
	var v any
	if p.v2 {
		res := &listResultV2{
			Xmlns: xmlns, Name: bucket, Prefix: p.enc(p.prefix),
			ContinuationToken: p.token, StartAfter: p.enc(p.startAfter),
			KeyCount: n, MaxKeys: p.maxKeys, Delimiter: p.enc(p.delimiter), EncodingType: encType,
			IsTruncated: truncated, Contents: contents, CommonPrefixes: prefixes,
		}
		if truncated {
			res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(last))
		}
		v = res
	} else {
		res := &listResultV1{
			Xmlns: xmlns, Name: bucket, Prefix: p.enc(p.prefix), Marker: p.enc(p.marker),
			MaxKeys: p.maxKeys, Delimiter: p.enc(p.delimiter), EncodingType: encType,
			IsTruncated: truncated, Contents: contents, CommonPrefixes: prefixes,
		}
		if truncated && p.delimiter != "" {
			res.NextMarker = p.enc(last)
		}
		v = res
	}
	body, err := xml.Marshal(v)
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	body = append([]byte(xml.Header), body...)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
