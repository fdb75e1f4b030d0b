package objstore

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
)

// ErrChanged reports that the object no longer has the version a read was
// pinned to (HTTP 412 from the store, or a response of another version).
// Bytes of the pinned version can no longer be had from the origin.
//
// Errors returned by a Store wrap at most one sentinel with %w, beside the
// backend's own error:
//
//	errors.Is(err, fs.ErrNotExist)   // no such key, or no such bucket
//	errors.Is(err, fs.ErrPermission) // access denied, bad credentials
//	errors.Is(err, fs.ErrInvalid)    // bad key, bad range, bad URL
//	errors.Is(err, ErrChanged)       // version precondition failed
//	errors.Is(err, fs.ErrExist)      // a key clashes with a "directory" (file backends)
//	errors.Is(err, ErrBadResponse)   // the store's reply lacks what a read needs
var ErrChanged = errors.New("objstore: object changed")

// ErrBadResponse reports a reply from the store that a read cannot trust:
// no Content-Length (or Content-Range) to tell how many bytes it carries,
// a Content-Range that is not the range asked for, or no ETag or version
// id to pin the read to one version. The SDKs turn a missing header into
// zero, which would read as an empty object or a version that matches
// any; backends refuse such a reply instead. A gateway that strips these
// headers cannot be read through.
var ErrBadResponse = errors.New("objstore: bad response")

// Error is the error type backends return: it names the operation and key,
// and wraps the sentinel (if any) and the backend's cause, so that both
// errors.Is(err, fs.ErrNotExist) and errors.As(err, &smithy.APIError) work.
type Error struct {
	Op       string // "stat", "read", "list", "put", "delete", "open"
	Key      string // the key or prefix, relative to the store's root
	Sentinel error  // one of the sentinels above, or nil
	Err      error  // the cause; may be nil when Sentinel says it all
}

func (e *Error) Error() string {
	msg := "objstore: " + e.Op
	if e.Key != "" {
		msg += fmt.Sprintf(" %q", e.Key)
	}
	var sentinel string
	if e.Sentinel != nil {
		sentinel = strings.TrimPrefix(e.Sentinel.Error(), "objstore: ")
	}
	switch {
	case e.Sentinel != nil && e.Err != nil:
		return msg + ": " + sentinel + ": " + e.Err.Error()
	case e.Sentinel != nil:
		return msg + ": " + sentinel
	case e.Err != nil:
		return msg + ": " + e.Err.Error()
	}
	return msg + ": failed"
}

// Unwrap returns the sentinel and the cause.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Sentinel != nil {
		errs = append(errs, e.Sentinel)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// NewError returns an *Error for op on key wrapping sentinel (may be nil)
// and cause (may be nil).
func NewError(op, key string, sentinel, cause error) error {
	return &Error{Op: op, Key: key, Sentinel: sentinel, Err: cause}
}

// StatusSentinel returns the sentinel an object store's HTTP status code
// maps to (404 fs.ErrNotExist; 401 and 403 fs.ErrPermission; 412
// ErrChanged; 416 fs.ErrInvalid), or nil. Backends use it when a response
// carries no error code of its own, as HEAD responses do not.
func StatusSentinel(status int) error {
	switch status {
	case http.StatusNotFound:
		return fs.ErrNotExist
	case http.StatusForbidden, http.StatusUnauthorized:
		return fs.ErrPermission
	case http.StatusPreconditionFailed:
		return ErrChanged
	case http.StatusRequestedRangeNotSatisfiable:
		return fs.ErrInvalid
	}
	return nil
}
