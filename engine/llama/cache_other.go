//go:build !linux

package llama

// lastLevelCache returns 0: the cache size is not known here, so models
// are treated as larger than the cache.
func lastLevelCache() int64 { return 0 }
