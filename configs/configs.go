// Package configs loads the YAML job configurations of cmd/run (the files
// in this folder are documented examples). Loading is strict: an unknown key,
// a value of the wrong type or an out-of-range number is an error that names
// the file, the line and the key.
package configs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/minerva-batch/minerva/pipelines/runners"
)

// StringList is a YAML value that may be written as one string or as a list
// of strings.
type StringList []string

// UnmarshalYAML accepts a scalar or a sequence of scalars.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			*l = nil
			return nil
		}
		*l = StringList{n.Value}
		return nil
	case yaml.SequenceNode:
		out := make(StringList, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: want a string, got a %s", c.Line, kindName(c.Kind))
			}
			out = append(out, c.Value)
		}
		*l = out
		return nil
	}
	return fmt.Errorf("line %d: want a string or a list of strings, got a %s", n.Line, kindName(n.Kind))
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "scalar"
	}
	return "value"
}

// Job holds the keys every job configuration has; the job types embed it
// (its keys sit at the top level of the YAML).
type Job struct {
	Input     StringList `yaml:"input"`
	Output    string     `yaml:"output"`
	BatchSize int        `yaml:"batch_size"`
	Threads   int        `yaml:"threads"`
	Runner    string     `yaml:"runner"`
	// RunnerOptions are the universal and Dataflow runners' keys
	// (job_endpoint, environment_type, project, region, staging_location, …).
	RunnerOptions runners.Options `yaml:",inline"`
	Overwrite     bool            `yaml:"overwrite"`
	Resume        bool            `yaml:"resume"`
	ShardRows     int64           `yaml:"shard_rows"`
}

// Tokenize is the configuration of a tokenization job (configs/tokenize.yaml).
type Tokenize struct {
	Job                     `yaml:",inline"`
	Encoding                string     `yaml:"encoding"`
	AllowedSpecial          StringList `yaml:"allowed_special"`
	DisallowedSpecialAsText bool       `yaml:"disallowed_special_as_text"`
	Columns                 struct {
		ID   string `yaml:"id"`
		Text string `yaml:"text"`
	} `yaml:"columns"`
}

// Detokenize is the configuration of a detokenization job (configs/detokenize.yaml).
type Detokenize struct {
	Job      `yaml:",inline"`
	Encoding string `yaml:"encoding"`
	Columns  struct {
		ID     string `yaml:"id"`
		Tokens string `yaml:"tokens"`
	} `yaml:"columns"`
}

// Infer is the configuration of a batch inference job (configs/infer.yaml).
type Infer struct {
	Job       `yaml:",inline"`
	Format    string `yaml:"format"`
	Backend   string `yaml:"backend"`
	Model     string `yaml:"model"`
	Tokenizer string `yaml:"tokenizer"`
	Context   int    `yaml:"context"`
	Endpoint  string `yaml:"endpoint"`
	APIKeyEnv string `yaml:"api_key_env"`
	TimeoutMS int64  `yaml:"timeout_ms"`
	// MaxAttempts bounds the HTTP attempts per request, the first included.
	MaxAttempts int  `yaml:"max_attempts"`
	Adaptive    bool `yaml:"adaptive"`
	// TargetLatencyMS and MaxBatch bound adaptive batches.
	TargetLatencyMS int64  `yaml:"target_latency_ms"`
	MaxBatch        int    `yaml:"max_batch"`
	InFlight        int    `yaml:"in_flight"`
	MaxInFlight     int    `yaml:"max_in_flight"`
	KVBudgetMB      int64  `yaml:"kv_budget_mb"`
	SLAP95MS        int64  `yaml:"sla_p95_ms"`
	Seed            uint64 `yaml:"seed"`
	Defaults        struct {
		MaxTokens   int        `yaml:"max_tokens"`
		Temperature float64    `yaml:"temperature"`
		TopP        float64    `yaml:"top_p"`
		TopK        int        `yaml:"top_k"`
		Stop        StringList `yaml:"stop"`
	} `yaml:"defaults"`
	Columns struct {
		ID          string `yaml:"id"`
		Prompt      string `yaml:"prompt"`
		MaxTokens   string `yaml:"max_tokens"`
		Temperature string `yaml:"temperature"`
		TopP        string `yaml:"top_p"`
		TopK        string `yaml:"top_k"`
		Seed        string `yaml:"seed"`
		Stop        string `yaml:"stop"`
		Priority    string `yaml:"priority"`
	} `yaml:"columns"`
}

