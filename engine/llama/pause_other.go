//go:build !amd64

package llama

func cpuPause() {}
