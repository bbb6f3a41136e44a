package openai

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/minerva-batch/minerva/engine/batch"
	"github.com/minerva-batch/minerva/engine/infer"
	"github.com/minerva-batch/minerva/engine/llama"
)

// Request defaults of the handler, where a request leaves a field out.
const (
	// DefaultCompletionMaxTokens is max_tokens of /v1/completions, as
	// OpenAI's and vLLM's.
	DefaultCompletionMaxTokens = 16
	// DefaultChatMaxTokens is max_tokens of /v1/chat/completions (OpenAI
	// runs to the end of the context, which on a large model would reserve
	// a whole context of KV cache per request).
	DefaultChatMaxTokens = 256
)

// maxRequestBody bounds a request body the handler reads.
const maxRequestBody = 32 << 20

// NewHandler serves b as an OpenAI-compatible server:
//
//   - GET /v1/models lists one model, b.Model(), with vLLM's max_model_len
//     set to b.Context() when known.
//   - POST /v1/completions answers a text_completion object; prompt is a
//     string (or an array of one string).
//   - POST /v1/chat/completions answers a chat.completion object; a
//     message's content is a string or an array of text parts.
//
// Each HTTP request is one b.Infer call with one item; the backend batches
// concurrent calls (infer.Local's engine decodes them together). Streaming
// is not supported: "stream": true is a 400, as are n or best_of other than
// 1, echo, and non-zero presence or frequency penalties, rather than being
// silently ignored. A model other than b.Model() is a 404
// (model_not_found); an empty model is accepted.
//
// Fields left out take OpenAI's defaults: temperature 1, top_p 1, max_tokens
// DefaultCompletionMaxTokens or DefaultChatMaxTokens (at most the model's
// context), no stop strings, and a random seed (as vLLM). Extensions, as in
// vLLM: top_k (0 or -1 is off) and ignore_eos; a chat may give
// max_completion_tokens instead of max_tokens.
//
// A request is checked with infer.Check; a bad field is a 400
// invalid_request_error whose param names the field. A backend error
// wrapping llama.ErrTooLong is a 400 with code "context_length_exceeded", a
// backend *infer.FieldError a 400 like Check's, and any other backend error
// a 500 server_error.
func NewHandler(b infer.Backend) http.Handler {
	h := &handler{b: b, created: time.Now().Unix()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", h.models)
	mux.HandleFunc("POST /v1/completions", func(w http.ResponseWriter, r *http.Request) { h.complete(w, r, false) })
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) { h.complete(w, r, true) })
	mux.HandleFunc("/", h.other)
	return mux
}

type handler struct {
	b       infer.Backend
	created int64
}

