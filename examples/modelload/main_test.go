package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestModelLoad loads a 16 MiB generated model cold, warm and after a
// restart: every tensor's bytes match their checksum each time, the cold
// load fetches at least the model from the store, the warm load nothing,
// and the restarted FS (the same disk-tier directory) no tensor bytes.
func TestModelLoad(t *testing.T) {
	const sizeMiB = 16
	var out bytes.Buffer
	err := run(context.Background(), config{
		file: "model.safetensors", sizeMiB: sizeMiB, parallel: 4, memMiB: 64,
		cacheDir: t.TempDir(), latency: 2 * time.Millisecond, bandwidth: 200e6,
	}, &out)
	t.Logf("%s", out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	passes := regexp.MustCompile(`(?m)^(\w+): +([0-9.]+) MiB in .*; origin: (\d+) GETs, ([0-9.]+) MiB; (\d+) tensors checked$`).FindAllSubmatch(out.Bytes(), -1)
	if len(passes) != 3 {
		t.Fatalf("%d passes printed; want 3", len(passes))
	}
	for i, p := range passes {
		name, origin := string(p[1]), num(t, p[4])
		if got := num(t, p[2]); got < sizeMiB-0.1 || got > sizeMiB+0.1 {
			t.Errorf("%s: read %.1f MiB; want %d", name, got, sizeMiB)
		}
		if n := num(t, p[5]); n != 8 {
			t.Errorf("%s: %v tensors checked; want 8 (2 MiB each)", name, n)
		}
		switch {
		case i == 0 && origin < sizeMiB:
			t.Errorf("cold: %.1f MiB from the store; want at least the model's %d", origin, sizeMiB)
		case i == 1 && (origin != 0 || num(t, p[3]) != 0):
			t.Errorf("warm: %s GETs, %.1f MiB from the store; want 0", p[3], origin)
		case i == 2 && origin > 0.2:
			// The open of a name the new FS does not know fetches the
			// file's first 128 KiB; the tensors come from the disk tier.
			t.Errorf("restart: %.1f MiB from the store; want at most the open's 0.1", origin)
		}
	}
}

func num(t *testing.T, b []byte) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
