package openaibatch

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/minerva-batch/minerva/engine/infer"
)

func ptr[T any](v T) *T { return &v }

// chatLine and complLine build request lines around a body.
func chatLine(body string) string {
	return `{"custom_id":"c1","method":"POST","url":"/v1/chat/completions","body":` + body + `}`
}

func complLine(body string) string {
	return `{"custom_id":"c1","method":"POST","url":"/v1/completions","body":` + body + `}`
}

const userHi = `"messages":[{"role":"user","content":"Hi"}]`

var hiMsgs = []infer.Message{{Role: "user", Content: "Hi"}}

// lineCases are single request lines with the Line (Spec or Err) they read
// as. They also seed the fuzzer.
var lineCases = []struct {
	name   string
	line   string
	spec   infer.Spec // when err is ""
	err    string
	id     string
	idNull bool
	url    string // want Line.URL, when not ""
	model  string // want Line.Model, when not ""
}{
	// Well-formed lines.
	{name: "chat", line: chatLine(`{"model":"gpt-4o",` + userHi + `}`), spec: infer.Spec{Messages: hiMsgs}, id: "c1", url: ChatCompletionsURL, model: "gpt-4o"},
	{name: "completion", line: complLine(`{"model":"m","prompt":"Once"}`), spec: infer.Spec{Prompt: ptr("Once")}, id: "c1", url: CompletionsURL, model: "m"},
	{name: "all fields", line: chatLine(`{` + userHi + `,"max_tokens":10,"temperature":0.5,"top_p":0.9,"top_k":40,"seed":7,"stop":["a","b"],"priority":-3}`),
		spec: infer.Spec{Messages: hiMsgs, MaxTokens: ptr[int64](10), Temperature: ptr(0.5), TopP: ptr(0.9), TopK: ptr[int64](40), Seed: ptr[int64](7), Stop: []string{"a", "b"}, Priority: ptr[int64](-3)}, id: "c1"},
	{name: "stop string", line: complLine(`{"prompt":"p","stop":"\n"}`), spec: infer.Spec{Prompt: ptr("p"), Stop: []string{"\n"}}, id: "c1"},
	{name: "stop empty list", line: complLine(`{"prompt":"p","stop":[]}`), spec: infer.Spec{Prompt: ptr("p"), Stop: []string{}}, id: "c1"},
	{name: "stop null", line: complLine(`{"prompt":"p","stop":null}`), spec: infer.Spec{Prompt: ptr("p")}, id: "c1"},
	{name: "max_completion_tokens", line: chatLine(`{` + userHi + `,"max_completion_tokens":20}`), spec: infer.Spec{Messages: hiMsgs, MaxTokens: ptr[int64](20)}, id: "c1"},
	{name: "max_completion_tokens wins", line: chatLine(`{` + userHi + `,"max_tokens":5,"max_completion_tokens":20}`), spec: infer.Spec{Messages: hiMsgs, MaxTokens: ptr[int64](20)}, id: "c1"},
	{name: "integer-valued floats", line: chatLine(`{` + userHi + `,"temperature":1,"top_p":1,"max_tokens":100.0,"seed":1e3}`),
		spec: infer.Spec{Messages: hiMsgs, Temperature: ptr(1.0), TopP: ptr(1.0), MaxTokens: ptr[int64](100), Seed: ptr[int64](1000)}, id: "c1"},
	{name: "nulls are absent", line: chatLine(`{` + userHi + `,"temperature":null,"max_tokens":null,"seed":null,"model":null}`), spec: infer.Spec{Messages: hiMsgs}, id: "c1"},
	{name: "top_k -1", line: chatLine(`{` + userHi + `,"top_k":-1}`), spec: infer.Spec{Messages: hiMsgs, TopK: ptr[int64](0)}, id: "c1"},
	{name: "negative seed passes to Resolve", line: chatLine(`{` + userHi + `,"seed":-1}`), spec: infer.Spec{Messages: hiMsgs, Seed: ptr[int64](-1)}, id: "c1"},
	{name: "content parts", line: chatLine(`{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}`),
		spec: infer.Spec{Messages: []infer.Message{{Role: "user", Content: "a\nb"}}}, id: "c1"},
	{name: "empty content parts", line: chatLine(`{"messages":[{"role":"user","content":[]}]}`),
		spec: infer.Spec{Messages: []infer.Message{{Role: "user", Content: ""}}}, id: "c1"},
	{name: "roles", line: chatLine(`{"messages":[{"role":"developer","content":"d"},{"role":"system","content":"s"},{"role":"user","content":"u","name":"bob"},{"role":"assistant","content":"a","tool_calls":[]}]}`),
		spec: infer.Spec{Messages: []infer.Message{{Role: "system", Content: "d"}, {Role: "system", Content: "s"}, {Role: "user", Content: "u"}, {Role: "assistant", Content: "a"}}}, id: "c1"},
	{name: "ignored keys", line: `{"custom_id":"c1","method":"POST","url":"/v1/chat/completions","extra":1,"body":{` + userHi + `,"model":"m","user":"u","metadata":{"k":"v"},"store":false,"logprobs":false,"top_logprobs":0,"n":1,"stream":false,"presence_penalty":0,"frequency_penalty":0.0,"tools":[],"logit_bias":{},"response_format":{"type":"text"},"tool_choice":"none","service_tier":"auto","whatever":[1,2]}}`,
		spec: infer.Spec{Messages: hiMsgs}, id: "c1", model: "m"},
	{name: "completion defaults", line: complLine(`{"prompt":"p","echo":false,"best_of":1,"suffix":null,"logprobs":null}`), spec: infer.Spec{Prompt: ptr("p")}, id: "c1"},
	{name: "unicode and escapes", line: complLine(`{"prompt":"h\u00e9llo \"w\" <&>"}`), spec: infer.Spec{Prompt: ptr(`héllo "w" <&>`)}, id: "c1"},
	{name: "empty custom_id is an id", line: `{"custom_id":"","method":"POST","url":"/v1/completions","body":{"prompt":"p"}}`, spec: infer.Spec{Prompt: ptr("p")}, id: ""},
	{name: "leading and trailing space", line: "  " + complLine(`{"prompt":"p"}`) + " \t", spec: infer.Spec{Prompt: ptr("p")}, id: "c1"},

	// Whole-line problems.
	{name: "not JSON", line: `{"custom_id": "x",`, err: `not valid JSON: unexpected end of JSON input (at byte 18)`, idNull: true},
	{name: "garbage", line: `hello`, err: `not valid JSON: invalid character 'h' looking for beginning of value (at byte 1)`, idNull: true},
	{name: "trailing data", line: `{"custom_id":"a"} {}`, err: `not valid JSON: invalid character '{' after top-level value (at byte 19)`, idNull: true},
	{name: "list", line: `[1,2]`, err: `not a JSON object: got a list`, idNull: true},
	{name: "string", line: `"x"`, err: `not a JSON object: got a string`, idNull: true},
	{name: "null", line: `null`, err: `not a JSON object: got null`, idNull: true},

	// custom_id.
	{name: "custom_id missing", line: `{"method":"POST","url":"/v1/completions","body":{"prompt":"p"}}`, spec: infer.Spec{Prompt: ptr("p")}, idNull: true},
	{name: "custom_id null", line: `{"custom_id":null,"method":"POST","url":"/v1/completions","body":{"prompt":"p"}}`, spec: infer.Spec{Prompt: ptr("p")}, idNull: true},
	{name: "custom_id number", line: `{"custom_id":5,"method":"POST","url":"/v1/completions","body":{"prompt":"p"}}`, err: `field "custom_id": want a string, got a number`, idNull: true, url: CompletionsURL},

	// method, url, body.
	{name: "method missing", line: `{"custom_id":"c1","url":"/v1/completions","body":{"prompt":"p"}}`, err: `field "method": is missing`, id: "c1"},
	{name: "method GET", line: `{"custom_id":"c1","method":"GET","url":"/v1/completions","body":{"prompt":"p"}}`, err: `field "method": "GET" is not supported; want "POST"`, id: "c1"},
	{name: "method number", line: `{"custom_id":"c1","method":1,"url":"/v1/completions","body":{"prompt":"p"}}`, err: `field "method": want a string, got a number`, id: "c1"},
	{name: "url missing", line: `{"custom_id":"c1","method":"POST","body":{"prompt":"p"}}`, err: `field "url": is missing`, id: "c1"},
	{name: "url embeddings", line: `{"custom_id":"c1","method":"POST","url":"/v1/embeddings","body":{"input":"p"}}`, err: `field "url": "/v1/embeddings" is not supported; want "/v1/chat/completions" or "/v1/completions"`, id: "c1", url: "/v1/embeddings"},
	{name: "body missing", line: `{"custom_id":"c1","method":"POST","url":"/v1/completions"}`, err: `field "body": is missing`, id: "c1"},
	{name: "body string", line: `{"custom_id":"c1","method":"POST","url":"/v1/completions","body":"p"}`, err: `field "body": want an object, got a string`, id: "c1"},

	// prompt and messages.
	{name: "prompt missing", line: complLine(`{"model":"m"}`), err: `field "body.prompt": is missing`, id: "c1", model: "m"},
	{name: "prompt list", line: complLine(`{"prompt":["a","b"]}`), err: `field "body.prompt": a list of prompts (or of token ids) is not supported; give one prompt, a string, per line`, id: "c1"},
	{name: "prompt number", line: complLine(`{"prompt":3}`), err: `field "body.prompt": want a string, got a number`, id: "c1"},
	{name: "messages in completion", line: complLine(`{"prompt":"p",` + userHi + `}`), err: `field "body.messages": is not a field of /v1/completions requests; use "prompt", or url "/v1/chat/completions"`, id: "c1"},
	{name: "prompt in chat", line: chatLine(`{"prompt":"p"}`), err: `field "body.prompt": is not a field of /v1/chat/completions requests; use "messages"`, id: "c1"},
	{name: "messages missing", line: chatLine(`{}`), err: `field "body.messages": is missing`, id: "c1"},
	{name: "messages object", line: chatLine(`{"messages":{"role":"user"}}`), err: `field "body.messages": want a list of messages, got an object`, id: "c1"},
	{name: "messages empty", line: chatLine(`{"messages":[]}`), err: `field "body.messages": is empty`, id: "c1"},
	{name: "message string", line: chatLine(`{"messages":["hi"]}`), err: `field "body.messages[0]": want a message object, got a string`, id: "c1"},
	{name: "role missing", line: chatLine(`{"messages":[{"content":"hi"}]}`), err: `field "body.messages[0].role": is missing`, id: "c1"},
	{name: "role number", line: chatLine(`{"messages":[{"role":1,"content":"hi"}]}`), err: `field "body.messages[0].role": want a string, got a number`, id: "c1"},
	{name: "role unknown", line: chatLine(`{"messages":[{"role":"user","content":"a"},{"role":"wizard","content":"hi"}]}`), err: `field "body.messages[1].role": "wizard" is not supported; want "system", "developer", "user" or "assistant"`, id: "c1"},
	{name: "role tool", line: chatLine(`{"messages":[{"role":"tool","content":"hi","tool_call_id":"x"}]}`), err: `field "body.messages[0].role": "tool" is not supported; want "system", "developer", "user" or "assistant"`, id: "c1"},
	{name: "tool calls", line: chatLine(`{"messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"t"}]}]}`), err: `field "body.messages[0].tool_calls": tool calls are not supported`, id: "c1"},
	{name: "content missing", line: chatLine(`{"messages":[{"role":"user"}]}`), err: `field "body.messages[0].content": is missing`, id: "c1"},
	{name: "content null", line: chatLine(`{"messages":[{"role":"user","content":null}]}`), err: `field "body.messages[0].content": is missing`, id: "c1"},
	{name: "content number", line: chatLine(`{"messages":[{"role":"user","content":5}]}`), err: `field "body.messages[0].content": want a string or a list of content parts, got a number`, id: "c1"},
	{name: "content part string", line: chatLine(`{"messages":[{"role":"user","content":["hi"]}]}`), err: `field "body.messages[0].content[0]": want a content part object, got a string`, id: "c1"},
	{name: "content part image", line: chatLine(`{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"x"}}]}]}`), err: `field "body.messages[0].content[1].type": "image_url" is not supported; only "text" parts are`, id: "c1"},
	{name: "content part no type", line: chatLine(`{"messages":[{"role":"user","content":[{"text":"a"}]}]}`), err: `field "body.messages[0].content[0].type": is missing`, id: "c1"},
	{name: "content part no text", line: chatLine(`{"messages":[{"role":"user","content":[{"type":"text"}]}]}`), err: `field "body.messages[0].content[0].text": is missing`, id: "c1"},
	{name: "content part text number", line: chatLine(`{"messages":[{"role":"user","content":[{"type":"text","text":1}]}]}`), err: `field "body.messages[0].content[0].text": want a string, got a number`, id: "c1"},

	// Field types.
	{name: "temperature string", line: chatLine(`{` + userHi + `,"temperature":"hot"}`), err: `field "body.temperature": want a number, got a string`, id: "c1"},
	{name: "top_p boolean", line: chatLine(`{` + userHi + `,"top_p":true}`), err: `field "body.top_p": want a number, got a boolean`, id: "c1"},
	{name: "temperature huge", line: chatLine(`{` + userHi + `,"temperature":1e999}`), err: `field "body.temperature": 1e999 is out of range`, id: "c1"},
	{name: "max_tokens fraction", line: chatLine(`{` + userHi + `,"max_tokens":1.5}`), err: `field "body.max_tokens": want an integer, got 1.5`, id: "c1"},
	{name: "max_tokens string", line: chatLine(`{` + userHi + `,"max_tokens":"10"}`), err: `field "body.max_tokens": want an integer, got a string`, id: "c1"},
	{name: "max_completion_tokens list", line: chatLine(`{` + userHi + `,"max_completion_tokens":[1]}`), err: `field "body.max_completion_tokens": want an integer, got a list`, id: "c1"},
	{name: "seed huge", line: chatLine(`{` + userHi + `,"seed":1e20}`), err: `field "body.seed": 1e20 is out of range`, id: "c1"},
	{name: "seed too big int", line: chatLine(`{` + userHi + `,"seed":9223372036854775808}`), err: `field "body.seed": 9223372036854775808 is out of range`, id: "c1"},
	{name: "top_k object", line: chatLine(`{` + userHi + `,"top_k":{}}`), err: `field "body.top_k": want an integer, got an object`, id: "c1"},
	{name: "priority string", line: chatLine(`{` + userHi + `,"priority":"high"}`), err: `field "body.priority": want an integer, got a string`, id: "c1"},
	{name: "stop number", line: chatLine(`{` + userHi + `,"stop":1}`), err: `field "body.stop": want a string or a list of strings, got a number`, id: "c1"},
	{name: "stop list with number", line: chatLine(`{` + userHi + `,"stop":["a",2]}`), err: `field "body.stop[1]": want a string, got a number`, id: "c1"},
	{name: "model number", line: chatLine(`{` + userHi + `,"model":4}`), err: `field "body.model": want a string, got a number`, id: "c1"},

	// Unsupported features.
	{name: "n 2", line: chatLine(`{` + userHi + `,"n":2}`), err: `field "body.n": 2 is not supported; only 1 completion per request`, id: "c1"},
	{name: "n 0", line: chatLine(`{` + userHi + `,"n":0}`), err: `field "body.n": 0 is not supported; only 1 completion per request`, id: "c1"},
	{name: "n string", line: chatLine(`{` + userHi + `,"n":"1"}`), err: `field "body.n": want an integer, got a string`, id: "c1"},
	{name: "best_of", line: complLine(`{"prompt":"p","best_of":3}`), err: `field "body.best_of": 3 is not supported; only 1`, id: "c1"},
	{name: "stream", line: chatLine(`{` + userHi + `,"stream":true}`), err: `field "body.stream": true is not supported`, id: "c1"},
	{name: "stream string", line: chatLine(`{` + userHi + `,"stream":"yes"}`), err: `field "body.stream": want a boolean, got a string`, id: "c1"},
	{name: "echo", line: complLine(`{"prompt":"p","echo":true}`), err: `field "body.echo": true is not supported`, id: "c1"},
	{name: "logprobs chat", line: chatLine(`{` + userHi + `,"logprobs":true}`), err: `field "body.logprobs": log probabilities are not supported`, id: "c1"},
	{name: "logprobs chat number", line: chatLine(`{` + userHi + `,"logprobs":3}`), err: `field "body.logprobs": want a boolean, got a number`, id: "c1"},
	{name: "logprobs completion", line: complLine(`{"prompt":"p","logprobs":0}`), err: `field "body.logprobs": log probabilities are not supported`, id: "c1"},
	{name: "top_logprobs", line: chatLine(`{` + userHi + `,"top_logprobs":5}`), err: `field "body.top_logprobs": log probabilities are not supported`, id: "c1"},
	{name: "presence_penalty", line: chatLine(`{` + userHi + `,"presence_penalty":0.5}`), err: `field "body.presence_penalty": 0.5 is not supported; only 0`, id: "c1"},
	{name: "repetition_penalty", line: chatLine(`{` + userHi + `,"repetition_penalty":1.1}`), err: `field "body.repetition_penalty": 1.1 is not supported; only 1`, id: "c1"},
	{name: "suffix", line: complLine(`{"prompt":"p","suffix":"end"}`), err: `field "body.suffix": is not supported`, id: "c1"},
	{name: "tools", line: chatLine(`{` + userHi + `,"tools":[{"type":"function"}]}`), err: `field "body.tools": tools are not supported`, id: "c1"},
	{name: "logit_bias", line: chatLine(`{` + userHi + `,"logit_bias":{"50256":-100}}`), err: `field "body.logit_bias": is not supported`, id: "c1"},
	{name: "logit_bias list", line: chatLine(`{` + userHi + `,"logit_bias":[]}`), err: `field "body.logit_bias": want an object, got a list`, id: "c1"},
	{name: "response_format json", line: chatLine(`{` + userHi + `,"response_format":{"type":"json_object"}}`), err: `field "body.response_format": only {"type": "text"} is supported`, id: "c1"},
}

