package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// tmRunner runs the transfer-manager baseline, a separate program in its
// own module (benchmarks/tmbaseline) so that the transfer manager never
// enters the library's go.mod.
type tmRunner struct {
	bin      string
	tmpDir   string // removed by close; "" when bin was given
	endpoint string
	bucket   string
}

// tmDefaultConcurrency is the transfer manager's default goroutines per
// download (defaultTransferConcurrency in its api_client.go).
const tmDefaultConcurrency = 5

func newTMRunner(ctx context.Context, spec, endpoint, bucket string) (*tmRunner, error) {
	t := &tmRunner{bin: spec, endpoint: endpoint, bucket: bucket}
	if spec != "auto" {
		return t, nil
	}
	dir := filepath.Join(srcDir(), "tmbaseline")
	tmp, err := os.MkdirTemp("", "tierfs-tmbaseline")
	if err != nil {
		return nil, err
	}
	t.tmpDir, t.bin = tmp, filepath.Join(tmp, "tmbaseline")
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.close()
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "benchmarks: building the transfer-manager baseline in %s...\n", dir)
	cmd := exec.CommandContext(ctx, gobin, "build", "-o", t.bin, ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.close()
		return nil, fmt.Errorf("go build in %s: %w: %s", dir, err, strings.TrimSpace(string(out)))
	}
	return t, nil
}

func (t *tmRunner) close() {
	if t.tmpDir != "" {
		os.RemoveAll(t.tmpDir)
	}
}

// tmResult is what tmbaseline prints.
type tmResult struct {
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
}

// run downloads key once; api is getobject or download, typ parts or
// ranges, conc 0 for the default. The measurement covers the subprocess
// (its CPU comes from RUSAGE_CHILDREN) and the server in this process.
func (t *tmRunner) run(ctx context.Context, key, api, typ string, conc int) (tmResult, meas, error) {
	var res tmResult
	var out []byte
	m, err := measure(func() error {
		cmd := exec.CommandContext(ctx, t.bin, "-endpoint", t.endpoint, "-bucket", t.bucket, "-key", key,
			"-api", api, "-type", typ, "-concurrency", strconv.Itoa(conc))
		cmd.Stderr = os.Stderr
		var err error
		out, err = cmd.Output()
		return err
	})
	if err != nil {
		return res, m, fmt.Errorf("tmbaseline %s %s %d: %w", api, typ, conc, err)
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return res, m, fmt.Errorf("tmbaseline output %q: %w", out, err)
	}
	return res, m, nil
}
