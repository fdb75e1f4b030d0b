package tierfs

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// defaultMemoryCache returns an eighth of the memory available to the
// process, clamped to [64 MiB, 8 GiB].
func defaultMemoryCache() int64 {
	avail := availableMemory()
	if avail <= 0 {
		return 256 << 20
	}
	return min(max(avail/8, 64<<20), 8<<30)
}

// availableMemory returns the cgroup memory limit if one is set, else the
// machine's memory, in bytes, or 0 if neither can be read.
func availableMemory() int64 {
	total := meminfoTotal()
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && v > 0 && (total == 0 || v < total) {
			return v
		}
	}
	return total
}

func meminfoTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
