//go:build !amd64

package tensor

// archImpls returns no vector kernels on this architecture.
func archImpls() []impl { return nil }
