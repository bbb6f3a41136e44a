package configs

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minerva-batch/minerva/pipelines/runners"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestShippedConfigs loads the documented example configs.
func TestShippedConfigs(t *testing.T) {
	tok, err := LoadTokenize("tokenize.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tok.Input, []string{"testdata/corpus.parquet"}) || tok.Encoding != "cl100k_base" || tok.BatchSize != 32 || tok.Columns.Text != "text" {
		t.Errorf("tokenize.yaml = %+v", tok)
	}
	det, err := LoadDetokenize("detokenize.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if det.Columns.Tokens != "tokens" || det.Output != "out-text" {
		t.Errorf("detokenize.yaml = %+v", det)
	}
	inf, err := LoadInfer("infer.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Every shipped config documents the runner keys, with prism's defaults.
	for name, r := range map[string]struct {
		runner string
		opts   runners.Options
	}{"tokenize.yaml": {tok.Runner, tok.RunnerOptions}, "detokenize.yaml": {det.Runner, det.RunnerOptions}, "infer.yaml": {inf.Runner, inf.RunnerOptions}} {
		if r.runner != runners.Prism || r.opts != (runners.Options{EnvironmentType: runners.Loopback}) {
			t.Errorf("%s: runner %q, options %+v", name, r.runner, r.opts)
		}
		body, _ := os.ReadFile(name)
		for _, key := range []string{"job_endpoint:", "environment_type:", "environment_config:", "worker_binary:", "project:", "region:",
			"staging_location:", "temp_location:", "worker_machine_type:", "num_workers:", "max_workers:"} {
			if !strings.Contains(string(body), "\n"+key) {
				t.Errorf("%s does not document %s", name, key)
			}
		}
	}
}

func TestLoadTokenize(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string // substrings of the error; none means success
		check      func(*Tokenize) bool
	}{
		{"list input", "input: [a.parquet, 'b/*.parquet']\nallowed_special: all\n", nil,
			func(c *Tokenize) bool {
				return len(c.Input) == 2 && c.Input[1] == "b/*.parquet" && c.AllowedSpecial[0] == "all"
			}},
		{"empty file", "", nil, func(c *Tokenize) bool { return c.Encoding == "" }},
		{"unknown key", "input: a\nbatchsize: 3\n", []string{"line 2", "batchsize", "not found"}, nil},
		{"wrong type", "batch_size: many\n", []string{"line 1", "many"}, nil},
		{"input mapping", "input:\n  a: b\n", []string{"line 2", "want a string or a list of strings"}, nil},
		{"negative batch", "batch_size: -4\n", []string{"batch_size -4 is negative"}, nil},
		{"negative threads", "threads: -1\n", []string{"threads -1 is negative"}, nil},
		{"universal", "runner: universal\njob_endpoint: localhost:8099\nenvironment_type: loopback\n", nil,
			func(c *Tokenize) bool {
				return c.Runner == "universal" && c.RunnerOptions.JobEndpoint == "localhost:8099" && c.RunnerOptions.EnvironmentType == "LOOPBACK"
			}},
		{"dataflow", "runner: dataflow\nproject: p\nregion: europe-west4\nstaging_location: gs://b/s\nnum_workers: 2\nmax_workers: 8\n", nil,
			func(c *Tokenize) bool {
				o := c.RunnerOptions
				return o.Project == "p" && o.Region == "europe-west4" && o.StagingLocation == "gs://b/s" && o.NumWorkers == 2 && o.MaxWorkers == 8
			}},
		{"unknown runner", "runner: flink\n", []string{`unknown runner "flink"`, "universal"}, nil},
		{"unknown environment", "environment_type: k8s\n", []string{"environment_type", `unknown environment type "k8s"`}, nil},
		{"negative workers", "max_workers: -3\n", []string{"max_workers -3 must not be negative"}, nil},
		{"runner key typo", "job_endpiont: h:1\n", []string{"line 1", "job_endpiont"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := write(t, tt.body)
			c, err := LoadTokenize(path)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if !tt.check(c) {
					t.Errorf("config = %+v", c)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error for %q", tt.body)
			}
			for _, w := range append(tt.want, path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, err := LoadTokenize(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

func TestLoadInfer(t *testing.T) {
	shipped, err := LoadInfer("infer.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if shipped.Model != "../shared/models/stories260K/stories260K.gguf" || shipped.Defaults.MaxTokens != 64 || shipped.SLAP95MS != 2000 || shipped.Columns.Prompt != "prompt" {
		t.Errorf("infer.yaml = %+v", shipped)
	}
	tests := []struct {
		name, body string
		want       []string // substrings of the error; none means success
	}{
		{"overrides", "backend: openai\nendpoint: http://localhost:8000\ndefaults:\n  stop: '###'\n  temperature: 0.7\n", nil},
		{"unknown key", "defaults:\n  temprature: 1\n", []string{"line 2", "temprature"}},
		{"temperature", "defaults:\n  temperature: 2.5\n", []string{"defaults.temperature 2.5 is out of range"}},
		{"top_p", "defaults:\n  top_p: 1.5\n", []string{"defaults.top_p 1.5"}},
		{"top_k", "defaults:\n  top_k: -1\n", []string{"defaults.top_k -1 is negative"}},
		{"negative", "kv_budget_mb: -1\nsla_p95_ms: -2\n", []string{"kv_budget_mb -1 is negative", "sla_p95_ms -2 is negative"}},
		{"backend", "backend: vllm\n", []string{`backend "vllm"`}},
		{"format", "format: csv\n", []string{`format "csv"`}},
		{"runner", "runner: spark\nenvironment_type: pod\n", []string{`unknown runner "spark"`, `unknown environment type "pod"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := write(t, tt.body)
			c, err := LoadInfer(path)
			if len(tt.want) == 0 {
				if err != nil || c.Backend != "openai" || c.Defaults.Stop[0] != "###" || c.Defaults.Temperature != 0.7 {
					t.Fatalf("%+v, %v", c, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error for %q", tt.body)
			}
			for _, w := range append(tt.want, path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
