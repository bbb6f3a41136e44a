// Package xcheck lets Go tests cross-check Minerva against external
// reference implementations that run under Node.js:
//
//   - OpenAI's tiktoken (npm package "tiktoken", the Rust core compiled to
//     WASM), the reference for our tiktoken-compatible tokenizer;
//   - DuckDB (npm package "@duckdb/node-api"), an independent reader for the
//     Parquet files we write.
//
// The Node side lives in tools/xcheck (package.json with pinned versions,
// package-lock.json, and the scripts tiktoken_encode.mjs and
// duckdb_query.mjs). Its dependencies are installed with
//
//	make xcheck-deps    # = npm ci --prefix tools/xcheck
//
// Tests should call Require first: it skips the test when node or the
// node_modules are missing, or fails it when CI or MINERVA_REQUIRE_XCHECK is
// set in the environment.
package xcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// installHint is appended to every "not available" error.
const installHint = "run `make xcheck-deps` (npm ci --prefix tools/xcheck)"

// Dir returns the absolute path of tools/xcheck, found by walking up from the
// working directory to the directory containing go.mod.
func Dir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("xcheck: %w", err)
	}
	for d := wd; ; {
		if fi, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && !fi.IsDir() {
			dir := filepath.Join(d, "tools", "xcheck")
			if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
				return "", fmt.Errorf("xcheck: %s has no package.json: %w", dir, err)
			}
			return dir, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("xcheck: no go.mod found in %s or any parent directory", wd)
		}
		d = parent
	}
}

var (
	availOnce sync.Once
	availErr  error
)

// Available reports nil if node and the installed node_modules (tiktoken,
// @duckdb/node-api, at the versions pinned in tools/xcheck/package.json) are
// present and load, else an error telling the user to run `make xcheck-deps`
// (npm ci --prefix tools/xcheck). The result is computed once per process.
func Available() error {
	availOnce.Do(func() { availErr = checkAvailable() })
	return availErr
}

func checkAvailable() error {
	node, err := exec.LookPath("node")
	if err != nil {
		return fmt.Errorf("xcheck: node (Node.js >= 18) not found in PATH: %v; install it, then %s", err, installHint)
	}
	dir, err := Dir()
	if err != nil {
		return err
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return fmt.Errorf("xcheck: %w", err)
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		return fmt.Errorf("xcheck: %s: %w", filepath.Join(dir, "package.json"), err)
	}
	for _, name := range []string{"tiktoken", "@duckdb/node-api"} {
		want := pkg.Dependencies[name]
		p := filepath.Join(dir, "node_modules", filepath.FromSlash(name), "package.json")
		raw, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("xcheck: npm package %s is not installed in %s: %s", name, filepath.Join(dir, "node_modules"), installHint)
		}
		var inst struct {
			Version string `json:"version"`
		}
		if err := json.Unmarshal(raw, &inst); err != nil {
			return fmt.Errorf("xcheck: %s: %v; %s", p, err, installHint)
		}
		if want != "" && inst.Version != want {
			return fmt.Errorf("xcheck: npm package %s is %s, tools/xcheck/package.json pins %s: %s", name, inst.Version, want, installHint)
		}
	}
	// Load both packages once: catches a node that is too old and native
	// DuckDB bindings for another platform (e.g. a copied node_modules).
	probe := exec.Command(node, "--input-type=module", "-e",
		`await import("tiktoken"); await import("@duckdb/node-api");`)
	probe.Dir = dir
	if out, err := probe.CombinedOutput(); err != nil {
		return fmt.Errorf("xcheck: loading tiktoken and @duckdb/node-api with %s failed: %v: %s; %s",
			node, err, strings.TrimSpace(string(out)), installHint)
	}
	return nil
}

// Require makes a test depend on the Node.js cross-check tools. If Available
// fails, the test is failed with the reason (t.Fatalf) when the environment
// variable CI or MINERVA_REQUIRE_XCHECK is non-empty, and skipped with it
// (t.Skipf) otherwise.
func Require(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("CI") != "" || os.Getenv("MINERVA_REQUIRE_XCHECK") != "" {
			t.Fatalf("%v (required because CI or MINERVA_REQUIRE_XCHECK is set)", err)
		}
		t.Skipf("%v", err)
	}
}

// TiktokenEncode encodes each doc with OpenAI's tiktoken,
// get_encoding(encoding).encode_ordinary(doc): special tokens such as
// <|endoftext|> are treated as ordinary text. It returns one token slice per
// doc. encoding is a tiktoken encoding name: cl100k_base, o200k_base,
// p50k_base or r50k_base.
//
// Docs must be valid UTF-8: tiktoken's JS API takes JS strings, so invalid
// bytes cannot be passed through and are rejected rather than silently
// replaced with U+FFFD.
func TiktokenEncode(ctx context.Context, encoding string, docs []string) ([][]uint32, error) {
	return tiktoken(ctx, false, encoding, docs)
}

