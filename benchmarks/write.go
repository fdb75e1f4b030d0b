package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/tierfs/tierfs/internal/s3test"
)

// writeKey is the object scenario 8 writes.
const writeKey = "checkpoints/step-1000/model.bin"

// writeResult is what benchmarks/writeload prints.
type writeResult struct {
	Bytes        int64   `json:"bytes"`
	WriteSeconds float64 `json:"write_seconds"`
	CloseSeconds float64 `json:"close_seconds"`
	ReadSeconds  float64 `json:"read_seconds"`
	RSSAfter     int64   `json:"rss_after_write"`
	RSSEnd       int64   `json:"rss_end"`
	AnonPeak     int64   `json:"anon_peak_write"`
	ReadGets     int64   `json:"read_gets"`
	Puts         int64   `json:"puts"`
	Match        bool    `json:"match"`
}

// writeCheckpoint is scenario 8: a checkpoint of -write-size bytes
// written through FS.CreateContext by a subprocess (benchmarks/writeload,
// so that its peak RSS is the writer's, not the in-memory server's),
// uploads shaped as downloads are (the same caps on what the server
// reads), then read back at once through the same FS.
func (e *env) writeCheckpoint(ctx context.Context) error {
	c := e.cfg
	sc := fmt.Sprintf("8. checkpoint write of %s through CreateContext (disk tier, no memory tier): parts of %s, %d at once, uploads capped at %s a connection and %s in total; read back at once",
		human(c.writeSize), human(c.partSize), c.writeConc, rate(c.connBW), rate(c.totalBW))
	tmp, err := os.MkdirTemp("", "tierfs-bench-write")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "writeload")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join(srcDir(), "writeload")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build in %s: %w: %s", cmd.Dir, err, strings.TrimSpace(string(out)))
	}
	if !e.partsReserved {
		// The in-memory server stores the parts; on a machine whose
		// fresh pages cost more than the link (a VM whose host maps them
		// lazily), it would bound both uploads. Its buffers are faulted
		// in once, untimed, and reused by each run's parts.
		parts := int((c.writeSize + c.partSize - 1) / c.partSize)
		if err := e.srv.ReserveParts(c.partSize, parts+c.writeConc); err != nil {
			return err
		}
		e.partsReserved = true
	}
	prev := s3test.Shaping{Latency: c.latency, ConnBandwidth: c.connBW, TotalBandwidth: c.totalBW}
	e.srv.SetShaping(s3test.Shaping{Latency: c.latency, ConnBandwidth: c.connBW, TotalBandwidth: c.totalBW,
		UpConnBandwidth: c.connBW, UpTotalBandwidth: c.totalBW})
	defer e.srv.SetShaping(prev)
	defer e.srv.DeleteObject(e.bucket, writeKey)
	e.srv.ResetStats()

	var res writeResult
	var out []byte
	m, err := measure(func() error {
		args := []string{"-endpoint", e.srv.URL(), "-bucket", e.bucket, "-key", writeKey,
			"-size", strconv.FormatInt(c.writeSize, 10), "-part-size", strconv.FormatInt(c.partSize, 10),
			"-concurrency", strconv.Itoa(c.writeConc), "-disk", filepath.Join(tmp, "disk"),
			"-seed", strconv.FormatUint(c.seed, 10)}
		if c.cpuProfile != "" {
			args = append(args, "-cpuprofile", c.cpuProfile+".writeload", "-memprofile", c.cpuProfile+".writeload.mem")
		}
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Stderr = os.Stderr
		var err error
		out, err = cmd.Output()
		return err
	})
	if err != nil {
		return fmt.Errorf("writeload: %w", err)
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return fmt.Errorf("writeload output %q: %w", out, err)
	}
	if !res.Match {
		return fmt.Errorf("the checkpoint read back differs from what was written")
	}
	st := e.srv.Stats(e.bucket, writeKey)
	link := linkLimit(c.totalBW, c.connBW, c.writeConc)
	wrate := float64(res.Bytes) / res.WriteSeconds / 1e6

	// The baseline: the plain SDK's multipart upload of the same bytes,
	// the same parts, as many at once, in this process.
	e.srv.DeleteObject(e.bucket, writeKey)
	var complete time.Duration
	bm, err := measure(func() error {
		var err error
		complete, err = e.sdkUpload(ctx, writeKey+".sdk", c.writeSize, c.partSize, c.writeConc)
		return err
	})
	defer e.srv.DeleteObject(e.bucket, writeKey+".sdk")
	brate := 0.0
	if err != nil {
		e.res.add(row{Scenario: sc, Name: "plain SDK multipart upload", NA: true, Unit: "MB/s", Role: roleBaseline, Note: err.Error()})
	} else {
		brate = float64(c.writeSize) / bm.wall.Seconds() / 1e6
		e.res.add(row{Scenario: sc, Name: fmt.Sprintf("plain SDK multipart upload (%s parts, %d at once)", human(c.partSize), c.writeConc), Value: brate, Unit: "MB/s", CPU: bm.cpu, Role: roleBaseline,
			Versus: times(ratio(brate, link), "link"),
			Note:   fmt.Sprintf("%.1f s of %.1f s in the server's CompleteMultipartUpload", complete.Seconds(), bm.wall.Seconds())})
	}
	x := e.res.add(row{Scenario: sc, Name: "tierfs write (CreateContext to Close)", Value: wrate, Unit: "MB/s", Role: roleTierfs,
		Versus: joinNonEmpty(times(ratio(wrate, link), "link"), times(ratio(wrate, brate), "plain SDK")),
		Note: fmt.Sprintf("%.1f s of %.1f s in Close (the last parts, the server's CompleteMultipartUpload, the written blocks moved under the new version); %d PUTs (parts) at the server, %d counted by the FS; CPU of the harness with its server %.2f cores",
			res.CloseSeconds, res.WriteSeconds, st.Puts, res.Puts, m.cpu)})
	x.atLeast(0.9*link, " MB/s (0.9× link)")
	e.res.add(row{Scenario: sc, Name: fmt.Sprintf("link limit at %d connections", c.writeConc), Value: link, Unit: "MB/s", Role: roleLink,
		Note: partCeilingNote(c.latency, c.partSize, c.connBW, c.totalBW, c.writeConc, link)})
	bound := float64(c.partSize*int64(c.writeConc)+64<<20) / (1 << 20)
	x = e.res.add(row{Scenario: sc, Name: "writer's peak RSS after Close", Value: float64(res.RSSAfter) / (1 << 20), Unit: "MiB", Role: roleInfo,
		Note: fmt.Sprintf("VmHWM of the writer process, which counts the disk tier's mapped block files (page cache) too; its anonymous memory (RssAnon, sampled every 10 ms) peaked at %.0f MiB during the write; VmHWM %.0f MiB at the end of the read back",
			float64(res.AnonPeak)/(1<<20), float64(res.RSSEnd)/(1<<20))})
	x.atMost(bound, " MiB (part size × concurrency + 64 MiB)")
	x = e.res.add(row{Scenario: sc, Name: "read back at once: origin GETs", Value: float64(st.Gets), Unit: "GETs", Role: roleInfo,
		Note: fmt.Sprintf("%d counted by the FS; every byte checked; read at %s MB/s from the tiers", res.ReadGets, num(float64(res.Bytes)/res.ReadSeconds/1e6))})
	x.atMost(0, " GETs")
	return nil
}

