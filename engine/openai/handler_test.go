package openai_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/minerva-batch/minerva/engine/batch"
	"github.com/minerva-batch/minerva/engine/infer"
	"github.com/minerva-batch/minerva/engine/llama"
	"github.com/minerva-batch/minerva/engine/openai"
)

// post sends body to srv's path and decodes the JSON answer.
func post(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %s: body %q is not JSON", url, resp.Status, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	return resp.StatusCode, m
}

// TestHandlerErrors checks the handler's answers to bad requests: status,
// error type, param and code.
func TestHandlerErrors(t *testing.T) {
	srv := httptest.NewServer(openai.NewHandler(newLocal(t)))
	defer srv.Close()
	long := strings.Repeat("Once upon a time ", 600)
	for _, tc := range []struct {
		path, body string
		status     int
		param      any // nil: JSON null
		code       any
	}{
		{"/v1/completions", `{"prompt":"x","temperature":3}`, 400, "temperature", nil},
		{"/v1/completions", `{"prompt":"x","top_p":0}`, 400, "top_p", nil},
		{"/v1/completions", `{"prompt":"x","max_tokens":0}`, 400, "max_tokens", nil},
		{"/v1/completions", `{"prompt":"x","max_tokens":5000}`, 400, "max_tokens", nil},
		{"/v1/completions", `{"prompt":"x","max_tokens":"ten"}`, 400, "max_tokens", nil},
		{"/v1/completions", `{"prompt":"x","top_k":-2}`, 400, "top_k", nil},
		{"/v1/completions", `{"prompt":"x","seed":-1}`, 400, "seed", nil},
		{"/v1/completions", `{"prompt":"x","stop":["a",""]}`, 400, "stop", nil},
		{"/v1/completions", `{"prompt":"x","stop":3}`, 400, "stop", nil},
		{"/v1/completions", `{"prompt":""}`, 400, "prompt", nil},
		{"/v1/completions", `{}`, 400, "prompt", nil},
		{"/v1/completions", `{"prompt":["a","b"]}`, 400, "prompt", nil},
		{"/v1/completions", `{"prompt":[1,2,3]}`, 400, "prompt", nil},
		{"/v1/completions", `{"prompt":"x","stream":true}`, 400, "stream", nil},
		{"/v1/completions", `{"prompt":"x","n":2}`, 400, "n", nil},
		{"/v1/completions", `{"prompt":"x","echo":true}`, 400, "echo", nil},
		{"/v1/completions", `{"prompt":"x","model":"gpt-4"}`, 404, "model", "model_not_found"},
		{"/v1/completions", `{"prompt":`, 400, nil, nil},
		{"/v1/completions", ``, 400, nil, nil},
		{"/v1/completions", `{"prompt":"` + long + `"}`, 400, "prompt", "context_length_exceeded"},
		{"/v1/chat/completions", `{"messages":[]}`, 400, "messages", nil},
		{"/v1/chat/completions", `{}`, 400, "messages", nil},
		{"/v1/chat/completions", `{"messages":[{"role":"tool","content":"x"}]}`, 400, "messages", nil},
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":[{"type":"image_url"}]}]}`, 400, "messages", nil},
		// RenderChat's error, from the backend's Infer.
		{"/v1/chat/completions", `{"messages":[{"role":"assistant","content":"x"}]}`, 400, "messages", nil},
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":"x"}],"max_completion_tokens":0}`, 400, "max_completion_tokens", nil},
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":"` + long + `"}]}`, 400, "messages", "context_length_exceeded"},
	} {
		status, m := post(t, srv.URL+tc.path, tc.body)
		e, _ := m["error"].(map[string]any)
		if status != tc.status || e == nil || e["type"] != "invalid_request_error" || e["param"] != tc.param || e["code"] != tc.code ||
			e["message"] == "" {
			t.Errorf("%s %.60s: %d %v; want %d, param %v, code %v", tc.path, tc.body, status, m, tc.status, tc.param, tc.code)
		}
	}

	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/v1/completions", 405},
		{"POST", "/v1/models", 405},
		{"GET", "/v2/other", 404},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %s; want %d", tc.method, tc.path, resp.Status, tc.status)
		}
	}
}

