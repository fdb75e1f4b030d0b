package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain runs the program instead of the tests when TestDemo starts the
// test binary as the command.
func TestMain(m *testing.M) {
	if os.Getenv("TIERFS_DEMO_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestDemo runs the demo as a user would, on small shards: it exits 0,
// reads each pass exactly, resumes the cut body and catches the
// overwrite with objstore.ErrChanged.
func TestDemo(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-size", "2MiB", "-latency", "2ms")
	cmd.Env = append(os.Environ(), "TIERFS_DEMO_MAIN=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.Bytes())
	}
	s := out.String()
	for _, want := range []string{
		"baseline, one GET stream per object:",
		"tierfs, after a restart (disk tier):",
		"exactly: true",
		"errors.Is(err, objstore.ErrChanged) = true",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}
