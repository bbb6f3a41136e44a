package main

// The llama2.c anchor: Karpathy's run.c, compiled here with its Makefile's
// fast flags, timed on the same llama2.c checkpoint as our engine. run.c is
// not part of this repository and must never be committed: the caller
// names a copy of it with LLAMA2C_RUNC.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// anchorEnv names the environment variable with the path of llama2.c's
// run.c.
const anchorEnv = "LLAMA2C_RUNC"

// errAnchorUnavailable reports that LLAMA2C_RUNC is not set or not a file.
var errAnchorUnavailable = errors.New("llama2.c anchor not available")

// anchorHelp says how to make the anchor available.
const anchorHelp = `set ` + anchorEnv + ` to the path of llama2.c's run.c (github.com/karpathy/llama2.c,
file run.c, e.g. commit 350e04fe35433e6d2941dce5a1f53308f87058eb), kept outside this
repository (it must never be committed), and have gcc (or $CC) with OpenMP installed;
the anchor compiles it twice: -Ofast -march=native, and the same with -fopenmp`

// anchorVariant is one build of run.c.
type anchorVariant struct {
	// Name is "run.c" or "run.c+omp".
	Name string
	// Threads is the OMP_NUM_THREADS it runs with.
	Threads int
	// Flags are the gcc flags, from llama2.c's Makefile (runfast with
	// -march=native, and runomp).
	Flags []string
	// Bin is the compiled binary.
	Bin string
}

// anchorVariants are the builds timed: single-threaded, and OpenMP on two
// threads.
func anchorVariants(ompThreads int) []anchorVariant {
	return []anchorVariant{
		{Name: "run.c", Threads: 1, Flags: []string{"-Ofast", "-march=native"}},
		{Name: "run.c+omp", Threads: ompThreads, Flags: []string{"-Ofast", "-fopenmp", "-march=native"}},
	}
}

// anchorRunC returns the path of run.c from LLAMA2C_RUNC, or an error
// wrapping errAnchorUnavailable with instructions.
func anchorRunC() (string, error) {
	p := os.Getenv(anchorEnv)
	if p == "" {
		return "", fmt.Errorf("%w: %s", errAnchorUnavailable, anchorHelp)
	}
	if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
		return "", fmt.Errorf("%w: %s=%q is not a file: %s", errAnchorUnavailable, anchorEnv, p, anchorHelp)
	}
	return p, nil
}

// buildAnchor compiles run.c into dir once per variant and sets each
// variant's Bin.
func buildAnchor(ctx context.Context, runc, dir string, variants []anchorVariant) error {
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "gcc"
	}
	for i := range variants {
		v := &variants[i]
		bin := filepath.Join(dir, strings.NewReplacer("+", "_", ".", "_").Replace(v.Name))
		args := append(append([]string{}, v.Flags...), runc, "-lm", "-o", bin)
		cmd := exec.CommandContext(ctx, cc, args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("compiling %s: %s %s: %v\n%s", v.Name, cc, strings.Join(args, " "), err, out)
		}
		v.Bin = bin
	}
	return nil
}

// anchorRun is the result of one run of run.c.
type anchorRun struct {
	Variant   string
	Threads   int
	TokPerSec float64       // run.c's own "achieved tok/s"
	Wall      time.Duration // the whole process, loading included
	// CPU is the process's user+system CPU time. On a busy machine,
	// steps/CPU of the single-threaded build estimates its speed alone
	// (OpenMP threads spin while waiting, so theirs is not meaningful).
	CPU    time.Duration
	Output string // the generated text (stdout)
}

// runAnchor runs a built variant on a llama2.c checkpoint and tokenizer,
// greedy (-t 0), for steps tokens from prompt, and parses its tok/s.
func runAnchor(ctx context.Context, v anchorVariant, model, tok string, steps int, prompt string) (anchorRun, error) {
	args := []string{model, "-z", tok, "-t", "0", "-n", strconv.Itoa(steps)}
	if prompt != "" {
		args = append(args, "-i", prompt)
	}
	cmd := exec.CommandContext(ctx, v.Bin, args...)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS="+strconv.Itoa(v.Threads))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := anchorRun{Variant: v.Name, Threads: v.Threads, Wall: time.Since(start), Output: stdout.String()}
	if ps := cmd.ProcessState; ps != nil {
		r.CPU = ps.UserTime() + ps.SystemTime()
	}
	if err != nil {
		return r, fmt.Errorf("%s %s: %v\n%s", v.Name, strings.Join(args, " "), err, stderr.String())
	}
	if r.TokPerSec, err = parseTokPerSec(stderr.String()); err != nil {
		return r, fmt.Errorf("%s: %w", v.Name, err)
	}
	return r, nil
}

var tokPerSecRE = regexp.MustCompile(`achieved tok/s: ([0-9.eE+-]+|inf|nan)`)

// parseTokPerSec finds run.c's "achieved tok/s: X" line (the last one).
func parseTokPerSec(stderr string) (float64, error) {
	m := tokPerSecRE.FindAllStringSubmatch(stderr, -1)
	if m == nil {
		return 0, fmt.Errorf(`no "achieved tok/s" in run.c's output %q`, stderr)
	}
	s := m[len(m)-1][1]
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || x <= 0 || x > 1e9 {
		// inf: the run was too short for run.c's millisecond clock.
		return 0, fmt.Errorf("run.c reported tok/s %q; use more steps", s)
	}
	return x, nil
}

// anchorBench builds run.c (from LLAMA2C_RUNC) in a temporary directory
// and times each variant runs times on the checkpoint, keeping each
// variant's best run. When the anchor is not available, the error wraps
// errAnchorUnavailable.
func anchorBench(ctx context.Context, model, tok string, steps, runs, ompThreads int, prompt string) ([]anchorRun, error) {
	runc, err := anchorRunC()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "llama2c-anchor-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	variants := anchorVariants(ompThreads)
	if err := buildAnchor(ctx, runc, dir, variants); err != nil {
		return nil, err
	}
	var best []anchorRun
	for _, v := range variants {
		var b anchorRun
		for range max(runs, 1) {
			r, err := runAnchor(ctx, v, model, tok, steps, prompt)
			if err != nil {
				return nil, err
			}
			if r.TokPerSec > b.TokPerSec {
				b = r
			}
		}
		best = append(best, b)
	}
	return best, nil
}
