package openai

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The JSON objects of the OpenAI API that this package reads and writes.

// wireMessage is a chat message as the Client sends it.
type wireMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// wireRequest is the body the Client sends to /v1/completions (Prompt) or
// /v1/chat/completions (Messages).
type wireRequest struct {
	Model       string        `json:"model"`
	Prompt      string        `json:"prompt,omitempty"`
	Messages    []wireMessage `json:"messages,omitempty"`
	MaxTokens   int           `json:"max_tokens,omitempty"`
	Temperature float64       `json:"temperature"`
	TopP        float64       `json:"top_p"`
	TopK        int           `json:"top_k,omitempty"` // vLLM and llama.cpp extension
	Seed        uint64        `json:"seed"`
	Stop        []string      `json:"stop,omitempty"`
	IgnoreEOS   bool          `json:"ignore_eos,omitempty"` // vLLM and llama.cpp extension
}

// wireUsage is a response's token accounting.
type wireUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// wireChoice is one choice of a text_completion or chat.completion object.
type wireChoice struct {
	Index        int             `json:"index"`
	Text         *string         `json:"text,omitempty"`
	Message      *wireMessage    `json:"message,omitempty"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason string          `json:"finish_reason"`
}

// wireResponse is a text_completion or chat.completion object.
type wireResponse struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []wireChoice `json:"choices"`
	Usage   *wireUsage   `json:"usage,omitempty"`
}

// wireModel is one entry of GET /v1/models; MaxModelLen is vLLM's
// extension.
type wireModel struct {
	ID          string `json:"id"`
	Object      string `json:"object"`
	Created     int64  `json:"created"`
	OwnedBy     string `json:"owned_by"`
	MaxModelLen int    `json:"max_model_len,omitempty"`
}

// wireModels is the body of GET /v1/models.
type wireModels struct {
	Object string      `json:"object"`
	Data   []wireModel `json:"data"`
}

// wireError is OpenAI's error object. Servers disagree on the types of
// param and code (llama.cpp and vLLM send the HTTP status as a number in
// code), so they are read as raw JSON.
type wireError struct {
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Param   json.RawMessage `json:"param"`
	Code    json.RawMessage `json:"code"`
}

// wireErrorBody is an error response's body: {"error": {...}}. Some servers
// (older Ollama) send {"error": "message"}, which parseError accepts too.
type wireErrorBody struct {
	Error json.RawMessage `json:"error"`
}

// rawString renders a raw JSON value as text: a string without quotes,
// null or absent as "", anything else as its JSON.
func rawString(r json.RawMessage) string {
	var s string
	if json.Unmarshal(r, &s) == nil {
		return s
	}
	t := strings.TrimSpace(string(r))
	if t == "null" {
		return ""
	}
	return t
}

// parseError reads an error response's body into an APIError's fields. A
// body that is not an OpenAI error object becomes the message as it is
// (trimmed and cut to 512 bytes).
func parseError(body []byte, e *APIError) {
	var wb wireErrorBody
	if json.Unmarshal(body, &wb) == nil && len(wb.Error) > 0 {
		var we wireError
		if json.Unmarshal(wb.Error, &we) == nil {
			e.Message, e.Type, e.Param, e.Code = we.Message, we.Type, rawString(we.Param), rawString(we.Code)
			return
		}
		if s := rawString(wb.Error); s != "" {
			e.Message = s
			return
		}
	}
	// vLLM before 0.10 sent the error object's fields at the top level.
	var we wireError
	if json.Unmarshal(body, &we) == nil && we.Message != "" {
		e.Message, e.Type, e.Param, e.Code = we.Message, we.Type, rawString(we.Param), rawString(we.Code)
		return
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 512 {
		msg = msg[:512] + "…"
	}
	e.Message = msg
}

// errorBody is the JSON of an OpenAI error object.
func errorBody(message, typ, param, code string) []byte {
	var p, c any
	if param != "" {
		p = param
	}
	if code != "" {
		c = code
	}
	b, err := json.Marshal(map[string]any{"error": map[string]any{"message": message, "type": typ, "param": p, "code": c}})
	if err != nil {
		panic(fmt.Sprintf("openai: marshal error body: %v", err))
	}
	return b
}
