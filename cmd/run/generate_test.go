package main

import (
	"strings"
	"testing"
)

const stories = "../../../shared/models/stories260K/"

// TestGenerate checks run generate --ids against llama2.c's greedy
// reference for stories260K, in both model formats.
func TestGenerate(t *testing.T) {
	const want = "1 403 407 261 378 432 383 286 261 376 298 315 421 395 317 426 338 401 396 267 337 410 408 419 292 411 322 265 282 295 433 426 385 328 432 358 394 261 370 432 352 266 268 388 426 338 391 266 267 337 335 312 432 398 312 286 267 414 270 333 415 426 13 438 310"
	for _, args := range [][]string{
		{"--model", stories + "stories260K.gguf"},
		{"--model", stories + "stories260K.bin", "--tokenizer", stories + "tok512.bin", "--threads", "1"},
	} {
		args = append([]string{"generate", "--prompt", "Once upon a time", "--max-tokens", "60", "--temperature", "0"}, args...)
		code, stdout, stderr := runCLI(append(args, "--ids")...)
		if code != 0 || strings.TrimSpace(stdout) != want {
			t.Errorf("run %q: exit %d\nstdout %q\nstderr %q", args, code, stdout, stderr)
		}
		if !strings.Contains(stderr, "5 prompt + 60 generated tokens (finish: length)") {
			t.Errorf("stderr %q", stderr)
		}
		code, stdout, _ = runCLI(args...)
		if code != 0 || !strings.HasPrefix(stdout, ", there was a little girl named Lily. She loved to play outside in the park.") {
			t.Errorf("run %q: exit %d, text %q", args, code, stdout)
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"generate", "--prompt", "x"}, 2, "--model is required"},
		{[]string{"generate", "--model", stories + "stories260K.gguf"}, 2, "--prompt is required"},
		{[]string{"generate", "--model", "/nonexistent.gguf", "--prompt", "x"}, 1, "/nonexistent.gguf: no such file"},
		{[]string{"generate", "--model", stories + "stories260K.bin", "--prompt", "x"}, 1, "no tokenizer.bin beside it"},
		{[]string{"generate", "--model", stories + "stories260K.gguf", "--prompt", "x", "--temperature", "3"}, 1, "temperature 3 is out of range 0.0–2.0"},
		{[]string{"generate", "--model", stories + "stories260K.gguf", "--prompt", "x", "--max-tokens", "0"}, 2, "--max-tokens 0"},
	}
	for _, tt := range tests {
		code, _, stderr := runCLI(tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("run %q: exit %d, stderr %q; want exit %d and %q", tt.args, code, stderr, tt.code, tt.want)
		}
	}
	code, _, stderr := runCLI("generate", "--help")
	for _, f := range []string{"model", "tokenizer", "prompt", "max-tokens", "temperature", "top-p", "top-k", "seed", "threads", "ids", "stop"} {
		if code != 0 || !strings.Contains(stderr, "  -"+f) {
			t.Errorf("generate --help does not explain -%s", f)
		}
	}
}
