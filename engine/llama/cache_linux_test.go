package llama

import "testing"

func TestParseCacheSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"48K\n", 48 << 10}, {"2048K", 2 << 20}, {"266240K\n", 260 << 20}, {"32M", 32 << 20},
		{"1G", 1 << 30}, {"512", 512}, {"", 0}, {"K", 0}, {"-4K", 0}, {"12Q", 0},
	} {
		if got := parseCacheSize(c.in); got != c.want {
			t.Errorf("parseCacheSize(%q) = %d, want %d", c.in, got, c.want)
		}
	}
	t.Logf("last-level cache here: %d bytes", lastLevelCache())
}
