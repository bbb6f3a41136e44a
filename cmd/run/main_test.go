package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/parquet-go/parquet-go"

	"github.com/minerva-batch/minerva/io/parquetio"
)

// TestMain runs the tests, or, with MINERVA_RUN_CLI=1 in the environment,
// is the command itself (run's arguments after the binary's name), so that
// a test can run it as a child process it may kill (see TestKillAndResume).
func TestMain(m *testing.M) {
	if os.Getenv("MINERVA_RUN_CLI") == "1" {
		beam.Init()
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	ptest.Main(m)
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

func TestHelpExplainsEveryFlag(t *testing.T) {
	runnerFlags := []string{"runner", "job-endpoint", "environment-type", "environment-config", "worker-binary", "project", "region",
		"staging-location", "temp-location", "worker-machine-type", "num-workers", "max-workers"}
	for cmd, flags := range map[string][]string{
		"tokenize":   {"config", "input", "output", "encoding", "batch-size", "threads", "runner", "overwrite", "resume", "shard-rows", "id-column", "text-column", "allowed-special", "disallowed-special-as-text", "verbose", "json"},
		"detokenize": {"config", "input", "output", "encoding", "batch-size", "threads", "runner", "overwrite", "resume", "shard-rows", "id-column", "tokens-column"},
		"infer": {"config", "input", "output", "format", "model", "backend", "endpoint", "api-key-env", "batch-size", "adaptive", "max-in-flight", "runner",
			"max-tokens", "temperature", "top-p", "top-k", "stop", "seed", "sla-p95-ms", "timeout-ms", "max-attempts", "kv-budget-mb", "prompt-column", "overwrite", "resume"},
	} {
		code, _, stderr := runCLI(cmd, "--help")
		if code != 0 {
			t.Errorf("%s --help: exit %d", cmd, code)
		}
		for _, w := range []string{"universal", "dataflow", "LOOPBACK", "DOCKER, PROCESS, EXTERNAL"} {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s --help does not mention %s", cmd, w)
			}
		}
		for _, f := range append(flags, runnerFlags...) {
			if !strings.Contains(stderr, "  -"+f) {
				t.Errorf("%s --help does not explain -%s:\n%s", cmd, f, stderr)
			}
		}
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage: run COMMAND"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"tokenize", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"tokenize", "--input", "x.parquet", "extra"}, 2, "unexpected arguments"},
		{[]string{"tokenize", "--output", "o"}, 1, "no input"},
		{[]string{"tokenize", "--input", "/nonexistent/x.parquet", "--output", "o"}, 1, `input "/nonexistent/x.parquet": no such file`},
		{[]string{"tokenize", "--config", "/nonexistent.yaml"}, 1, "nonexistent.yaml"},
		{[]string{"infer", "--batch-size", "4", "--adaptive"}, 2, "--batch-size and --adaptive exclude each other"},
		{[]string{"infer", "--input", "x.parquet", "--output", "o"}, 1, "no model"},
		{[]string{"infer", "--input", "x.parquet", "--output", "o", "--resume", "--overwrite"}, 2, "--resume and --overwrite exclude each other"},
		{[]string{"detokenize", "--input", "x.parquet", "--output", "o", "--resume", "--overwrite"}, 2, "--resume and --overwrite exclude each other"},
		{[]string{"infer", "--input", "x.parquet", "--output", "o", "--backend", "openai"}, 1, "needs --endpoint"},
		{[]string{"infer", "--config", "/nonexistent.yaml"}, 1, "nonexistent.yaml"},
		{[]string{"tokenize", "--input", "x.parquet", "--output", "o", "--runner", "flink"}, 1, `unknown runner "flink": use one of prism, direct, universal, dataflow`},
		{[]string{"tokenize", "--input", "x.parquet", "--output", "o", "--runner", "universal"}, 1, "runner universal needs --job-endpoint HOST:PORT"},
		{[]string{"detokenize", "--input", "x.parquet", "--output", "o", "--runner", "universal", "--job-endpoint", "h:1", "--environment-type", "pod"}, 1, `unknown environment type "pod"`},
		{[]string{"infer", "--input", "x.parquet", "--output", "o", "--model", "m.gguf", "--runner", "dataflow", "--region", "r", "--staging-location", "/tmp/s"}, 1,
			"runner dataflow needs --project"},
		{[]string{"infer", "--input", "x.parquet", "--output", "o", "--model", "m.gguf", "--runner", "dataflow", "--project", "p", "--region", "r", "--staging-location", "/tmp/s"}, 1,
			`staging location "/tmp/s": must be a gs:// path`},
	}
	for _, tt := range tests {
		code, _, stderr := runCLI(tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("run %q: exit %d, stderr %q; want exit %d and %q", tt.args, code, stderr, tt.code, tt.want)
		}
	}
}

type row struct {
	ID   string `parquet:"id"`
	Body string `parquet:"body"`
}

// TestTokenizeAndDetokenize runs both commands end to end with a YAML
// config whose values are partly overridden by flags.
func TestTokenizeAndDetokenize(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.parquet")
	texts := []string{"Hello world", "naïve café", ""}
	var rows []row
	for i, s := range texts {
		rows = append(rows, row{fmt.Sprint("id", i), s})
	}
	if err := parquet.WriteFile(in, rows); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	cfg := filepath.Join(dir, "job.yaml")
	// batch_size 5000 is out of range: the flag must override it.
	yaml := fmt.Sprintf("input: %s\noutput: %s\nencoding: r50k_base\nbatch_size: 5000\ncolumns:\n  text: body\n", in, out)
	os.WriteFile(cfg, []byte(yaml), 0o644)
	if code, _, stderr := runCLI("tokenize", "--config", cfg); code != 1 || !strings.Contains(stderr, "tokenizer batch size 5000 is out of range") {
		t.Fatalf("config batch size: exit %d, %s", code, stderr)
	}
	code, stdout, stderr := runCLI("tokenize", "--config", cfg, "--batch-size", "2", "--runner", runner())
	if code != 0 {
		t.Fatalf("tokenize: exit %d: %s", code, stderr)
	}
	for _, w := range []string{"3 rows", "3 results, 0 errors", "items:", "speedup:", "peak RSS"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("summary does not show %q:\n%s", w, stdout)
		}
	}
	res, err := parquetio.ReadAll[parquetio.TokenResult](mustGlob(t, filepath.Join(out, "results-*.parquet")))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.ID == "id0" && fmt.Sprint(r.Tokens) != "[15496 995]" { // r50k ids, from the YAML encoding
			t.Errorf("id0 tokens %v, want r50k's [15496 995]", r.Tokens)
		}
	}
	// Running again without --overwrite is refused; with it, it works.
	if code, _, stderr := runCLI("tokenize", "--config", cfg, "--batch-size", "2"); code != 1 || !strings.Contains(stderr, "--overwrite") {
		t.Errorf("second run: exit %d, %s", code, stderr)
	}
	text := filepath.Join(dir, "text")
	code, stdout, stderr = runCLI("detokenize", "--input", filepath.Join(out, "results-*.parquet"), "--output", text, "--encoding", "r50k_base", "--json", "--runner", runner())
	if code != 0 {
		t.Fatalf("detokenize: exit %d: %s", code, stderr)
	}
	var st map[string]float64
	if err := json.Unmarshal([]byte(stdout), &st); err != nil || st["total_items"] != 3 || st["succeeded"] != 3 {
		t.Errorf("--json output %q: %v", stdout, err)
	}
	back, err := parquetio.ReadAll[parquetio.TextResult](mustGlob(t, filepath.Join(text, "results-*.parquet")))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range back {
		got[r.ID] = r.Text
	}
	for i, s := range texts {
		if got[fmt.Sprint("id", i)] != s {
			t.Errorf("round trip id%d: %q, want %q", i, got[fmt.Sprint("id", i)], s)
		}
	}
}

