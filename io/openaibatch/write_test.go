package openaibatch

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/minerva-batch/minerva/engine/infer"
	"github.com/minerva-batch/minerva/engine/llama"
)

// readOutput reads the lines of an output file, both as OutputLines and as
// generic JSON.
func readOutput(t *testing.T, path string) ([]OutputLine, []map[string]any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []OutputLine
	var raws []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l OutputLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("output line %q: %v", sc.Text(), err)
		}
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
		raws = append(raws, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines, raws
}

func keys(m any) []string {
	var ks []string
	for k := range m.(map[string]any) {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func TestRoundTrip(t *testing.T) {
	in := `{"custom_id":"chat-1","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi <there> & you"}],"max_tokens":8}}
{"custom_id":"compl-1","method":"POST","url":"/v1/completions","body":{"model":"tiny","prompt":"Once upon","stop":"\n"}}
{"custom_id":"bad-1","method":"POST","url":"/v1/completions","body":{"prompt":"p","temperature":"hot"}}
{"method":"POST","url":"/v1/completions","body":{"prompt":"p"}}
`
	lines := readAll(t, writeFile(t, in))
	if len(lines) != 4 {
		t.Fatalf("%d rows", len(lines))
	}
	dir := t.TempDir()
	rw, err := NewShardWriter(dir, ResultsPrefix, "00001")
	if err != nil {
		t.Fatal(err)
	}
	ew, err := NewShardWriter(dir, ErrorsPrefix, "00001")
	if err != nil {
		t.Fatal(err)
	}
	completions := map[string]infer.Completion{
		"chat-1":  {Completion: llama.Completion{Text: "Hello <b> & \"bye\"\n", PromptTokens: 12, CompletionTokens: 5, FinishReason: llama.FinishStop, Duration: time.Second}, Model: "local.gguf"},
		"compl-1": {Completion: llama.Completion{Text: " a time", PromptTokens: 3, CompletionTokens: 2, FinishReason: llama.FinishLength}, Model: "local.gguf"},
	}
	for _, l := range lines {
		if l.Err != "" {
			if err := ew.WriteFailure(Failure{CustomID: l.CustomID, IDNull: l.IDNull, File: l.File, Line: l.Line, Code: "read", Message: l.Err}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if l.IDNull {
			if err := ew.WriteFailure(Failure{IDNull: true, File: l.File, Line: l.Line, Code: "read", Message: "missing custom_id"}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := rw.WriteResult(Result{CustomID: l.CustomID, URL: l.URL, Model: l.Model, Created: 1700000000, Completion: completions[l.CustomID]}); err != nil {
			t.Fatal(err)
		}
	}
	if rw.Lines() != 2 || ew.Lines() != 2 {
		t.Errorf("Lines = %d, %d", rw.Lines(), ew.Lines())
	}
	rpath, err := rw.Commit()
	if err != nil {
		t.Fatal(err)
	}
	epath, err := ew.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if rpath != filepath.Join(dir, "results-00001.jsonl") || epath != filepath.Join(dir, "errors-00001.jsonl") {
		t.Errorf("paths %q, %q", rpath, epath)
	}

	out, raw := readOutput(t, rpath)
	if len(out) != 2 {
		t.Fatalf("%d result lines", len(out))
	}
	idRE := regexp.MustCompile(`^batch_req_[0-9a-f]{32}$`)
	for i, l := range out {
		if !idRE.MatchString(l.ID) || l.Error != nil || l.Response == nil || l.Response.StatusCode != 200 ||
			!regexp.MustCompile(`^req_[0-9a-f]{32}$`).MatchString(l.Response.RequestID) {
			t.Errorf("line %d: %+v", i, l)
		}
		// The OpenAI shapes, key for key.
		m := raw[i]
		if got := keys(m); !slices.Equal(got, []string{"custom_id", "error", "id", "response"}) || m["error"] != nil {
			t.Errorf("line %d keys %v", i, got)
		}
		resp := m["response"].(map[string]any)
		if got := keys(resp); !slices.Equal(got, []string{"body", "request_id", "status_code"}) {
			t.Errorf("response keys %v", got)
		}
		body := resp["body"].(map[string]any)
		if got := keys(body); !slices.Equal(got, []string{"choices", "created", "id", "model", "object", "usage"}) {
			t.Errorf("body keys %v", got)
		}
		if got := keys(body["usage"]); !slices.Equal(got, []string{"completion_tokens", "prompt_tokens", "total_tokens"}) {
			t.Errorf("usage keys %v", got)
		}
		choice := body["choices"].([]any)[0]
		wantChoice := []string{"finish_reason", "index", "logprobs", "text"}
		if i == 0 {
			wantChoice = []string{"finish_reason", "index", "logprobs", "message"}
			if got := keys(choice.(map[string]any)["message"]); !slices.Equal(got, []string{"content", "refusal", "role"}) {
				t.Errorf("message keys %v", got)
			}
		}
		if got := keys(choice); !slices.Equal(got, wantChoice) {
			t.Errorf("choice keys %v", got)
		}
	}

	chat := out[0].Response.Body
	wantChat := Body{
		ID: chat.ID, Object: "chat.completion", Created: 1700000000, Model: "gpt-4o-mini",
		Choices: []Choice{{Index: 0, Message: &ChatMessage{Role: "assistant", Content: "Hello <b> & \"bye\"\n"}, FinishReason: ptr("stop")}},
		Usage:   Usage{PromptTokens: 12, CompletionTokens: 5, TotalTokens: 17},
	}
	if !strings.HasPrefix(chat.ID, "chatcmpl-") || !reflect.DeepEqual(chat, wantChat) || *out[0].CustomID != "chat-1" {
		t.Errorf("chat body %+v\nwant %+v", chat, wantChat)
	}
	compl := out[1].Response.Body
	wantCompl := Body{
		ID: compl.ID, Object: "text_completion", Created: 1700000000, Model: "tiny",
		Choices: []Choice{{Index: 0, Text: ptr(" a time"), FinishReason: ptr("length")}},
		Usage:   Usage{PromptTokens: 3, CompletionTokens: 2, TotalTokens: 5},
	}
	if !strings.HasPrefix(compl.ID, "cmpl-") || !reflect.DeepEqual(compl, wantCompl) || *out[1].CustomID != "compl-1" {
		t.Errorf("completion body %+v\nwant %+v", compl, wantCompl)
	}
	// HTML characters are written as they are, like OpenAI does.
	data, _ := os.ReadFile(rpath)
	if !strings.Contains(string(data), `Hello <b> & \"bye\"\n`) {
		t.Errorf("escaped output: %s", data)
	}

	errs, eraw := readOutput(t, epath)
	if len(errs) != 2 {
		t.Fatalf("%d error lines", len(errs))
	}
	if e := errs[0]; *e.CustomID != "bad-1" || e.Response != nil || e.Error == nil ||
		*e.Error != (LineError{Code: "read", Message: `field "body.temperature": want a number, got a string`}) || !idRE.MatchString(e.ID) {
		t.Errorf("error line %+v", e)
	}
	if e := errs[1]; e.CustomID != nil || e.Response != nil || e.Error.Message != "missing custom_id" || !idRE.MatchString(e.ID) {
		t.Errorf("error line %+v", e)
	}
	for _, m := range eraw {
		if got := keys(m); !slices.Equal(got, []string{"custom_id", "error", "id", "response"}) || m["response"] != nil {
			t.Errorf("error line keys %v", got)
		}
		if got := keys(m["error"]); !slices.Equal(got, []string{"code", "message"}) {
			t.Errorf("error keys %v", got)
		}
	}
	if _, ok := eraw[1]["custom_id"]; !ok {
		t.Error("null custom_id left out")
	}
	for _, p := range []string{rpath, epath} {
		if n, err := CountLines(p); err != nil || n != 2 {
			t.Errorf("CountLines(%s) = %d, %v", p, n, err)
		}
	}
}

func TestDeterministicIDs(t *testing.T) {
	c := infer.Completion{Completion: llama.Completion{Text: "x", FinishReason: "stop"}, Model: "m"}
	a, err := ResultLine(Result{CustomID: "r1", URL: ChatCompletionsURL, Completion: c})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ResultLine(Result{CustomID: "r1", URL: ChatCompletionsURL, Completion: c})
	d, _ := ResultLine(Result{CustomID: "r2", URL: ChatCompletionsURL, Completion: c})
	if a.ID != b.ID || a.Response.RequestID != b.Response.RequestID || a.Response.Body.ID != b.Response.Body.ID {
		t.Error("ids differ between runs")
	}
	if a.ID == d.ID || a.ID[len("batch_req_"):] == a.Response.RequestID[len("req_"):] {
		t.Error("ids collide")
	}
	if a.Response.Body.Model != "m" || a.Response.Body.Created == 0 {
		t.Errorf("model %q created %d", a.Response.Body.Model, a.Response.Body.Created)
	}
	if f := FailureLine(Failure{CustomID: "r1"}); f.ID != a.ID {
		t.Error("failure and result ids of one custom id differ")
	}
	n1 := FailureLine(Failure{IDNull: true, File: "/a/in.jsonl", Line: 1})
	n2 := FailureLine(Failure{IDNull: true, File: "/b/in.jsonl", Line: 1})
	n3 := FailureLine(Failure{IDNull: true, File: "/a/in.jsonl", Line: 2})
	if n1.ID != n2.ID || n1.ID == n3.ID {
		t.Error("null-id failure ids")
	}
	if _, err := ResultLine(Result{CustomID: "r1", URL: "/v1/embeddings"}); err == nil {
		t.Error("no error for a bad url")
	}
	// An empty finish reason is null.
	e, _ := ResultLine(Result{CustomID: "r1", URL: CompletionsURL})
	if e.Response.Body.Choices[0].FinishReason != nil || *e.Response.Body.Choices[0].Text != "" {
		t.Errorf("choice %+v", e.Response.Body.Choices[0])
	}
}

// dirNames lists a folder, hidden files included.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestShardWriter(t *testing.T) {
	dir := t.TempDir()
	w, err := NewShardWriter(dir, "results", "0")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFailure(Failure{CustomID: "a", Code: "x", Message: "y"}); err != nil {
		t.Fatal(err)
	}
	// Before Commit only a hidden temporary file exists.
	names := dirNames(t, dir)
	if len(names) != 1 || !regexp.MustCompile(`^\.results-0\.jsonl\..*\.tmp$`).MatchString(names[0]) {
		t.Errorf("before commit: %v", names)
	}
	if w.Path() != filepath.Join(dir, "results-0.jsonl") {
		t.Errorf("Path %q", w.Path())
	}
	path, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"results-0.jsonl"}) {
		t.Errorf("after commit: %v", names)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("stat %v, %v", st, err)
	}
	if err := w.Write(OutputLine{}); err == nil {
		t.Error("Write after Commit")
	}
	if _, err := w.Commit(); err == nil {
		t.Error("Commit twice")
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort after Commit: %v", err)
	}

	// A retry replaces the shard.
	w, _ = NewShardWriter(dir, "results", "0")
	w.WriteFailure(Failure{CustomID: "b"})
	w.WriteFailure(Failure{CustomID: "c"})
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if n, err := CountLines(path); n != 2 || err != nil {
		t.Errorf("after retry %d lines, %v", n, err)
	}

	// Abort leaves nothing behind.
	w, _ = NewShardWriter(dir, "errors", "1")
	w.WriteFailure(Failure{CustomID: "b"})
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("second Abort: %v", err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"results-0.jsonl"}) {
		t.Errorf("after abort: %v", names)
	}

	// Empty shards.
	p, err := WriteEmpty(dir, "errors", "2")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := CountLines(p); n != 0 || err != nil {
		t.Errorf("empty shard: %d, %v", n, err)
	}

	for _, bad := range [][2]string{{"", "0"}, {"results", ""}, {"a/b", "0"}, {"results", `x\y`}, {"..", "0"}, {"results", "a\x00"}} {
		if _, err := NewShardWriter(dir, bad[0], bad[1]); err == nil {
			t.Errorf("NewShardWriter(%q, %q) gave no error", bad[0], bad[1])
		}
	}
	if _, err := NewShardWriter(filepath.Join(dir, "missing"), "results", "0"); err == nil {
		t.Error("no error for a missing folder")
	}
	if _, err := CountLines(filepath.Join(dir, "missing.jsonl")); err == nil {
		t.Error("CountLines of a missing file")
	}
}
