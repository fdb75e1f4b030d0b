package s3store

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/smithy-go/logging"
)

// The SDK's log lines reach the caller's logger: warnings at Warn, the
// rest at Debug, and never a credential.
func TestSDKLogger(t *testing.T) {
	var buf bytes.Buffer
	l := sdkLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	l.Logf(logging.Warn, "Response has no supported checksum. %s", "Not validating response payload.")
	l.Logf(logging.Debug, "request Authorization: AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/s3/aws4_request, Signature=%s", "deadbeefcafe")
	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], "no supported checksum") || !strings.Contains(lines[1], "level=DEBUG") {
		t.Errorf("log lines:\n%s", out)
	}
	if strings.Contains(out, "deadbeefcafe") || strings.Contains(out, "AKIAEXAMPLE") {
		t.Errorf("a credential reached the log:\n%s", out)
	}
}