// TestHandler checks successful answers: the model list, a completion with
// the defaults, and a chat, each as the Local backend answers directly.
func TestHandler(t *testing.T) {
	local := newLocal(t)
	srv := httptest.NewServer(openai.NewHandler(local))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var models struct {
		Object string
		Data   []struct {
			ID          string
			Object      string
			MaxModelLen int `json:"max_model_len"`
		}
	}
	json.NewDecoder(resp.Body).Decode(&models)
	resp.Body.Close()
	if models.Object != "list" || len(models.Data) != 1 || models.Data[0].ID != "stories260K.gguf" || models.Data[0].Object != "model" || models.Data[0].MaxModelLen != 2048 {
		t.Errorf("models %+v", models)
	}

	direct := func(r infer.Request) infer.Completion {
		res := local.Infer(context.Background(), []batch.Item[infer.Request]{{ID: "x", Data: r}})[0]
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		return res.Data
	}
	type choice struct {
		Index   int
		Text    *string
		Message *struct{ Role, Content string }
		Finish  string `json:"finish_reason"`
	}
	type answer struct {
		ID, Object, Model string
		Created           int64
		Choices           []choice
		Usage             struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
			TotalTokens      int `json:"total_tokens"`
		}
	}
	decode := func(m map[string]any) answer {
		b, _ := json.Marshal(m)
		var a answer
		json.Unmarshal(b, &a)
		return a
	}
	check := func(name string, a answer, object string, chat bool, want infer.Completion) {
		t.Helper()
		if !strings.HasPrefix(a.ID, map[bool]string{false: "cmpl-", true: "chatcmpl-"}[chat]) || a.Object != object ||
			a.Model != "stories260K.gguf" || a.Created == 0 || len(a.Choices) != 1 {
			t.Fatalf("%s: %+v", name, a)
		}
		c := a.Choices[0]
		text := ""
		switch {
		case chat && c.Message != nil && c.Message.Role == "assistant" && c.Text == nil:
			text = c.Message.Content
		case !chat && c.Text != nil && c.Message == nil:
			text = *c.Text
		default:
			t.Fatalf("%s: choice %+v", name, c)
		}
		if text != want.Text || c.Finish != want.FinishReason || a.Usage.PromptTokens != want.PromptTokens ||
			a.Usage.CompletionTokens != want.CompletionTokens || a.Usage.TotalTokens != want.PromptTokens+want.CompletionTokens {
			t.Errorf("%s: %q %s %+v\nwant %q %s %d/%d", name, text, c.Finish, a.Usage, want.Text, want.FinishReason, want.PromptTokens, want.CompletionTokens)
		}
	}

	// Defaults: 16 tokens. Temperature 0 makes the text independent of the seed.
	status, m := post(t, srv.URL+"/v1/completions", `{"model":"stories260K.gguf","prompt":"Once upon a time","temperature":0}`)
	if status != 200 {
		t.Fatal(m)
	}
	a := decode(m)
	check("completion", a, "text_completion", false, direct(infer.Request{Request: llama.Request{Prompt: "Once upon a time", MaxTokens: 16, TopP: 1}}))
	if a.Usage.CompletionTokens != 16 {
		t.Errorf("default max_tokens: %d tokens", a.Usage.CompletionTokens)
	}

	// A prompt as an array of one string, stop as a string, top_k -1 (off).
	status, m = post(t, srv.URL+"/v1/completions", `{"prompt":["Once upon a time"],"max_tokens":40,"temperature":0,"stop":"park","top_k":-1,"seed":7}`)
	if status != 200 {
		t.Fatal(m)
	}
	check("stop", decode(m), "text_completion", false, direct(infer.Request{Request: llama.Request{Prompt: "Once upon a time", MaxTokens: 40, TopP: 1, Stop: []string{"park"}}}))

	msgs := []infer.Message{{Role: "system", Content: "You tell stories."}, {Role: "user", Content: "Tell me about a dog."}}
	status, m = post(t, srv.URL+"/v1/chat/completions", `{"messages":[{"role":"system","content":"You tell stories."},
		{"role":"user","content":[{"type":"text","text":"Tell me about a dog."}]}],"max_completion_tokens":30,"temperature":0,"n":1,"stream":false}`)
	if status != 200 {
		t.Fatal(m)
	}
	check("chat", decode(m), "chat.completion", true, direct(infer.Request{Messages: msgs, Request: llama.Request{MaxTokens: 30, TopP: 1}}))

	// Sampling with a seed is reproducible through the handler.
	body := `{"prompt":"Lily and Tom","max_tokens":20,"temperature":1,"seed":3}`
	_, m1 := post(t, srv.URL+"/v1/completions", body)
	_, m2 := post(t, srv.URL+"/v1/completions", body)
	check("seeded", decode(m1), "text_completion", false, direct(infer.Request{Request: llama.Request{Prompt: "Lily and Tom", MaxTokens: 20, Temperature: 1, TopP: 1, Seed: 3}}))
	if *decode(m1).Choices[0].Text != *decode(m2).Choices[0].Text {
		t.Error("the same seed gave two texts")
	}
}
