package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestMain runs the program instead of the tests when TestDataloader
// starts the test binary as the command.
func TestMain(m *testing.M) {
	if os.Getenv("TIERFS_DATALOADER_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestDataloader runs the command as a user would, on 6 shards of 4 MiB,
// with -hold so that /metrics stays up after the epochs: both epochs read
// every sample, the second sends nothing to the store and hits the memory
// tier, /metrics (on a free port) shows hits, misses and origin bytes, and
// the command exits 0 when interrupted.
func TestDataloader(t *testing.T) {
	// Shards of 4 MiB: smaller ones (under half a block) are read as byte
	// ranges, whose second reading Stats.Tiers counts as misses, not hits.
	const shards, samples, size = 6, 32, 128 << 10
	cmd := exec.Command(os.Args[0], "-shards", strconv.Itoa(shards), "-samples", strconv.Itoa(samples),
		"-sample-size", strconv.Itoa(size), "-workers", "3", "-latency", "2ms", "-metrics", "127.0.0.1:0", "-hold")
	cmd.Env = append(os.Environ(), "TIERFS_DATALOADER_MAIN=1")
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

	var out bytes.Buffer
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "serving /metrics") {
		out.WriteString(sc.Text() + "\n")
	}
	t.Logf("%s", out.Bytes())
	m := regexp.MustCompile(`metrics on (http://\S+/metrics)`).FindSubmatch(out.Bytes())
	if m == nil {
		t.Fatalf("no metrics address printed; stderr: %s", stderr.Bytes())
	}
	resp, err := http.Get(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("dataloader: %v; stderr: %s", err, stderr.Bytes())
	}

	epochs := regexp.MustCompile(`epoch (\d): (\d+) samples.*\n  origin: (\d+) GETs, ([0-9.]+) MiB; memory: (\d+) hits`).FindAllSubmatch(out.Bytes(), -1)
	if len(epochs) != 2 {
		t.Fatalf("%d epoch reports; want 2", len(epochs))
	}
	for _, e := range epochs {
		if n, _ := strconv.Atoi(string(e[2])); n != shards*samples {
			t.Errorf("epoch %s: %d samples; want %d", e[1], n, shards*samples)
		}
	}
	data := float64(shards*samples*size) / (1 << 20)
	if got, _ := strconv.ParseFloat(string(epochs[0][4]), 64); got < data {
		t.Errorf("epoch 1: %.1f MiB from the origin; want at least the %.1f MiB of samples", got, data)
	}
	if gets, mb := string(epochs[1][3]), string(epochs[1][4]); gets != "0" || mb != "0.0" {
		t.Errorf("epoch 2: %s GETs, %s MiB from the origin; want 0", gets, mb)
	}
	if hits := string(epochs[1][5]); hits == "0" {
		t.Error("epoch 2: 0 memory hits")
	}

	for _, want := range []struct{ metric, label string }{
		{"tierfs_tier_lookups_total", `result="hit"`},
		{"tierfs_tier_lookups_total", `result="miss"`},
		{"tierfs_store_bytes_total", `direction="received"`},
	} {
		if v := sum(metrics, want.metric, want.label); v <= 0 {
			t.Errorf("/metrics: %s{%s} = %v; want > 0\n%s", want.metric, want.label, v, metrics)
		}
	}
}

// sum adds the values of metric's series that carry label in the text
// exposition format.
func sum(text []byte, metric, label string) float64 {
	var total float64
	for line := range strings.Lines(string(text)) {
		rest, ok := strings.CutPrefix(line, metric+"{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok || !strings.Contains(labels, label) {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err == nil {
			total += v
		}
	}
	return total
}
