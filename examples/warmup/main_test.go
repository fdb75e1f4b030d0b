package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/tierfs/tierfs/internal/s3test"
)

// TestWarmupRerun warms a prefix of 4 files of 9 MiB (2 blocks each) into
// one cache directory three times, as a scheduled job would, through -url
// against a loopback S3 server: first while one file cannot be read
// (skipped, exit status 1), then again (the 6 blocks warmed before are
// already cached, the 2 of the skipped file are fetched), then once more
// (all 8 already cached, 0 GETs at the server).
func TestWarmupRerun(t *testing.T) {
	srv := s3test.Start(t, s3test.Config{})
	if err := srv.CreateBucket("data"); err != nil {
		t.Fatal(err)
	}
	r := rand.NewChaCha8([32]byte{9})
	for i := range 4 {
		b := make([]byte, 9<<20)
		r.Read(b)
		if err := srv.PutObject("data", fmt.Sprintf("train/part-%d.bin", i), b); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.PutObject("data", "val/part-0.bin", []byte("not warmed")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "x")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	c := config{
		url:      "s3://data?region=us-east-1&path_style=true&endpoint=" + srv.URL(),
		patterns: []string{"train"}, cacheDir: t.TempDir(), quotaGiB: 1, concurrency: 4,
	}

	for _, want := range []struct {
		cached, fetched, skipped int
		fail                     bool
	}{
		{cached: 0, fetched: 6, skipped: 1, fail: true},
		{cached: 6, fetched: 2, skipped: 0},
		{cached: 8, fetched: 0, skipped: 0},
	} {
		if want.fail {
			srv.InjectFault(s3test.Fault{Kind: s3test.Deny, Method: "GET", Bucket: "data", Key: "train/part-2.bin", Times: -1})
		}
		srv.ResetStats()
		var out, bar bytes.Buffer
		err := run(context.Background(), c, &out, &bar)
		srv.ClearFaults()
		t.Logf("%s%s", bar.Bytes(), out.Bytes())
		if (err != nil) != want.fail {
			t.Fatalf("run: %v; want failure %v", err, want.fail)
		}
		m := regexp.MustCompile(`(?s)4 files, 36.0 MiB, 8 blocks in .*\n  already cached: (\d+) blocks\n  fetched: +(\d+) blocks, .* in (\d+) GETs\n  skipped: +(\d+) files\n`).FindSubmatch(out.Bytes())
		if m == nil {
			t.Fatal("no figures printed for 4 files, 36 MiB, 8 blocks")
		}
		got := fmt.Sprintf("cached %s, fetched %s, skipped %s", m[1], m[2], m[4])
		if w := fmt.Sprintf("cached %d, fetched %d, skipped %d", want.cached, want.fetched, want.skipped); got != w {
			t.Errorf("%s; want %s", got, w)
		}
		if gets := srv.Total().Gets; want.fetched == 0 && gets != 0 {
			t.Errorf("%d GETs at the server; want 0", gets)
		}
		if !strings.Contains(bar.String(), "] 100%  4/4 files  36.0/36.0 MiB") {
			t.Errorf("the progress bar does not end at 100%%: %q", bar.String())
		}
	}
}