// LoadInfer reads and checks a batch inference job configuration. Ranges
// that depend on the model (max_tokens against the context) are checked
// when the job starts.
func LoadInfer(path string) (*Infer, error) {
	var c Infer
	if err := load(path, &c); err != nil {
		return nil, err
	}
	errs := []error{c.Job.check(path)}
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("config %s: "+format, append([]any{path}, args...)...))
	}
	d := c.Defaults
	switch {
	case d.MaxTokens < 0:
		bad("defaults.max_tokens %d is negative (0 means 256)", d.MaxTokens)
	case !(d.Temperature >= 0 && d.Temperature <= 2):
		bad("defaults.temperature %v is out of range 0.0–2.0", d.Temperature)
	case !(d.TopP >= 0 && d.TopP <= 1):
		bad("defaults.top_p %v is out of range (0, 1] (0 means 1)", d.TopP)
	case d.TopK < 0:
		bad("defaults.top_k %d is negative", d.TopK)
	}
	for _, v := range []struct {
		key string
		n   int64
	}{{"context", int64(c.Context)}, {"timeout_ms", c.TimeoutMS}, {"max_attempts", int64(c.MaxAttempts)}, {"target_latency_ms", c.TargetLatencyMS},
		{"max_batch", int64(c.MaxBatch)}, {"in_flight", int64(c.InFlight)}, {"max_in_flight", int64(c.MaxInFlight)}, {"kv_budget_mb", c.KVBudgetMB}, {"sla_p95_ms", c.SLAP95MS}} {
		if v.n < 0 {
			bad("%s %d is negative (0 means the default)", v.key, v.n)
		}
	}
	switch c.Backend {
	case "", "local", "openai":
	default:
		bad("backend %q: use local or openai", c.Backend)
	}
	switch c.Format {
	case "", "parquet", "jsonl":
	default:
		bad("format %q: use parquet or jsonl (or leave it out to go by the inputs' extension)", c.Format)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &c, nil
}

// LoadTokenize reads and checks a tokenization job configuration.
func LoadTokenize(path string) (*Tokenize, error) {
	var c Tokenize
	if err := load(path, &c); err != nil {
		return nil, err
	}
	if err := c.Job.check(path); err != nil {
		return nil, err
	}
	return &c, nil
}

// LoadDetokenize reads and checks a detokenization job configuration.
func LoadDetokenize(path string) (*Detokenize, error) {
	var c Detokenize
	if err := load(path, &c); err != nil {
		return nil, err
	}
	if err := c.Job.check(path); err != nil {
		return nil, err
	}
	return &c, nil
}

// check checks the keys every job has.
func (j *Job) check(path string) error {
	return errors.Join(checkCommon(path, j.BatchSize, j.Threads, j.ShardRows), checkRunner(path, j.Runner, &j.RunnerOptions))
}

func checkCommon(path string, batchSize, threads int, shardRows int64) error {
	var errs []error
	if batchSize < 0 {
		errs = append(errs, fmt.Errorf("config %s: batch_size %d is negative (0 means the default)", path, batchSize))
	}
	if threads < 0 {
		errs = append(errs, fmt.Errorf("config %s: threads %d is negative (0 means all cores)", path, threads))
	}
	if shardRows < 0 {
		errs = append(errs, fmt.Errorf("config %s: shard_rows %d is negative (0 means the default)", path, shardRows))
	}
	return errors.Join(errs...)
}

// checkRunner checks the runner's name and environment type; what a runner
// needs (universal: job_endpoint; dataflow: project, region,
// staging_location) is checked when the job starts, after the command
// line's flags are applied.
func checkRunner(path, name string, o *runners.Options) error {
	var errs []error
	if name != "" {
		if err := runners.CheckName(&name); err != nil {
			errs = append(errs, fmt.Errorf("config %s: %w", path, err))
		}
	}
	if err := runners.CheckEnvironmentType(&o.EnvironmentType); err != nil {
		errs = append(errs, fmt.Errorf("config %s: environment_type: %w", path, err))
	}
	if o.NumWorkers < 0 || o.MaxWorkers < 0 {
		errs = append(errs, fmt.Errorf("config %s: num_workers %d and max_workers %d must not be negative (0: Dataflow's default)", path, o.NumWorkers, o.MaxWorkers))
	}
	return errors.Join(errs...)
}

func load(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file sets nothing
		}
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}
