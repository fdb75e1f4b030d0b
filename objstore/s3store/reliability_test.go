package s3store_test

import (
	"context"
	"io"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"

	"github.com/tierfs/tierfs/internal/s3test"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/s3store"
	"github.com/tierfs/tierfs/objstore/storetest"
)

// watchdog bounds a test that, before the bound it checks existed, hung:
// the calls must return on their own, well before it.
func watchdog(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// notWatchdog checks that a call returned an error of its own, before
// ctx (a watchdog) ended.
func notWatchdog(t *testing.T, ctx context.Context, what string, err error) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s: no error from a server that never answers well", what)
	case ctx.Err() != nil:
		t.Errorf("%s: %v: ended only by the test's own deadline", what, err)
	}
}

// TestServerNeverAnswers: a server that accepts requests and never
// answers fails Stat, reads and listings within the header timeout set in
// the URL (issue 11, finding 3); before, they hung.
func TestServerNeverAnswers(t *testing.T) {
	srv, newSite := fakeServer(t)
	st := newSite(t)
	u := "s3://" + st.bucket + "/" + st.prefix + "?path_style=true&header_timeout=50ms&endpoint=" + url.QueryEscape(srv.URL())
	s, err := objstore.Open(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.(io.Closer).Close() })
	srv.InjectFault(s3test.Fault{Kind: s3test.Hang, Times: -1})
	ctx := watchdog(t)
	_, err = s.Stat(ctx, "k")
	notWatchdog(t, ctx, "Stat", err)
	_, err = s.NewRangeReader(ctx, "k", 10, 100, objstore.ReadOptions{})
	notWatchdog(t, ctx, "NewRangeReader", err)
	_, err = s.List(ctx, objstore.ListOptions{})
	notWatchdog(t, ctx, "List", err)
	if err != nil && !strings.Contains(err.Error(), "timeout awaiting response headers") {
		t.Errorf("List: %v does not say it timed out awaiting headers", err)
	}
}

// TestTricklingBody: a body that sends a byte every few milliseconds never
// stalls for a whole StallTimeout, but brings less than MinRate: the
// reader gives it up and, its resumes spent, fails (issue 11, finding 3:
// a byte every 25 s never tripped the 30 s stall timeout).
func TestTricklingBody(t *testing.T) {
	srv, newSite := fakeServer(t)
	st := newSite(t)
	s := newStore(t, srv.URL(), st, &s3store.Options{Retry: objstore.RetryPolicy{
		MaxResumes: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond,
		StallTimeout: 100 * time.Millisecond, MinRate: 10_000, // 1,000 bytes a window
	}})
	data := storetest.Data(30, 100_000)
	v := put(t, s, "slow", data).Version
	srv.InjectFault(s3test.Fault{Kind: s3test.TrickleAfter, Method: "GET", Bucket: st.bucket, Key: st.prefix + "slow", AfterBytes: 5000, Stall: 5 * time.Millisecond, Times: -1})
	ctx := watchdog(t)
	r, err := s.NewRangeReader(ctx, "slow", 0, -1, objstore.ReadOptions{Version: v})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	notWatchdog(t, ctx, "read", err)
	if len(got) > len(data) || string(got) != string(data[:len(got)]) {
		t.Errorf("trickled read returned %d wrong bytes", len(got))
	}
	if r.Resumes() != 2 {
		t.Errorf("Resumes() = %d, want 2 (every body trickles)", r.Resumes())
	}
}

// TestEchoedRequest: a server whose error message repeats the request,
// Authorization header and all, does not put the access key or the
// signature into the error (issue 11, finding 4).
func TestEchoedRequest(t *testing.T) {
	srv, newSite := fakeServer(t)
	st := newSite(t)
	s := newStore(t, srv.URL(), st, nil)
	srv.InjectFault(s3test.Fault{Kind: s3test.Echo, Times: -1})
	_, err := s.NewRangeReader(t.Context(), "k", 0, -1, objstore.ReadOptions{})
	if err == nil {
		t.Fatal("read of an echoing server succeeded")
	}
	checkNoSecret(t, err)
	if m := regexp.MustCompile(`Signature=[0-9a-f]`).FindString(err.Error()); m != "" {
		t.Errorf("error %q holds a signature", err)
	}
	if !regexp.MustCompile(`Authorization: REDACTED`).MatchString(err.Error()) {
		t.Errorf("error %q: the echo was not there to redact (the test checks nothing)", err)
	}
}

// TestSDKLogsOff: the client New builds logs nothing (the SDK's default
// logger writes warnings to stderr).
func TestSDKLogsOff(t *testing.T) {
	srv, newSite := fakeServer(t)
	s := newStore(t, srv.URL(), newSite(t), nil)
	var c *s3.Client
	if !s.As(&c) {
		t.Fatal("As(**s3.Client) = false")
	}
	if _, ok := c.Options().Logger.(logging.Nop); !ok {
		t.Errorf("client logger is %T, want logging.Nop", c.Options().Logger)
	}
}
