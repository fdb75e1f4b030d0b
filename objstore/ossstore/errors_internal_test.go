package ossstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"testing"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"

	"github.com/tierfs/tierfs/objstore"
)

func TestSentinelFor(t *testing.T) {
	svc := func(status int, code string) error {
		return fmt.Errorf("wrapped: %w", &oss.ServiceError{StatusCode: status, Code: code, Message: "Some Message.", RequestID: "rid"})
	}
	cases := []struct {
		err  error
		want error
	}{
		{svc(404, "NoSuchKey"), fs.ErrNotExist},
		{svc(404, "NoSuchBucket"), fs.ErrNotExist},
		{svc(404, "BadErrorResponse"), fs.ErrNotExist}, // HEAD: no body, no code
		{svc(404, "NoSuchVersion"), objstore.ErrChanged},
		{svc(403, "AccessDenied"), fs.ErrPermission},
		{svc(403, "InvalidAccessKeyId"), fs.ErrPermission},
		{svc(403, "SignatureDoesNotMatch"), fs.ErrPermission},
		{svc(403, "BadErrorResponse"), fs.ErrPermission},
		{svc(400, "InvalidAccessKeyId"), fs.ErrPermission}, // by code, whatever the status
		{svc(412, "PreconditionFailed"), objstore.ErrChanged},
		{svc(412, "BadErrorResponse"), objstore.ErrChanged},
		{svc(416, "InvalidRange"), fs.ErrInvalid},
		{svc(416, ""), fs.ErrInvalid},
		{svc(400, "InvalidObjectName"), fs.ErrInvalid},
		{svc(500, "InternalError"), nil},
		{svc(503, "SlowDown"), nil},
		{svc(400, "InvalidArgument"), nil},
		{oss.NewErrParamInvalid("request.Bucket"), fs.ErrInvalid},
		{errors.New("connection reset by peer"), nil},
		{context.Canceled, nil},
	}
	for _, c := range cases {
		if got := sentinelFor(c.err); got != c.want {
			t.Errorf("sentinelFor(%v) = %v, want %v", c.err, got, c.want)
		}
		err := mapError("stat", "some/key", c.err)
		if c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("mapError(%v) = %v, not wrapping %v", c.err, err, c.want)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("mapError(%v) = %v, lost the cause", c.err, err)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, `objstore: oss: stat "some/key": `) || strings.Contains(msg, "\n") {
			t.Errorf("mapError(%v) text %q: want one line starting objstore: oss: stat", c.err, msg)
		}
	}
	var se *oss.ServiceError
	if err := mapError("read", "k", svc(412, "PreconditionFailed")); !errors.As(err, &se) || se.StatusCode != 412 {
		t.Errorf("errors.As to *oss.ServiceError failed on %v", err)
	}
}

func TestBodyRange(t *testing.T) {
	good := []struct {
		status      int
		cr          string
		cl          int64
		start, size int64
	}{
		{206, "bytes 0-99/1000", 100, 0, 1000},
		{206, "bytes 999-999/1000", 1, 999, 1000},
		{206, "bytes 10-19/20", -1, 10, 20},
		{200, "", 1000, 0, 1000},
		{200, "", 0, 0, 0},
	}
	for _, c := range good {
		start, _, size, err := bodyRange(c.status, c.cr, c.cl)
		if err != nil || start != c.start || size != c.size {
			t.Errorf("bodyRange(%d, %q, %d) = %d, %d, %v; want %d, %d", c.status, c.cr, c.cl, start, size, err, c.start, c.size)
		}
	}
	bad := []struct {
		status int
		cr     string
		cl     int64
	}{
		{206, "", 100},
		{206, "bytes 0-99/*", 100},
		{206, "bytes 0-99/99", 100},
		{206, "bytes 10-9/100", 0},
		{206, "bytes -1-9/100", 11},
		{206, "items 0-9/100", 10},
		{206, "bytes 0-99/1000", 50},
		{200, "", -1},
	}
	for _, c := range bad {
		if _, _, _, err := bodyRange(c.status, c.cr, c.cl); err == nil {
			t.Errorf("bodyRange(%d, %q, %d) accepted", c.status, c.cr, c.cl)
		}
	}
}

func TestContentLength(t *testing.T) {
	for v, want := range map[string]int64{"": -1, "0": 0, "300000": 300000, "-5": -1, "x": -1} {
		h := http.Header{}
		if v != "" {
			h.Set("Content-Length", v)
		}
		if got := contentLength(h); got != want {
			t.Errorf("contentLength(%q) = %d, want %d", v, got, want)
		}
	}
}

func TestRegionOf(t *testing.T) {
	for host, want := range map[string]string{
		"oss-cn-hangzhou.aliyuncs.com":          "cn-hangzhou",
		"oss-cn-hangzhou-internal.aliyuncs.com": "cn-hangzhou",
		"OSS-us-west-1.aliyuncs.com":            "us-west-1",
		"oss-accelerate.aliyuncs.com":           "",
		"cn-hangzhou.oss.aliyuncs.com":          "",
		"127.0.0.1":                             "",
		"oss-cn-hangzhou.aliyuncs.com.evil.com": "",
	} {
		if got := regionOf(host); got != want {
			t.Errorf("regionOf(%q) = %q, want %q", host, got, want)
		}
	}
}
