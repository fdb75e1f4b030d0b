package main

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"testing"
)

// TestMain runs the program instead of the tests when the test binary is
// started as the fleet (TestFleet) or as one of its members, which the
// fleet starts as its own executable with -member.
func TestMain(m *testing.M) {
	if os.Getenv("TIERFS_FLEET_MAIN") == "1" || slices.Contains(os.Args[1:], "-member") {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestFleet runs the program as a user would, with 4 member processes and
// a small model: it exits 0, every member reads exact bytes, and the
// origin sends the model about once.
func TestFleet(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-n", "4", "-size", "32MiB", "-latency", "5ms", "-bandwidth", "200MB")
	cmd.Env = append(os.Environ(), "TIERFS_FLEET_MAIN=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("%s", out.Bytes())
	if err != nil {
		t.Fatalf("fleet: %v", err)
	}
	m := regexp.MustCompile(`origin bytes ÷ model size = ([0-9.]+)`).FindSubmatch(out.Bytes())
	if m == nil {
		t.Fatal("no origin bytes ÷ model size printed")
	}
	ratio, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	if ratio > 1.05 {
		t.Errorf("origin bytes ÷ model size = %.3f; want ≤ 1.05", ratio)
	}
	if n := len(regexp.MustCompile(`(?m) ok$`).FindAll(out.Bytes(), -1)); n != 4 {
		t.Errorf("%d members printed ok; want 4", n)
	}
}
