package openaibatch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/minerva-batch/minerva/engine/infer"
)

// The endpoints a request line may name in its "url".
const (
	ChatCompletionsURL = "/v1/chat/completions"
	CompletionsURL     = "/v1/completions"
)

// Line is one row of an input file: a non-blank line.
type Line struct {
	File string
	Line int64 // 1-based line number in the file (blank lines count)
	// CustomID is the line's "custom_id". IDNull reports that it is missing,
	// null or not a string, or that the line is not a JSON object at all.
	CustomID string
	IDNull   bool
	// URL is the line's "url" and Model its body's "model", when they are
	// strings ("" otherwise); they are kept even when Err is set.
	URL   string
	Model string
	// Spec is the request; it is zero when Err is set. A chat has non-nil
	// Messages; a completion a non-nil Prompt.
	Spec infer.Spec
	// Err, when not empty, is why the line cannot be used, e.g.
	// `field "body.temperature": want a number, got a string`.
	Err string
}

// ReadRequests streams the rows of an OpenAI batch input file, calling fn
// with each in order. Blank lines (JSON whitespace only) are skipped and are
// not rows, though they count in line numbers. Lines end in "\n" or "\r\n";
// a UTF-8 byte order mark at the start of the file is skipped.
//
// A line that cannot be used is still a row, with its problem in Line.Err:
// these are row-level errors. The file is first checked as by [Inspect]:
// when its first row is not a JSON object, ReadRequests calls fn for no row
// and returns an error.
//
// An error returned by fn stops the read and is returned unchanged. ctx is
// checked every 1024 rows. Other errors name the file.
func ReadRequests(ctx context.Context, path string, fn func(Line) error) error {
	return scan(ctx, path, func(n int64, b []byte, tooLong bool) error {
		return fn(parseLine(path, n, b, tooLong))
	})
}

// ReadIDs streams only the custom ids of an input file's rows (for a
// duplicate-id pre-pass), calling fn with each row's line number, custom id
// and whether the id is null; id and null are those ReadRequests gives the
// row's Line (CustomID, IDNull), so a line that does not parse gives null.
// Errors behave as in [ReadRequests].
func ReadIDs(ctx context.Context, path string, fn func(line int64, id string, null bool) error) error {
	return scan(ctx, path, func(n int64, b []byte, tooLong bool) error {
		if tooLong {
			return fn(n, "", true)
		}
		m, err := object(b)
		if err != nil {
			return fn(n, "", true)
		}
		id, null, _ := customID(m)
		return fn(n, id, null)
	})
}

// lineError is a row-level problem with a line as a whole.
type lineError string

func (e lineError) Error() string { return string(e) }

func fieldErr(field, format string, args ...any) error {
	return &infer.FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// parseLine makes a Line of line number n of file.
func parseLine(file string, n int64, b []byte, tooLong bool) Line {
	l := Line{File: file, Line: n, IDNull: true}
	if tooLong {
		l.Err = "line is longer than the limit of " + sizeString(maxLine)
		return l
	}
	m, err := object(b)
	if err != nil {
		l.Err = err.Error()
		return l
	}
	var idErr error
	l.CustomID, l.IDNull, idErr = customID(m)
	if s, ok := stringValue(m["url"]); ok {
		l.URL = s
	}
	if body, ok := m["body"]; ok && kindOf(body) == "an object" {
		var bm map[string]json.RawMessage
		if json.Unmarshal(body, &bm) == nil {
			if s, ok := stringValue(bm["model"]); ok {
				l.Model = s
			}
		}
	}
	if idErr != nil {
		l.Err = idErr.Error()
		return l
	}
	spec, err := parseRequest(m)
	if err != nil {
		l.Err = err.Error()
		return l
	}
	l.Spec = spec
	return l
}

// object decodes a line that must hold one JSON object.
func object(b []byte) (map[string]json.RawMessage, error) {
	b = trimSpace(b)
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, lineError(fmt.Sprintf("not valid JSON: %v (at byte %d)", se, se.Offset))
		}
		if !json.Valid(b) {
			return nil, lineError(fmt.Sprintf("not valid JSON: %v", err))
		}
		return nil, lineError(fmt.Sprintf("not a JSON object: got %s", kindOf(b)))
	}
	if m == nil { // null
		return nil, lineError("not a JSON object: got null")
	}
	return m, nil
}

// customID reads "custom_id": null is true when it is missing or null, and
// also (with an error) when it is not a string.
func customID(m map[string]json.RawMessage) (id string, null bool, err error) {
	raw := m["custom_id"]
	if isNull(raw) {
		return "", true, nil
	}
	s, ok := stringValue(raw)
	if !ok {
		return "", true, fieldErr("custom_id", "want a string, got %s", kindOf(raw))
	}
	return s, false, nil
}

