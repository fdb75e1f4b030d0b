package disk

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tierfs/tierfs/tier"
)

const (
	crashDirEnv   = "TIERFS_DISK_CRASH_DIR"
	crashStartEnv = "TIERFS_DISK_CRASH_START"
	crashQuota    = 6 << 20 // small, so the child evicts as well
)

// TestCrashChild is the child process of TestCrash: it fills blocks in a
// loop, printing "wrote i" after each, until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("not a test by itself: the child process TestCrash starts and kills, run only when " + crashDirEnv + " is set")
	}
	start, _ := strconv.Atoi(os.Getenv(crashStartEnv))
	tr, err := Open(tier.DiskConfig{Dirs: []string{dir}, Quota: crashQuota, MinFreeRatio: -1}, nil)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	data := testData(start)
	for i := start; i < start+100_000; i++ {
		tr.Put(t.Context(), testKey(i), data)
		if burst := i%2 == 1 && start%2000 == 1000; burst {
			// Every other round, only every other block waits for its
			// write: the kill finds the fill workers busy.
		} else if err := tr.Flush(t.Context()); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		data = testData(i + 1) // before the print, so the kill finds the child writing
		fmt.Println("wrote", i)
	}
	os.Exit(1)
}

func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: re-executes the test binary 20 times, killing it each time")
	}
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(5, 6))
	var written []int
	tempsLeft := 0 // temporary files the kills left behind, for the log
	for round := range 20 {
		start := round * 1000
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashStartEnv+"="+strconv.Itoa(start))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		k := 1 + r.IntN(25)
		sc := bufio.NewScanner(out)
		got := 0
		for got < k && sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "error") {
				t.Fatalf("child: %s", line)
			}
			if rest, ok := strings.CutPrefix(line, "wrote "); ok {
				i, _ := strconv.Atoi(rest)
				written = append(written, i)
				got++
			}
		}
		cmd.Process.Kill() // SIGKILL, most likely in the middle of the next block
		go io.Copy(io.Discard, out)
		cmd.Wait()
		if got < k {
			t.Fatalf("round %d: child wrote %d blocks, wanted to kill it after %d", round, got, k)
		}
		// Also the block being written when killed.
		written = append(written, start+k)

		for _, f := range listFiles(t, dir) {
			if isTemp(f.path) {
				tempsLeft++
			}
		}
		if round%4 == 0 {
			// What a writer killed in the middle leaves, for sure.
			sub := filepath.Join(dir, layoutDir, "7f")
			os.MkdirAll(sub, 0o700)
			if err := os.WriteFile(filepath.Join(sub, tmpPrefix+"0123456789abcdef"), []byte("TIERFSB"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		tr, err := Open(tier.DiskConfig{Dirs: []string{dir}, Quota: crashQuota, MinFreeRatio: -1}, nil)
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		if err := tr.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		var sum int64
		for _, f := range listFiles(t, dir) {
			if isTemp(f.path) {
				t.Errorf("round %d: temporary file %s left after the sweep", round, f.path)
			}
			sum += roundUp(f.size, tr.dirs[0].bsize)
		}
		st := tr.Stats()
		if st.Bytes != sum {
			t.Errorf("round %d: Stats.Bytes %d, files on disk %d", round, st.Bytes, sum)
		}
		if st.Bytes > crashQuota {
			t.Errorf("round %d: %d bytes over a quota of %d", round, st.Bytes, crashQuota)
		}
		hits := 0
		for _, i := range written {
			p := make([]byte, testSize(i)+1)
			n, err := tr.ReadAt(t.Context(), testKey(i), p, 0)
			switch {
			case errors.Is(err, tier.ErrMiss):
			case err != io.EOF:
				t.Errorf("round %d: block %d: %v", round, i, err)
			case !bytes.Equal(p[:n], testData(i)):
				t.Errorf("round %d: block %d: wrong bytes", round, i)
			default:
				hits++
			}
		}
		if hits == 0 {
			t.Errorf("round %d: no block survived", round)
		}
		if st := tr.Stats(); st.Corrupt != 0 {
			t.Errorf("round %d: %d damaged blocks after a process kill", round, st.Corrupt)
		}
		tr.Close()
	}
	t.Logf("%d blocks written in 20 rounds; the kills left %d temporary files, all swept", len(written), tempsLeft)
}
