package llama

// cpuPause executes the PAUSE instruction: a spin-wait hint that hands the
// core's execution resources to its sibling hyperthread while it waits.
//
//go:noescape
func cpuPause()
