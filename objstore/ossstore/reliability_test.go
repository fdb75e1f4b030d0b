package ossstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tierfs/tierfs/internal/s3test"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/ossstore"
)

// TestServerNeverAnswers: a server that accepts requests and never
// answers fails Stat, reads and listings within Options.HeaderTimeout
// (issue 11, finding 3); before, they hung.
func TestServerNeverAnswers(t *testing.T) {
	srv := s3test.Start(t, s3test.Config{})
	opts := testOptions(srv)
	opts.HeaderTimeout = 50 * time.Millisecond
	s, err := ossstore.New(t.Context(), newBucket(t, srv), "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	srv.InjectFault(s3test.Fault{Kind: s3test.Hang, Times: -1})
	// A watchdog: the calls must end on their own, well before it.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	_, statErr := s.Stat(ctx, "k")
	_, readErr := s.NewRangeReader(ctx, "k", 10, 100, objstore.ReadOptions{})
	_, listErr := s.List(ctx, objstore.ListOptions{})
	for what, err := range map[string]error{"Stat": statErr, "NewRangeReader": readErr, "List": listErr} {
		switch {
		case err == nil:
			t.Errorf("%s: no error from a server that never answers", what)
		case ctx.Err() != nil:
			t.Errorf("%s: %v: ended only by the test's own deadline", what, err)
		}
	}
}

// TestEchoedRequest: a server whose error message repeats the request,
// Authorization header and all, does not put the key id or the
// signature into the error (issue 11, finding 4).
func TestEchoedRequest(t *testing.T) {
	srv := s3test.Start(t, s3test.Config{})
	s, _ := newStore(t, srv, "p")
	srv.InjectFault(s3test.Fault{Kind: s3test.Echo, Times: -1})
	_, err := s.NewRangeReader(t.Context(), "k", 0, -1, objstore.ReadOptions{})
	if err == nil {
		t.Fatal("read of an echoing server succeeded")
	}
	msg := err.Error()
	for _, secret := range []string{testKeyID, testSecret, "Signature=", "x-oss-signature"} {
		if strings.Contains(strings.ToLower(msg), strings.ToLower(secret)) && !strings.Contains(msg, secret+"REDACTED") {
			t.Errorf("error %q holds %q", msg, secret)
		}
	}
	if !strings.Contains(msg, "Authorization: REDACTED") {
		t.Errorf("error %q: the echo was not there to redact (the test checks nothing)", msg)
	}
}
