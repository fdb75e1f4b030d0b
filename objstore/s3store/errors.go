package s3store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/tierfs/tierfs/objstore"
)

// newError reports a failure of New or of the URL opener.
func newError(sentinel, cause error) error {
	return objstore.NewError("open", "", sentinel, fmt.Errorf("s3: %w", cause))
}

// errReply marks a reply that lacks what a read needs or contradicts the
// request (no Content-Length, a Content-Range for another range, no
// ETag); mapError maps it to objstore.ErrBadResponse.
var errReply = errors.New("bad reply")

// badReply returns an error wrapping errReply.
func badReply(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errReply}, args...)...)
}

// mapError turns an error of the SDK (or of this package) from op on key
// into an *objstore.Error wrapping the matching sentinel beside the cause,
// so that errors.Is finds the sentinel and errors.As the SDK's types
// (smithy.APIError, *awshttp.ResponseError). Context errors stay reachable
// with errors.Is. pinned says the request was pinned to a version: then a
// missing key (but not a missing bucket) means the version is gone, which
// is objstore.ErrChanged.
func mapError(op, key string, err error, pinned bool) error {
	if err == nil {
		return nil
	}
	var oe *objstore.Error
	if errors.As(err, &oe) {
		return err
	}
	// A server's message may echo the signed request back.
	cause := fmt.Errorf("s3: %w", objstore.RedactError(err))
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return objstore.NewError(op, key, nil, cause)
	}
	var ev *errVersion
	if errors.As(err, &ev) {
		return objstore.NewError(op, key, objstore.ErrChanged, cause)
	}
	if errors.Is(err, errReply) {
		return objstore.NewError(op, key, objstore.ErrBadResponse, cause)
	}
	var es *errSize
	var et *errTooLarge
	if errors.As(err, &es) || errors.As(err, &et) {
		return objstore.NewError(op, key, fs.ErrInvalid, cause)
	}
	sentinel := classify(err)
	if pinned && sentinel == fs.ErrNotExist && !isNoSuchBucket(err) {
		sentinel = objstore.ErrChanged
	}
	return objstore.NewError(op, key, sentinel, cause)
}

// classify maps an S3 error code, or failing that the HTTP status, to a
// sentinel; nil if none fits (throttling and server errors, which the SDK
// has already retried, network errors).
func classify(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchBucket", "NoSuchVersion":
			return fs.ErrNotExist
		case "AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch",
			"AllAccessDisabled", "AccountProblem", "ExpiredToken", "InvalidToken",
			"TokenRefreshRequired", "RequestTimeTooSkewed",
			"XAdminUserNotFound": // versitygw's answer (with 404) to an unknown access key

			return fs.ErrPermission
		case "PreconditionFailed":
			return objstore.ErrChanged
		case "InvalidRange":
			return fs.ErrInvalid
		case "InvalidBucketName", "KeyTooLongError":
			return fs.ErrInvalid
		}
	}
	return objstore.StatusSentinel(httpStatus(err))
}

// httpStatus returns the HTTP status code of the response behind err, or
// 0 if there was none.
func httpStatus(err error) int {
	var are *awshttp.ResponseError
	if errors.As(err, &are) {
		return are.HTTPStatusCode()
	}
	var sre *smithyhttp.ResponseError
	if errors.As(err, &sre) {
		return sre.HTTPStatusCode()
	}
	return 0
}

func isNoSuchBucket(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "NoSuchBucket"
}