// apiRequest is the body of /v1/completions and /v1/chat/completions.
type apiRequest struct {
	Model               string          `json:"model"`
	Prompt              json.RawMessage `json:"prompt"`
	Messages            []apiMessage    `json:"messages"`
	MaxTokens           *int64          `json:"max_tokens"`
	MaxCompletionTokens *int64          `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	TopK                *int64          `json:"top_k"`
	Seed                *int64          `json:"seed"`
	Stop                json.RawMessage `json:"stop"`
	Stream              bool            `json:"stream"`
	N                   *int64          `json:"n"`
	BestOf              *int64          `json:"best_of"`
	Echo                bool            `json:"echo"`
	PresencePenalty     *float64        `json:"presence_penalty"`
	FrequencyPenalty    *float64        `json:"frequency_penalty"`
	IgnoreEOS           bool            `json:"ignore_eos"`
}

// apiMessage is a chat message as a client sends it.
type apiMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

func (h *handler) models(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, wireModels{Object: "list", Data: []wireModel{{
		ID: h.b.Model(), Object: "model", Created: h.created, OwnedBy: "minerva", MaxModelLen: max(h.b.Context(), 0),
	}}})
}

func (h *handler) other(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v1/models":
		w.Header().Set("Allow", "GET, HEAD")
	case "/v1/completions", "/v1/chat/completions":
		w.Header().Set("Allow", "POST")
	default:
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown path %s", r.URL.Path), "invalid_request_error", "", "")
		return
	}
	writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path), "invalid_request_error", "", "")
}

// badRequest is a 400 invalid_request_error about one field.
type badRequest struct{ param, msg string }

func (h *handler) complete(w http.ResponseWriter, r *http.Request, chat bool) {
	var req apiRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err := dec.Decode(&req); err != nil {
		decodeError(w, err)
		return
	}
	if req.Model != "" && req.Model != h.b.Model() {
		writeError(w, http.StatusNotFound, fmt.Sprintf("The model `%s` does not exist; this server serves `%s`.", req.Model, h.b.Model()),
			"invalid_request_error", "model", "model_not_found")
		return
	}
	ir, bad := h.request(req, chat)
	if bad != nil {
		writeError(w, http.StatusBadRequest, bad.msg, "invalid_request_error", bad.param, "")
		return
	}
	prefix := "cmpl-"
	if chat {
		prefix = "chatcmpl-"
	}
	id := prefix + randomID()
	res := h.b.Infer(r.Context(), []batch.Item[infer.Request]{{ID: id, Data: ir}})[0]
	if err := res.Err; err != nil {
		var fe *infer.FieldError
		switch {
		case errors.As(err, &fe):
			writeError(w, http.StatusBadRequest, fe.Error(), "invalid_request_error", paramName(fe.Field, req, chat), "")
		case errors.Is(err, llama.ErrTooLong):
			param := "prompt"
			if chat {
				param = "messages"
			}
			writeError(w, http.StatusBadRequest, err.Error(), "invalid_request_error", param, "context_length_exceeded")
		default:
			if r.Context().Err() == nil {
				slog.WarnContext(r.Context(), "openai: backend failed", "id", id, "err", err)
			}
			writeError(w, http.StatusInternalServerError, err.Error(), "server_error", "", "")
		}
		return
	}
	c := res.Data
	choice := wireChoice{Index: 0, FinishReason: c.FinishReason}
	object := "text_completion"
	if chat {
		object = "chat.completion"
		choice.Message = &wireMessage{Role: "assistant", Content: c.Text}
	} else {
		choice.Text = &c.Text
	}
	writeJSON(w, http.StatusOK, wireResponse{
		ID: id, Object: object, Created: time.Now().Unix(), Model: cmp.Or(c.Model, h.b.Model()),
		Choices: []wireChoice{choice},
		Usage:   &wireUsage{PromptTokens: c.PromptTokens, CompletionTokens: c.CompletionTokens, TotalTokens: c.PromptTokens + c.CompletionTokens},
	})
}

// request turns a decoded body into a checked infer.Request.
func (h *handler) request(req apiRequest, chat bool) (infer.Request, *badRequest) {
	switch {
	case req.Stream:
		return infer.Request{}, &badRequest{"stream", "streaming is not supported; send \"stream\": false"}
	case req.N != nil && *req.N != 1:
		return infer.Request{}, &badRequest{"n", fmt.Sprintf("n %d is not supported; only 1", *req.N)}
	case req.BestOf != nil && *req.BestOf != 1:
		return infer.Request{}, &badRequest{"best_of", fmt.Sprintf("best_of %d is not supported; only 1", *req.BestOf)}
	case req.Echo:
		return infer.Request{}, &badRequest{"echo", "echo is not supported"}
	case req.PresencePenalty != nil && *req.PresencePenalty != 0:
		return infer.Request{}, &badRequest{"presence_penalty", "presence_penalty is not supported"}
	case req.FrequencyPenalty != nil && *req.FrequencyPenalty != 0:
		return infer.Request{}, &badRequest{"frequency_penalty", "frequency_penalty is not supported"}
	}
	spec := infer.Spec{MaxTokens: req.MaxTokens, Temperature: req.Temperature, TopP: req.TopP, TopK: req.TopK, Seed: req.Seed}
	if spec.TopK != nil && *spec.TopK == -1 {
		spec.TopK = nil // vLLM's "off"
	}
	maxTokens := DefaultCompletionMaxTokens
	if chat {
		maxTokens = DefaultChatMaxTokens
		if req.MaxCompletionTokens != nil {
			spec.MaxTokens = req.MaxCompletionTokens
		}
		spec.Messages = make([]infer.Message, len(req.Messages))
		for i, m := range req.Messages {
			text, err := content(m.Content)
			if err != nil {
				return infer.Request{}, &badRequest{"messages", fmt.Sprintf("message %d: %v", i, err)}
			}
			spec.Messages[i] = infer.Message{Role: m.Role, Content: text}
		}
	} else {
		p, err := prompt(req.Prompt)
		if err != nil {
			return infer.Request{}, &badRequest{"prompt", err.Error()}
		}
		spec.Prompt = p
	}
	stop, err := stops(req.Stop)
	if err != nil {
		return infer.Request{}, &badRequest{"stop", err.Error()}
	}
	spec.Stop = stop
	ctx := h.b.Context()
	if ctx > 0 {
		maxTokens = min(maxTokens, ctx)
	}
	d := infer.Defaults{MaxTokens: maxTokens, Temperature: 1, TopP: 1, Seed: mrand.Uint64()}
	r, err := spec.Resolve("", d, ctx)
	if err != nil {
		var fe *infer.FieldError
		if errors.As(err, &fe) {
			return r, &badRequest{paramName(fe.Field, req, chat), fe.Error()}
		}
		return r, &badRequest{"", err.Error()}
	}
	r.IgnoreEOS = req.IgnoreEOS
	return r, nil
}

// paramName is the request's name of field: a chat's max_tokens is
// max_completion_tokens when the request gave that.
func paramName(field string, req apiRequest, chat bool) string {
	if field == "max_tokens" && chat && req.MaxCompletionTokens != nil {
		return "max_completion_tokens"
	}
	return field
}

// prompt reads a completion's prompt: a string or an array of one string.
func prompt(raw json.RawMessage) (*string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return &s, nil
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		if len(list) != 1 {
			return nil, fmt.Errorf("an array of %d prompts is not supported; send one", len(list))
		}
		return &list[0], nil
	}
	return nil, errors.New("want a string (token arrays are not supported)")
}

// stops reads stop: null, a string or an array of strings.
func stops(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}, nil
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list, nil
	}
	return nil, errors.New("want a string or an array of strings")
}

// content reads a message's content: a string, null, or an array of text
// parts, joined with newlines.
func content(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errors.New("content must be a string or an array of text parts")
	}
	texts := make([]string, len(parts))
	for i, p := range parts {
		if p.Type != "text" {
			return "", fmt.Errorf("content part %d has type %q; only text is supported", i, p.Type)
		}
		texts[i] = p.Text
	}
	return strings.Join(texts, "\n"), nil
}

// decodeError answers a body that does not decode.
func decodeError(w http.ResponseWriter, err error) {
	var tooBig *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is larger than %d bytes", tooBig.Limit), "invalid_request_error", "", "")
	case errors.As(err, &typeErr):
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%s: want a JSON %s, got %s", typeErr.Field, typeErr.Type, typeErr.Value),
			"invalid_request_error", typeErr.Field, "")
	case errors.Is(err, io.EOF):
		writeError(w, http.StatusBadRequest, "the request body is empty; want a JSON object", "invalid_request_error", "", "")
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("the request body is not valid JSON: %v", err), "invalid_request_error", "", "")
	}
}

func writeError(w http.ResponseWriter, status int, message, typ, param, code string) {
	writeBody(w, status, errorBody(message, typ, param, code))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error(), "server_error", "", "")
		return
	}
	writeBody(w, status, b)
}

func writeBody(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// randomID is 24 random hex digits.
func randomID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
