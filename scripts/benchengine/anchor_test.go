package main

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestParseTokPerSec(t *testing.T) {
	tests := []struct {
		name    string
		stderr  string
		want    float64
		wantErr string
	}{
		{"plain", "achieved tok/s: 191.044776\n", 191.044776, ""},
		{"after other lines", "warning: x\nachieved tok/s: 12600.000000\n", 12600, ""},
		{"last wins", "achieved tok/s: 1.5\nachieved tok/s: 2.5\n", 2.5, ""},
		{"missing", "Couldn't open file x.bin\n", 0, "no \"achieved tok/s\""},
		{"inf", "achieved tok/s: inf\n", 0, "use more steps"},
		{"zero", "achieved tok/s: 0.000000\n", 0, "use more steps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTokPerSec(tt.stderr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("parseTokPerSec: %v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("parseTokPerSec = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestAnchorUnavailable(t *testing.T) {
	tests := []struct{ name, value string }{
		{"unset", ""},
		{"missing file", "/nonexistent/run.c"},
		{"directory", os.TempDir()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(anchorEnv, tt.value)
			_, err := anchorBench(context.Background(), "m.bin", "t.bin", 8, 1, 2, "")
			if !errors.Is(err, errAnchorUnavailable) || !strings.Contains(err.Error(), anchorEnv) {
				t.Errorf("anchorBench: %v; want errAnchorUnavailable with instructions", err)
			}
		})
	}
}

// TestAnchorStories260K runs the anchor on the real stories260K model when
// LLAMA2C_RUNC names run.c (it is skipped otherwise): greedy output must be
// llama2.c's reference story.
func TestAnchorStories260K(t *testing.T) {
	if _, err := anchorRunC(); err != nil {
		t.Skip(err)
	}
	const dir = "../../../shared/models/stories260K/"
	if _, err := os.Stat(dir + "stories260K.bin"); err != nil {
		t.Skip(err)
	}
	res, err := anchorBench(context.Background(), dir+"stories260K.bin", dir+"tok512.bin", 64, 1, 2, "Once upon a time")
	if err != nil {
		t.Fatal(err)
	}
	const want = "Once upon a time, there was a little girl named Lily"
	for _, r := range res {
		if !strings.HasPrefix(r.Output, want) || r.TokPerSec <= 0 {
			t.Errorf("%s: %.1f tok/s, output %q; want it to start with %q", r.Variant, r.TokPerSec, r.Output, want)
		}
	}
}