// parseRequest reads the request of a line: method, url and body.
func parseRequest(m map[string]json.RawMessage) (infer.Spec, error) {
	var spec infer.Spec
	method, err := requiredString(m, "method", "")
	if err != nil {
		return spec, err
	}
	if method != "POST" {
		return spec, fieldErr("method", "%q is not supported; want \"POST\"", method)
	}
	url, err := requiredString(m, "url", "")
	if err != nil {
		return spec, err
	}
	if url != ChatCompletionsURL && url != CompletionsURL {
		return spec, fieldErr("url", "%q is not supported; want %q or %q", url, ChatCompletionsURL, CompletionsURL)
	}
	raw := m["body"]
	if isNull(raw) {
		return spec, fieldErr("body", "is missing")
	}
	if k := kindOf(raw); k != "an object" {
		return spec, fieldErr("body", "want an object, got %s", k)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(raw, &body); err != nil {
		return spec, fieldErr("body", "%v", err)
	}
	return parseBody(url == ChatCompletionsURL, body)
}

// parseBody reads the fields of a request body that the engine uses, and
// rejects those it cannot honour; see the package documentation.
func parseBody(chat bool, b map[string]json.RawMessage) (infer.Spec, error) {
	var s infer.Spec
	var err error
	if _, err := optString(b, "model"); err != nil {
		return s, err
	}
	if chat {
		if !isNull(b["prompt"]) {
			return s, fieldErr("body.prompt", "is not a field of %s requests; use \"messages\"", ChatCompletionsURL)
		}
		if s.Messages, err = parseMessages(b["messages"]); err != nil {
			return s, err
		}
	} else {
		if !isNull(b["messages"]) {
			return s, fieldErr("body.messages", "is not a field of %s requests; use \"prompt\", or url %q", CompletionsURL, ChatCompletionsURL)
		}
		raw := b["prompt"]
		switch k := kindOf(raw); {
		case isNull(raw):
			return s, fieldErr("body.prompt", "is missing")
		case k == "a list":
			return s, fieldErr("body.prompt", "a list of prompts (or of token ids) is not supported; give one prompt, a string, per line")
		case k != "a string":
			return s, fieldErr("body.prompt", "want a string, got %s", k)
		}
		p, _ := stringValue(raw)
		s.Prompt = &p
	}

	// max_completion_tokens takes precedence over max_tokens, as in vLLM.
	if s.MaxTokens, err = optInt(b, "max_tokens"); err != nil {
		return s, err
	}
	mct, err := optInt(b, "max_completion_tokens")
	if err != nil {
		return s, err
	}
	if mct != nil {
		s.MaxTokens = mct
	}
	if s.Temperature, err = optFloat(b, "temperature"); err != nil {
		return s, err
	}
	if s.TopP, err = optFloat(b, "top_p"); err != nil {
		return s, err
	}
	if s.TopK, err = optInt(b, "top_k"); err != nil {
		return s, err
	}
	if s.TopK != nil && *s.TopK == -1 { // vLLM's "no top-k"
		s.TopK = new(int64)
	}
	if s.Seed, err = optInt(b, "seed"); err != nil {
		return s, err
	}
	if s.Priority, err = optInt(b, "priority"); err != nil {
		return s, err
	}
	if s.Stop, err = parseStop(b["stop"]); err != nil {
		return s, err
	}
	if err := checkUnsupported(chat, b); err != nil {
		return s, err
	}
	return s, nil
}

// parseMessages reads "messages": a list of {"role", "content"} objects.
func parseMessages(raw json.RawMessage) ([]infer.Message, error) {
	const field = "body.messages"
	if isNull(raw) {
		return nil, fieldErr(field, "is missing")
	}
	if k := kindOf(raw); k != "a list" {
		return nil, fieldErr(field, "want a list of messages, got %s", k)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fieldErr(field, "%v", err)
	}
	if len(items) == 0 {
		return nil, fieldErr(field, "is empty")
	}
	msgs := make([]infer.Message, 0, len(items))
	for i, item := range items {
		f := fmt.Sprintf("%s[%d]", field, i)
		if k := kindOf(item); k != "an object" {
			return nil, fieldErr(f, "want a message object, got %s", k)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(item, &m); err != nil {
			return nil, fieldErr(f, "%v", err)
		}
		role, err := requiredString(m, "role", f+".")
		if err != nil {
			return nil, err
		}
		switch role {
		case "system", "user", "assistant":
		case "developer": // OpenAI's newer name for system messages
			role = "system"
		default:
			return nil, fieldErr(f+".role", "%q is not supported; want \"system\", \"developer\", \"user\" or \"assistant\"", role)
		}
		if tc := m["tool_calls"]; !isNull(tc) && !isEmptyList(tc) {
			return nil, fieldErr(f+".tool_calls", "tool calls are not supported")
		}
		content, err := parseContent(m["content"], f+".content")
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, infer.Message{Role: role, Content: content})
	}
	return msgs, nil
}

// parseContent reads a message's content: a string, or a list of content
// parts of which only text parts are supported; their texts are joined with
// "\n", as vLLM does.
func parseContent(raw json.RawMessage, field string) (string, error) {
	if isNull(raw) {
		return "", fieldErr(field, "is missing")
	}
	switch k := kindOf(raw); k {
	case "a string":
		s, _ := stringValue(raw)
		return s, nil
	case "a list":
	default:
		return "", fieldErr(field, "want a string or a list of content parts, got %s", k)
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", fieldErr(field, "%v", err)
	}
	texts := make([]string, 0, len(parts))
	for i, part := range parts {
		f := fmt.Sprintf("%s[%d]", field, i)
		if k := kindOf(part); k != "an object" {
			return "", fieldErr(f, "want a content part object, got %s", k)
		}
		var p map[string]json.RawMessage
		if err := json.Unmarshal(part, &p); err != nil {
			return "", fieldErr(f, "%v", err)
		}
		typ, err := requiredString(p, "type", f+".")
		if err != nil {
			return "", err
		}
		if typ != "text" {
			return "", fieldErr(f+".type", "%q is not supported; only \"text\" parts are", typ)
		}
		text, err := requiredString(p, "text", f+".")
		if err != nil {
			return "", err
		}
		texts = append(texts, text)
	}
	return strings.Join(texts, "\n"), nil
}

// parseStop reads "stop": a string or a list of strings. The result is nil
// only when stop is missing or null.
func parseStop(raw json.RawMessage) ([]string, error) {
	const field = "body.stop"
	if isNull(raw) {
		return nil, nil
	}
	switch k := kindOf(raw); k {
	case "a string":
		s, _ := stringValue(raw)
		return []string{s}, nil
	case "a list":
	default:
		return nil, fieldErr(field, "want a string or a list of strings, got %s", k)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fieldErr(field, "%v", err)
	}
	stop := make([]string, 0, len(items))
	for i, item := range items {
		s, ok := stringValue(item)
		if !ok {
			return nil, fieldErr(fmt.Sprintf("%s[%d]", field, i), "want a string, got %s", kindOf(item))
		}
		stop = append(stop, s)
	}
	return stop, nil
}

// checkUnsupported rejects body fields the engine cannot honour when they
// ask for something other than their default.
func checkUnsupported(chat bool, b map[string]json.RawMessage) error {
	if n, err := optInt(b, "n"); err != nil {
		return err
	} else if n != nil && *n != 1 {
		return fieldErr("body.n", "%d is not supported; only 1 completion per request", *n)
	}
	if n, err := optInt(b, "best_of"); err != nil {
		return err
	} else if n != nil && *n != 1 {
		return fieldErr("body.best_of", "%d is not supported; only 1", *n)
	}
	for _, key := range []string{"stream", "echo"} {
		if v, err := optBool(b, key); err != nil {
			return err
		} else if v {
			return fieldErr("body."+key, "true is not supported")
		}
	}
	// logprobs is a boolean in chats and a count in completions (where 0
	// still asks for the sampled tokens' log probabilities): only false and
	// null ask for none.
	if raw := b["logprobs"]; !isNull(raw) && string(trimSpace(raw)) != "false" {
		if chat {
			if _, err := optBool(b, "logprobs"); err != nil {
				return err
			}
		} else if _, err := optInt(b, "logprobs"); err != nil {
			return err
		}
		return fieldErr("body.logprobs", "log probabilities are not supported")
	}
	if n, err := optInt(b, "top_logprobs"); err != nil {
		return err
	} else if n != nil && *n != 0 {
		return fieldErr("body.top_logprobs", "log probabilities are not supported")
	}
	for _, p := range []struct {
		key string
		def float64
	}{{"presence_penalty", 0}, {"frequency_penalty", 0}, {"repetition_penalty", 1}, {"min_p", 0}} {
		if v, err := optFloat(b, p.key); err != nil {
			return err
		} else if v != nil && *v != p.def {
			return fieldErr("body."+p.key, "%v is not supported; only %v", *v, p.def)
		}
	}
	if s, err := optString(b, "suffix"); err != nil {
		return err
	} else if s != "" {
		return fieldErr("body.suffix", "is not supported")
	}
	for _, key := range []string{"tools", "functions"} {
		if raw := b[key]; !isNull(raw) && !isEmptyList(raw) {
			return fieldErr("body."+key, "tools are not supported")
		}
	}
	if raw := b["logit_bias"]; !isNull(raw) {
		var m map[string]json.RawMessage
		if kindOf(raw) != "an object" || json.Unmarshal(raw, &m) != nil {
			return fieldErr("body.logit_bias", "want an object, got %s", kindOf(raw))
		}
		if len(m) > 0 {
			return fieldErr("body.logit_bias", "is not supported")
		}
	}
	if raw := b["response_format"]; !isNull(raw) {
		var m map[string]json.RawMessage
		if kindOf(raw) != "an object" || json.Unmarshal(raw, &m) != nil {
			return fieldErr("body.response_format", "want an object, got %s", kindOf(raw))
		}
		if t, ok := stringValue(m["type"]); !ok || t != "text" {
			return fieldErr("body.response_format", "only {\"type\": \"text\"} is supported")
		}
	}
	return nil
}

// kindOf names the kind of a JSON value for messages: "a string", "a
// number", "an object", "a list", "a boolean" or "null".
func kindOf(raw []byte) string {
	raw = trimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "a list"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// isNull reports a missing (nil) or null value.
func isNull(raw json.RawMessage) bool {
	raw = trimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

func isEmptyList(raw json.RawMessage) bool {
	var items []json.RawMessage
	return kindOf(raw) == "a list" && json.Unmarshal(raw, &items) == nil && len(items) == 0
}

// stringValue decodes a JSON string.
func stringValue(raw json.RawMessage) (string, bool) {
	if kindOf(raw) != "a string" {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// requiredString reads the string field key of m; prefix qualifies its name
// in errors.
func requiredString(m map[string]json.RawMessage, key, prefix string) (string, error) {
	raw := m[key]
	if isNull(raw) {
		return "", fieldErr(prefix+key, "is missing")
	}
	s, ok := stringValue(raw)
	if !ok {
		return "", fieldErr(prefix+key, "want a string, got %s", kindOf(raw))
	}
	return s, nil
}

// optString reads the optional string field body.key ("" when not given).
func optString(b map[string]json.RawMessage, key string) (string, error) {
	raw := b[key]
	if isNull(raw) {
		return "", nil
	}
	s, ok := stringValue(raw)
	if !ok {
		return "", fieldErr("body."+key, "want a string, got %s", kindOf(raw))
	}
	return s, nil
}

// optBool reads the optional boolean field body.key (false when not given).
func optBool(b map[string]json.RawMessage, key string) (bool, error) {
	raw := b[key]
	if isNull(raw) {
		return false, nil
	}
	switch string(trimSpace(raw)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fieldErr("body."+key, "want a boolean, got %s", kindOf(raw))
}

// optFloat reads the optional number field body.key.
func optFloat(b map[string]json.RawMessage, key string) (*float64, error) {
	raw := b[key]
	if isNull(raw) {
		return nil, nil
	}
	if k := kindOf(raw); k != "a number" {
		return nil, fieldErr("body."+key, "want a number, got %s", k)
	}
	text := string(trimSpace(raw))
	v, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return nil, fieldErr("body."+key, "%s is out of range", text)
	}
	return &v, nil
}

// optInt reads the optional integer field body.key; an integer-valued
// number such as 100.0 or 1e3 is an integer.
func optInt(b map[string]json.RawMessage, key string) (*int64, error) {
	raw := b[key]
	if isNull(raw) {
		return nil, nil
	}
	if k := kindOf(raw); k != "a number" {
		return nil, fieldErr("body."+key, "want an integer, got %s", k)
	}
	text := string(trimSpace(raw))
	if v, err := strconv.ParseInt(text, 10, 64); err == nil {
		return &v, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	switch {
	case err != nil:
		return nil, fieldErr("body."+key, "%s is out of range", text)
	case f != math.Trunc(f):
		return nil, fieldErr("body."+key, "want an integer, got %s", text)
	case f < -(1<<63) || f >= 1<<63:
		return nil, fieldErr("body."+key, "%s is out of range", text)
	}
	v := int64(f)
	return &v, nil
}

// trimSpace trims JSON whitespace.
func trimSpace(b []byte) []byte { return bytes.Trim(b, " \t\r\n") }

// sizeString renders a size in bytes, or MiB when it is a whole number of
// them.
func sizeString(n int) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