func mustGlob(t *testing.T, pattern string) string {
	t.Helper()
	m, _ := filepath.Glob(pattern)
	if len(m) != 1 {
		t.Fatalf("%s matches %v", pattern, m)
	}
	return m[0]
}

func runner() string {
	if r := *ptest.Runner; r != "" {
		return r
	}
	return ptest.DefaultRunner()
}

// TestInferDemo runs the demo config (make run-infer) with flags over it.
func TestInferDemo(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := runCLI("infer", "--config", "../../configs/infer.yaml", "--input", "../../testdata/requests.parquet",
		"--model", "../../../shared/models/stories260K/stories260K.gguf", "--output", out, "--runner", runner(), "--max-tokens", "16", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if st["total_items"] != 40.0 || st["succeeded"] != 35.0 || st["failed"] != 5.0 || st["sla"] == nil {
		t.Errorf("stats %v", st)
	}
	rows, err := parquetio.ReadAll[parquetio.InferResult](mustGlob(t, filepath.Join(out, "results-*.parquet")))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		// Rows without max_tokens take the flag's 16; the config says 64.
		if r.ID == "req-000" && r.CompletionTokens > 16 {
			t.Errorf("req-000 generated %d tokens with --max-tokens 16", r.CompletionTokens)
		}
	}
}

func TestWorkerMode(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"--worker=true", "--id=1-1", "--logging_endpoint=localhost:1", "--control_endpoint=localhost:2", "--semi_persist_dir=/tmp"}, true},
		{[]string{"-id", "1", "-worker"}, true},
		{[]string{"tokenize", "--worker"}, false},
		{[]string{"--help"}, false},
		{nil, false},
	} {
		if got := workerMode(tc.args); got != tc.want {
			t.Errorf("workerMode(%q) = %v", tc.args, got)
		}
	}
}

func TestProgressLine(t *testing.T) {
	for _, tc := range []struct {
		rows, total, tokens int64
		elapsed             time.Duration
		want                string
	}{
		{0, 40, 0, time.Second, "0/40 rows (0%), 0 tok/s"},
		{10, 40, 500, 2 * time.Second, "10/40 rows (25%), 250 tok/s, ETA 6s"},
		{40, 40, 900, 3 * time.Second, "40/40 rows (100%), 300 tok/s"},
	} {
		if got := progressLine(tc.rows, tc.total, tc.tokens, tc.elapsed); got != tc.want {
			t.Errorf("progressLine(%d, %d, %d, %v) = %q, want %q", tc.rows, tc.total, tc.tokens, tc.elapsed, got, tc.want)
		}
	}
}
