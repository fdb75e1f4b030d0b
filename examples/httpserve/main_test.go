package main

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"testing"
)

// TestMain runs the program instead of the tests when TestHTTPServe
// starts the test binary as the command.
func TestMain(m *testing.M) {
	if os.Getenv("TIERFS_HTTPSERVE_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestHTTPServe runs the command on a free port and asks it for a range
// of a file, then for the file again with If-None-Match: the range comes
// back as 206 with the right bytes and an ETag that is the object's
// (the MD5 of its bytes, as S3 gives for a single-part upload); the
// conditional request gets 304 with no body, and one with another ETag
// gets the whole file. Interrupted, the command exits 0.
func TestHTTPServe(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "TIERFS_HTTPSERVE_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	m := regexp.MustCompile(`serving on (http://\S+/)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no address printed: %q, %v; stderr: %s", line, err, stderr.Bytes())
	}
	url := m[1] + "images/img-0002.bin"
	want := generated(2)
	sum := md5.Sum(want)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`

	get := func(header ...string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}

	resp, body := get("Range", "bytes=1000-1999")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, want[1000:2000]) {
		t.Errorf("range: %s, %d bytes (right bytes: %v); want 206 and bytes 1000-1999", resp.Status, len(body), bytes.Equal(body, want[1000:2000]))
	}
	if got := resp.Header.Get("ETag"); got != etag {
		t.Errorf("ETag %q; want the object's %q", got, etag)
	}
	resp, body = get("If-None-Match", etag)
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("If-None-Match with the ETag: %s, %d bytes; want 304 and none", resp.Status, len(body))
	}
	resp, body = get("If-None-Match", `"another"`)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
		t.Errorf("If-None-Match with another ETag: %s, %d bytes; want 200 and the %d bytes of the file", resp.Status, len(body), len(want))
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("httpserve: %v; stderr: %s", err, stderr.Bytes())
	}
}