// TiktokenEncodeSpecial is like TiktokenEncode but uses
// enc.encode(doc, "all"): every special token of the encoding that appears in
// a doc is encoded as its special token id.
func TiktokenEncodeSpecial(ctx context.Context, encoding string, docs []string) ([][]uint32, error) {
	return tiktoken(ctx, true, encoding, docs)
}

func tiktoken(ctx context.Context, special bool, encoding string, docs []string) ([][]uint32, error) {
	for i, d := range docs {
		if !utf8.ValidString(d) {
			return nil, fmt.Errorf("xcheck: tiktoken: doc %d is not valid UTF-8", i)
		}
	}
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "minerva-xcheck-")
	if err != nil {
		return nil, fmt.Errorf("xcheck: %w", err)
	}
	defer os.RemoveAll(tmp)
	inPath := filepath.Join(tmp, "in.jsonl")
	outPath := filepath.Join(tmp, "out.jsonl")
	if err := writeJSONL(inPath, docs); err != nil {
		return nil, fmt.Errorf("xcheck: %w", err)
	}

	args := []string{filepath.Join(dir, "tiktoken_encode.mjs")}
	if special {
		args = append(args, "--special")
	}
	args = append(args, encoding, inPath, outPath)
	if _, err := runNode(ctx, dir, args...); err != nil {
		return nil, err
	}

	f, err := os.Open(outPath)
	if err != nil {
		return nil, fmt.Errorf("xcheck: tiktoken: %w", err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	res := make([][]uint32, 0, len(docs))
	for {
		var ids []uint32
		if err := dec.Decode(&ids); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("xcheck: tiktoken: decoding output line %d: %w", len(res)+1, err)
		}
		if ids == nil {
			ids = []uint32{}
		}
		res = append(res, ids)
	}
	if len(res) != len(docs) {
		return nil, fmt.Errorf("xcheck: tiktoken: got %d results for %d docs", len(res), len(docs))
	}
	return res, nil
}

// writeJSONL writes each doc as one JSON string per line. encoding/json
// escapes newlines (and U+2028/U+2029), so every doc stays on its line.
func writeJSONL(path string, docs []string) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil { // Encode appends '\n'
			return err
		}
	}
	return os.WriteFile(path, buf.Bytes(), 0o600)
}

// Column is one result column: its name and DuckDB type string, e.g.
// "VARCHAR", "INTEGER[]", "BIGINT", "STRUCT(\"a\" INTEGER)".
type Column struct {
	Name, Type string
}

// Table is a decoded DuckDB query result.
//
// Row values are decoded from JSON: numbers are float64 (integers of up to
// 53 bits are exact; wider BIGINT/HUGEINT values arrive as decimal strings),
// lists and arrays are []any, structs map[string]any, maps []any of
// {"key","value"} objects, NULL is nil, and DECIMAL, dates, timestamps, UUIDs
// and BLOBs (DuckDB's escaped text form) are strings.
type Table struct {
	Columns []Column
	Rows    [][]any
}

// DuckDB runs sql in a fresh in-memory DuckDB (via @duckdb/node-api) and
// returns the decoded result. Relative paths in sql (e.g. in
// read_parquet('x.parquet')) are resolved against tools/xcheck, so pass
// absolute paths.
func DuckDB(ctx context.Context, sql string) (*Table, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	out, err := runNode(ctx, dir, filepath.Join(dir, "duckdb_query.mjs"), sql)
	if err != nil {
		return nil, err
	}
	var res struct {
		Columns []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"columns"`
		Rows [][]any `json:"rows"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("xcheck: duckdb: decoding output: %w", err)
	}
	t := &Table{Columns: make([]Column, len(res.Columns)), Rows: res.Rows}
	for i, c := range res.Columns {
		t.Columns[i] = Column{Name: c.Name, Type: c.Type}
	}
	if t.Rows == nil {
		t.Rows = [][]any{}
	}
	return t, nil
}

// runNode runs `node args...` in dir and returns its stdout. Errors include
// the script's stderr.
func runNode(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		script := filepath.Base(args[0])
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = errors.Join(ctxErr, err)
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return nil, fmt.Errorf("xcheck: node %s: %w", script, err)
		}
		return nil, fmt.Errorf("xcheck: node %s: %w: %s", script, err, msg)
	}
	return stdout.Bytes(), nil
}
