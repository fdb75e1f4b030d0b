package ossstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"

	"github.com/tierfs/tierfs/objstore"
)

// newError returns an *objstore.Error whose text starts "objstore: oss: op".
func newError(op, key string, sentinel, cause error) error {
	return objstore.NewError("oss: "+op, key, sentinel, cause)
}

// openError is an error of New or of the URL opener.
func openError(cause error) error {
	return fmt.Errorf("objstore: oss: open: %w", cause)
}

// sentinelFor classifies an SDK error by the OSS error code and the HTTP
// status, never by message text. It returns nil for errors that match no
// sentinel (throttling, server errors, network errors).
func sentinelFor(err error) error {
	var se *oss.ServiceError
	if errors.As(err, &se) {
		switch se.Code {
		case "NoSuchKey", "NoSuchBucket":
			return fs.ErrNotExist
		case "NoSuchVersion":
			// A read pinned to a version id the bucket no longer has.
			return objstore.ErrChanged
		case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
			"SecurityTokenExpired", "InvalidSecurityToken", "AccountDisabled":
			return fs.ErrPermission
		case "PreconditionFailed":
			return objstore.ErrChanged
		case "InvalidRange":
			return fs.ErrInvalid
		case "InvalidObjectName", "InvalidBucketName", "KeyTooLong":
			return fs.ErrInvalid
		}
		// HEAD responses carry no body, so their code may be missing
		// ("BadErrorResponse"): the status decides.
		return objstore.StatusSentinel(se.StatusCode)
	}
	var pe oss.InvalidParamError
	if errors.As(err, &pe) {
		return fs.ErrInvalid
	}
	return nil
}

// mapError wraps an SDK error of op on key: the sentinel found by
// sentinelFor beside the SDK's error, kept reachable for errors.As.
func mapError(op, key string, err error) error {
	if err == nil {
		return nil
	}
	return newError(op, key, sentinelFor(err), &sdkError{err: err})
}

// sdkError gives an SDK error a one-line, lower-case text. The SDK's own
// ServiceError text spans eight lines; the parts kept here are the
// operation, status, code, message and request id. The request URL,
// which names the endpoint and bucket, is left out; no credential is in
// any of them (requests are signed in headers, never in the URL).
type sdkError struct{ err error }

func (e *sdkError) Unwrap() error { return e.err }

// Error is passed through objstore.RedactText: a server's message may
// echo the signed request back.
func (e *sdkError) Error() string { return objstore.RedactText(e.text()) }

func (e *sdkError) text() string {
	var b strings.Builder
	var oe *oss.OperationError
	if errors.As(e.err, &oe) {
		b.WriteString(strings.ToLower(oe.Operation()))
		b.WriteString(": ")
	}
	var se *oss.ServiceError
	switch {
	case errors.As(e.err, &se):
		fmt.Fprintf(&b, "status %d", se.StatusCode)
		if se.Code != "" && se.Code != "BadErrorResponse" {
			fmt.Fprintf(&b, " %s", se.Code)
		}
		if se.Message != "" && se.Code != "BadErrorResponse" {
			fmt.Fprintf(&b, ": %s", strings.TrimSuffix(oneLine(se.Message), "."))
		}
		if se.RequestID != "" {
			fmt.Fprintf(&b, " (request id %s)", se.RequestID)
		}
	case errors.Is(e.err, context.Canceled):
		b.WriteString(context.Canceled.Error())
	case errors.Is(e.err, context.DeadlineExceeded):
		b.WriteString(context.DeadlineExceeded.Error())
	case oe != nil:
		b.WriteString(oneLine(oe.Unwrap().Error()))
	default:
		b.WriteString(oneLine(e.err.Error()))
	}
	return b.String()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