// writeFile writes content to a new file in a test folder.
func writeFile(t testing.TB, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.jsonl")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// readAll reads every Line of a file.
func readAll(t testing.TB, path string) []Line {
	t.Helper()
	var lines []Line
	if err := ReadRequests(context.Background(), path, func(l Line) error {
		lines = append(lines, l)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return lines
}

func TestReadRequestsLines(t *testing.T) {
	for _, tc := range lineCases {
		t.Run(tc.name, func(t *testing.T) {
			// A good first line, so that a bad line is a row error.
			first := complLine(`{"prompt":"first"}`)
			path := writeFile(t, first+"\n"+tc.line+"\n")
			lines := readAll(t, path)
			if len(lines) != 2 {
				t.Fatalf("got %d lines, want 2", len(lines))
			}
			l := lines[1]
			if l.File != path || l.Line != 2 {
				t.Errorf("File, Line = %q, %d; want %q, 2", l.File, l.Line, path)
			}
			if l.Err != tc.err {
				t.Errorf("Err = %q\n        want %q", l.Err, tc.err)
			}
			if tc.err == "" && !reflect.DeepEqual(l.Spec, tc.spec) {
				t.Errorf("Spec = %s\nwant %s", specString(l.Spec), specString(tc.spec))
			}
			if tc.err != "" && !reflect.DeepEqual(l.Spec, infer.Spec{}) {
				t.Errorf("Spec = %s with an error, want zero", specString(l.Spec))
			}
			if l.CustomID != tc.id || l.IDNull != tc.idNull {
				t.Errorf("CustomID, IDNull = %q, %v; want %q, %v", l.CustomID, l.IDNull, tc.id, tc.idNull)
			}
			if tc.url != "" && l.URL != tc.url {
				t.Errorf("URL = %q, want %q", l.URL, tc.url)
			}
			if tc.model != "" && l.Model != tc.model {
				t.Errorf("Model = %q, want %q", l.Model, tc.model)
			}

			// ReadIDs agrees with ReadRequests.
			var ids []string
			var nulls []bool
			err := ReadIDs(context.Background(), path, func(n int64, id string, null bool) error {
				ids = append(ids, id)
				nulls = append(nulls, null)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) != 2 || ids[1] != l.CustomID || nulls[1] != l.IDNull {
				t.Errorf("ReadIDs gave %q %v, want %q, %v second", ids, nulls, l.CustomID, l.IDNull)
			}
		})
	}
}

// specString renders a Spec with its pointers followed, for messages.
func specString(s infer.Spec) string {
	b, err := json.Marshal(s)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func TestBlankLinesCRLFAndBOM(t *testing.T) {
	a := complLine(`{"prompt":"a"}`)
	b := strings.Replace(complLine(`{"prompt":"b"}`), `"c1"`, `"c2"`, 1)
	content := "\xef\xbb\xbf\n  \t\r\n" + a + "\r\n\r\n\n" + b + "\r\n \n" // BOM, blanks, CRLF
	path := writeFile(t, content)
	lines := readAll(t, path)
	if len(lines) != 2 {
		t.Fatalf("got %d rows, want 2: %+v", len(lines), lines)
	}
	if lines[0].Line != 3 || lines[1].Line != 6 {
		t.Errorf("line numbers %d, %d; want 3, 6", lines[0].Line, lines[1].Line)
	}
	for i, l := range lines {
		if l.Err != "" {
			t.Errorf("row %d: %s", i, l.Err)
		}
	}
	if *lines[0].Spec.Prompt != "a" || *lines[1].Spec.Prompt != "b" || lines[1].CustomID != "c2" {
		t.Errorf("rows %+v", lines)
	}
	n, err := Inspect(path)
	if err != nil || n != 2 {
		t.Errorf("Inspect = %d, %v; want 2, nil", n, err)
	}
	if n, err := CountLines(path); err != nil || n != 2 {
		t.Errorf("CountLines = %d, %v; want 2, nil", n, err)
	}

	// A CR inside a line is kept; no final line ending is needed.
	path = writeFile(t, complLine(`{"prompt":"x\ry"}`)+"\n"+complLine(`{"prompt":"z"}`))
	lines = readAll(t, path)
	if len(lines) != 2 || *lines[0].Spec.Prompt != "x\ry" || *lines[1].Spec.Prompt != "z" {
		t.Errorf("rows %+v", lines)
	}
}

func TestHugeLine(t *testing.T) {
	defer func(n int) { maxLine = n }(maxLine)
	maxLine = 100
	ok := complLine(`{"prompt":"short"}`) // 82 bytes
	exact := complLine(`{"prompt":"` + strings.Repeat("x", maxLine-len(ok)+5) + `"}`)
	if len(exact) != maxLine {
		t.Fatalf("exact line is %d bytes", len(exact))
	}
	long := complLine(`{"prompt":"` + strings.Repeat("y", 5000) + `"}`)
	justOver := exact + " "
	content := ok + "\n" + long + "\n" + exact + "\r\n" + justOver + "\n" + ok + "\n" + strings.Repeat("z", 3000)
	path := writeFile(t, content)
	lines := readAll(t, path)
	wantErr := []string{"", "line is longer than the limit of 100 bytes", "", "line is longer than the limit of 100 bytes", "", "line is longer than the limit of 100 bytes"}
	if len(lines) != len(wantErr) {
		t.Fatalf("got %d rows, want %d", len(lines), len(wantErr))
	}
	for i, l := range lines {
		if l.Err != wantErr[i] || l.Line != int64(i+1) {
			t.Errorf("row %d: line %d, Err %q; want %q", i, l.Line, l.Err, wantErr[i])
		}
		if wantErr[i] != "" && !l.IDNull {
			t.Errorf("row %d: IDNull false", i)
		}
	}
	if n, err := Inspect(path); err != nil || n != 6 {
		t.Errorf("Inspect = %d, %v", n, err)
	}

	// A too-long first row that starts like an object is a row error; one
	// that does not is not a batch file.
	path = writeFile(t, long+"\n"+ok+"\n")
	if n, err := Inspect(path); err != nil || n != 2 {
		t.Errorf("Inspect = %d, %v", n, err)
	}
	path = writeFile(t, strings.Repeat("z", 3000)+"\n"+ok+"\n")
	if _, err := Inspect(path); err == nil || !strings.Contains(err.Error(), "not an OpenAI batch file") {
		t.Errorf("Inspect: %v", err)
	}
}

func TestHugeLineRealLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 64 MiB line")
	}
	ok := complLine(`{"prompt":"short"}`)
	long := complLine(`{"prompt":"` + strings.Repeat("y", MaxLineBytes) + `"}`)
	path := writeFile(t, ok+"\n"+long+"\n"+ok+"\n")
	lines := readAll(t, path)
	if len(lines) != 3 || lines[0].Err != "" || lines[1].Err != "line is longer than the limit of 64 MiB" || lines[2].Err != "" {
		t.Fatalf("got %d rows", len(lines))
	}
}

func TestJobErrors(t *testing.T) {
	dir := t.TempDir()
	good := complLine(`{"prompt":"p"}`)
	cases := []struct {
		name    string
		content *string // nil: path is missing or a folder
		path    string
		want    string
	}{
		{name: "missing", path: filepath.Join(dir, "nope.jsonl"), want: `input "` + filepath.Join(dir, "nope.jsonl") + `": no such file`},
		{name: "folder", path: dir, want: `input "` + dir + `": is a directory, want an OpenAI batch file (.jsonl)`},
		{name: "parquet", content: ptr("PAR1\x15\x04\x15\x10\x15\x14L\x15\x02\x15\x00\x12\x00\x00\x08\x1c\x00\x00\x00\x00\x00\x00\x00\x00PAR1"),
			want: `not an OpenAI batch file (JSON Lines of request objects): line 1 is not a JSON object (it starts "PAR1\x15\x04`},
		{name: "pretty JSON", content: ptr("\n{\n  \"custom_id\": \"a\"\n}\n"), want: `line 2 is not valid JSON: unexpected end of JSON input`},
		{name: "JSON list", content: ptr("[" + good + "]\n"), want: `line 1 is a list, not a JSON object`},
		{name: "bad first row", content: ptr(`{"custom_id": 1,` + "\n" + good + "\n"), want: `line 1 is not valid JSON`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if tc.content != nil {
				path = writeFile(t, *tc.content)
			}
			_, err := Inspect(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `input "`+path+`"`) {
				t.Errorf("Inspect: %v\nwant it to contain %q", err, tc.want)
			}
			called := false
			err = ReadRequests(context.Background(), path, func(Line) error { called = true; return nil })
			if err == nil || !strings.Contains(err.Error(), tc.want) || called {
				t.Errorf("ReadRequests: %v, called %v", err, called)
			}
			err = ReadIDs(context.Background(), path, func(int64, string, bool) error { called = true; return nil })
			if err == nil || !strings.Contains(err.Error(), tc.want) || called {
				t.Errorf("ReadIDs: %v, called %v", err, called)
			}
		})
	}

	// Empty and all-blank files have no rows.
	for _, content := range []string{"", "\n\r\n  \n"} {
		path := writeFile(t, content)
		if n, err := Inspect(path); n != 0 || err != nil {
			t.Errorf("Inspect(%q) = %d, %v", content, n, err)
		}
		if lines := readAll(t, path); len(lines) != 0 {
			t.Errorf("rows of %q: %v", content, lines)
		}
	}
}

func TestCallbackErrorAndCancel(t *testing.T) {
	var b strings.Builder
	for range 3000 {
		b.WriteString(complLine(`{"prompt":"p"}`) + "\n")
	}
	path := writeFile(t, b.String())
	stop := errors.New("stop")
	n := 0
	err := ReadRequests(context.Background(), path, func(Line) error {
		n++
		if n == 5 {
			return stop
		}
		return nil
	})
	if err != stop || n != 5 {
		t.Errorf("ReadRequests = %v after %d rows; want stop after 5", err, n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	n = 0
	err = ReadRequests(ctx, path, func(Line) error {
		n++
		if n == 10 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n != 1024 || !strings.Contains(err.Error(), path) {
		t.Errorf("ReadRequests = %v after %d rows; want canceled after 1024", err, n)
	}
	err = ReadIDs(ctx, path, func(int64, string, bool) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("ReadIDs = %v", err)
	}
}
