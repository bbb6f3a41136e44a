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

// Tokenize is the configuration of a tokenization job (configs/tokenize.yaml).
type Tokenize struct {
	Input                   StringList `yaml:"input"`
	Output                  string     `yaml:"output"`
	Encoding                string     `yaml:"encoding"`
	BatchSize               int        `yaml:"batch_size"`
	Threads                 int        `yaml:"threads"`
	Runner                  string     `yaml:"runner"`
	Overwrite               bool       `yaml:"overwrite"`
	ShardRows               int64      `yaml:"shard_rows"`
	AllowedSpecial          StringList `yaml:"allowed_special"`
	DisallowedSpecialAsText bool       `yaml:"disallowed_special_as_text"`
	Columns                 struct {
		ID   string `yaml:"id"`
		Text string `yaml:"text"`
	} `yaml:"columns"`
}

// Detokenize is the configuration of a detokenization job (configs/detokenize.yaml).
type Detokenize struct {
	Input     StringList `yaml:"input"`
	Output    string     `yaml:"output"`
	Encoding  string     `yaml:"encoding"`
	BatchSize int        `yaml:"batch_size"`
	Threads   int        `yaml:"threads"`
	Runner    string     `yaml:"runner"`
	Overwrite bool       `yaml:"overwrite"`
	ShardRows int64      `yaml:"shard_rows"`
	Columns   struct {
		ID     string `yaml:"id"`
		Tokens string `yaml:"tokens"`
	} `yaml:"columns"`
}

// LoadTokenize reads and checks a tokenization job configuration.
func LoadTokenize(path string) (*Tokenize, error) {
	var c Tokenize
	if err := load(path, &c); err != nil {
		return nil, err
	}
	if err := checkCommon(path, c.BatchSize, c.Threads, c.ShardRows); err != nil {
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
	if err := checkCommon(path, c.BatchSize, c.Threads, c.ShardRows); err != nil {
		return nil, err
	}
	return &c, nil
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
