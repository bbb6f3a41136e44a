package llama

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// lastLevelCache returns the size in bytes of the largest CPU cache Linux
// reports for CPU 0 (the L3 on most servers), or 0 if it reports none.
func lastLevelCache() int64 {
	dirs, _ := filepath.Glob("/sys/devices/system/cpu/cpu0/cache/index*")
	var best int64
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "size"))
		if err != nil {
			continue
		}
		best = max(best, parseCacheSize(string(b)))
	}
	return best
}

// parseCacheSize reads sysfs's cache sizes: "48K", "2048K", "266240K",
// "32M"; 0 for anything else.
func parseCacheSize(s string) int64 {
	s = strings.TrimSpace(s)
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n * mult
}