// sdkUpload uploads size bytes of the scenario's data stream to key with
// the plain SDK: CreateMultipartUpload, parts of partSize conc at once
// (each generated as it is sent), CompleteMultipartUpload. It returns the
// time the Complete took.
func (e *env) sdkUpload(ctx context.Context, key string, size, partSize int64, conc int) (time.Duration, error) {
	b := aws.String(e.bucket)
	k := aws.String(key)
	created, err := e.sdk.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: k})
	if err != nil {
		return 0, err
	}
	src := rand.NewChaCha8([32]byte{byte(e.cfg.seed), 0x5d})
	bufs := make(chan []byte, conc)
	for range conc {
		bufs <- make([]byte, partSize)
	}
	var mu sync.Mutex
	var parts []types.CompletedPart
	var g errgroup.Group
	for num, off := int32(1), int64(0); off < size; num, off = num+1, off+partSize {
		buf := (<-bufs)[:min(partSize, size-off)]
		src.Read(buf)
		g.Go(func() error {
			defer func() { bufs <- buf[:cap(buf)] }()
			out, err := e.sdk.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: k, UploadId: created.UploadId,
				PartNumber: aws.Int32(num), Body: bytes.NewReader(buf), ContentLength: aws.Int64(int64(len(buf)))})
			if err != nil {
				return err
			}
			mu.Lock()
			parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		e.sdk.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: b, Key: k, UploadId: created.UploadId})
		return 0, err
	}
	slices.SortFunc(parts, func(x, y types.CompletedPart) int { return int(*x.PartNumber - *y.PartNumber) })
	t0 := time.Now()
	_, err = e.sdk.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: k, UploadId: created.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	return time.Since(t0), err
}

// partCeilingNote says how much of the link an upload in parts can use:
// every part waits out the first-byte latency on its connection, so conns
// connections carry at most conns parts per latency + part time, whatever
// the client (the plain SDK baseline included).
func partCeilingNote(latency time.Duration, partSize, connBW, totalBW int64, conns int, link float64) string {
	if connBW <= 0 || latency <= 0 {
		return ""
	}
	per := float64(partSize) / float64(connBW) // seconds to send a part at the per-connection cap
	ceil := float64(conns) * float64(partSize) / (latency.Seconds() + per) / 1e6
	if totalBW > 0 {
		ceil = min(ceil, float64(totalBW)/1e6)
	}
	return fmt.Sprintf("each part also waits the %v first-byte latency: %d connections carry at most %d × %s / (%v + %.0f ms) = %s MB/s of parts, %.3f× this limit",
		latency, conns, conns, human(partSize), latency, per*1e3, num(ceil), ceil/link)
}
