package openai_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minerva-batch/minerva/engine/batch"
	"github.com/minerva-batch/minerva/engine/infer"
	"github.com/minerva-batch/minerva/engine/llama"
	"github.com/minerva-batch/minerva/engine/openai"
)

// TestGreedyReference checks that stories260K's greedy reference comes back
// through HTTP unchanged, with the Local backend's counts.
func TestGreedyReference(t *testing.T) {
	_, srv := newFaultServer(t, openai.NewHandler(newLocal(t)), nil)
	c := newClient(t, srv.URL, nil)
	before := time.Now()
	res := c.Infer(context.Background(), []batch.Item[infer.Request]{
		{ID: "ref", Data: infer.Request{Request: llama.Request{Prompt: "Once upon a time", MaxTokens: 60, Seed: 42}}},
	})[0]
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	d := res.Data
	if d.Text != greedy60 {
		t.Errorf("text %q\nwant %q", d.Text, greedy60)
	}
	if d.PromptTokens != 5 || d.CompletionTokens != 60 || d.FinishReason != llama.FinishLength {
		t.Errorf("counts %d/%d, finish %q; want 5/60, length", d.PromptTokens, d.CompletionTokens, d.FinishReason)
	}
	if d.Model != "stories260K.gguf" || d.Retries != 0 || d.Seed != 42 || d.TTFT != 0 || d.Tokens != nil {
		t.Errorf("model %q, retries %d, seed %d, ttft %v, tokens %v", d.Model, d.Retries, d.Seed, d.TTFT, d.Tokens)
	}
	if res.ID != "ref" || res.Start.Before(before) || res.Duration <= 0 || d.Duration != res.Duration {
		t.Errorf("id %q, start %v (before %v), duration %v / %v", res.ID, res.Start, before, res.Duration, d.Duration)
	}
	// The client resolved the model from /v1/models on first use.
	if c.Model() != "stories260K.gguf" || c.Context() != 2048 {
		t.Errorf("model %q, context %d", c.Model(), c.Context())
	}
}

// same reports how a completion over HTTP differs from the Local backend's.
func same(got, want infer.Completion) string {
	if got.Text != want.Text || got.PromptTokens != want.PromptTokens || got.CompletionTokens != want.CompletionTokens ||
		got.FinishReason != want.FinishReason || got.Model != want.Model || got.Seed != want.Seed {
		return fmt.Sprintf("got %q %d/%d %s %s seed %d\nwant %q %d/%d %s %s seed %d",
			got.Text, got.PromptTokens, got.CompletionTokens, got.FinishReason, got.Model, got.Seed,
			want.Text, want.PromptTokens, want.CompletionTokens, want.FinishReason, want.Model, want.Seed)
	}
	return ""
}

// TestRetries plays scripted faults and checks that every request ends with
// the Local backend's own answer after exactly the expected retries, or
// fails after exactly the expected attempts.
func TestRetries(t *testing.T) {
	s := func(status int) fault { return fault{status: status} }
	cases := []retryCase{
		{name: "ok", retries: 0},
		{name: "429", script: []fault{s(429)}, retries: 1},
		{name: "429 retry-after", script: []fault{{status: 429, retryAfter: "0"}}, retries: 1},
		{name: "500", script: []fault{s(500)}, retries: 1},
		{name: "502", script: []fault{s(502)}, retries: 1},
		{name: "503", script: []fault{s(503)}, retries: 1},
		{name: "504", script: []fault{s(504)}, retries: 1},
		{name: "503 retry-after", script: []fault{{status: 503, retryAfter: "0"}}, retries: 1},
		{name: "dropped", script: []fault{{drop: true}}, retries: 1},
		{name: "truncated", script: []fault{{truncate: true}}, retries: 1},
		{name: "bad json", script: []fault{{badJSON: true}}, retries: 1},
		{name: "three", script: []fault{s(429), {drop: true}, {truncate: true}}, retries: 3},
		{name: "give up", script: []fault{s(503), s(503), s(503), s(503)}, err: "giving up after 4 attempts: 503 Service Unavailable: overloaded", status: 503},
		{name: "give up mixed", script: []fault{s(500), {truncate: true}, s(502), {drop: true}}, err: "giving up after 4 attempts: "},
		{name: "400", script: []fault{{status: 400, message: "bad"}}, err: "400 Bad Request: bad", status: 400},
		{name: "401", script: []fault{{status: 401, message: "no key"}}, err: "401 Unauthorized: no key", status: 401},
		{name: "404", script: []fault{{status: 404, message: "gone"}}, err: "404 Not Found: gone", status: 404},
		{name: "422", script: []fault{{status: 422, message: "odd"}}, err: "422 Unprocessable Entity: odd", status: 422},
		{name: "plain text", script: []fault{{status: 403, rawBody: "forbidden\n"}}, err: "403 Forbidden: forbidden", status: 403},
	}
	runRetryCases(t, cases, func(o *openai.Options) { o.Concurrency = len(cases) })
}

// TestAttemptTimeout checks that an attempt that outlives Options.Timeout is
// retried.
func TestAttemptTimeout(t *testing.T) {
	slow := fault{slow: time.Minute} // the server waits until the client leaves
	runRetryCases(t, []retryCase{
		{name: "timeout", script: []fault{slow}, retries: 1},
		{name: "timeouts", script: []fault{slow, {status: 503}}, retries: 2},
		{name: "give up", script: []fault{slow, slow, slow}, err: "giving up after 3 attempts: attempt timed out after 500ms"},
	}, func(o *openai.Options) { o.Timeout = 500 * time.Millisecond; o.MaxAttempts = 3 })
}

type retryCase struct {
	name    string
	script  []fault
	retries int    // on success
	err     string // the start of the error text, on failure
	status  int    // the failure's APIError status
}

// runRetryCases sends one request per case (half of them chats) through a
// fault server over a Local backend, in one Infer call, and checks the
// outcome against the case and against the Local backend's direct answer.
func runRetryCases(t *testing.T, cases []retryCase, change func(*openai.Options)) {
	local := newLocal(t)
	script := map[string][]fault{}
	var items []batch.Item[infer.Request]
	for i, tc := range cases {
		prompt := fmt.Sprintf("Once upon a time %s", tc.name)
		script[prompt] = tc.script
		r := infer.Request{Request: llama.Request{Prompt: prompt, MaxTokens: 2 + i, TopP: 1, Seed: uint64(i)}}
		if i%2 == 1 {
			r.Messages = []infer.Message{{Role: "user", Content: prompt}}
		}
		items = append(items, batch.Item[infer.Request]{ID: tc.name, Data: r})
	}
	want := local.Infer(context.Background(), items)
	f, srv := newFaultServer(t, openai.NewHandler(local), script)
	c := newClient(t, srv.URL, func(o *openai.Options) {
		o.Model = "stories260K.gguf"
		change(o)
	})
	got := c.Infer(context.Background(), items)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := got[i]
			if g.ID != tc.name {
				t.Fatalf("id %q", g.ID)
			}
			attempts := f.Attempts(items[i].Data.Prompt)
			if g.Data.Retries != attempts-1 {
				t.Errorf("retries %d, server saw %d attempts", g.Data.Retries, attempts)
			}
			if tc.err != "" {
				if g.Err == nil || !strings.HasPrefix(g.Err.Error(), tc.err) {
					t.Fatalf("err %v; want %q", g.Err, tc.err)
				}
				if want := len(tc.script); attempts != want {
					t.Errorf("%d attempts; want %d", attempts, want)
				}
				var ae *openai.APIError
				if tc.status != 0 && (!errors.As(g.Err, &ae) || ae.StatusCode != tc.status) {
					t.Errorf("err %#v; want an APIError %d", g.Err, tc.status)
				}
				if errors.Is(g.Err, llama.ErrTooLong) {
					t.Errorf("err %v wraps ErrTooLong", g.Err)
				}
				return
			}
			if g.Err != nil {
				t.Fatal(g.Err)
			}
			if g.Data.Retries != tc.retries {
				t.Errorf("retries %d; want %d", g.Data.Retries, tc.retries)
			}
			if d := same(g.Data, want[i].Data); d != "" {
				t.Error(d)
			}
			if g.Duration <= 0 || g.Data.Duration != g.Duration {
				t.Errorf("duration %v / %v", g.Duration, g.Data.Duration)
			}
		})
	}
}

// TestBackoff checks the sleeps before retries: full jitter under a limit
// that doubles from BackoffBase up to BackoffMax, and Retry-After (capped
// by BackoffMax) instead when the answer gives it.
func TestBackoff(t *testing.T) {
	local := newLocal(t)
	s503 := fault{status: 503}
	_, srv := newFaultServer(t, openai.NewHandler(local), map[string][]fault{
		"a": {s503, s503, s503},
		"b": {s503, s503, s503, s503, s503},
		"c": {{status: 429, retryAfter: "1"}},
		"d": {{status: 503, retryAfter: time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}},
	})
	for _, tc := range []struct {
		prompt     string
		base, max  time.Duration
		attempts   int
		limits     []time.Duration // the limits Jitter is asked for
		atLeast    time.Duration   // the least the request takes
		retriesOut int
	}{
		{prompt: "a", base: time.Millisecond, max: time.Second, limits: []time.Duration{1, 2, 4}},
		{prompt: "b", base: time.Millisecond, max: 3 * time.Millisecond, attempts: 6, limits: []time.Duration{1, 2, 3, 3, 3}},
		{prompt: "c", base: time.Millisecond, max: 150 * time.Millisecond, atLeast: 150 * time.Millisecond},
		{prompt: "d", base: time.Millisecond, max: 150 * time.Millisecond, atLeast: 150 * time.Millisecond},
	} {
		t.Run(tc.prompt, func(t *testing.T) {
			var mu sync.Mutex
			var limits []time.Duration
			c := newClient(t, srv.URL, func(o *openai.Options) {
				o.BackoffBase, o.BackoffMax, o.MaxAttempts = tc.base, tc.max, tc.attempts
				o.Jitter = func(limit time.Duration) time.Duration {
					mu.Lock()
					defer mu.Unlock()
					limits = append(limits, limit)
					return limit
				}
			})
			start := time.Now()
			res := c.Infer(context.Background(), []batch.Item[infer.Request]{{ID: "x", Data: infer.Request{Request: llama.Request{Prompt: tc.prompt, MaxTokens: 4}}}})[0]
			took := time.Since(start)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			var want []time.Duration
			for _, l := range tc.limits {
				want = append(want, l*time.Millisecond)
			}
			if fmt.Sprint(limits) != fmt.Sprint(want) {
				t.Errorf("jitter limits %v; want %v", limits, want)
			}
			if took < tc.atLeast || took > tc.atLeast+5*time.Second {
				t.Errorf("took %v; want at least %v (and not much more)", took, tc.atLeast)
			}
		})
	}
}

// TestTooLong checks that "does not fit the context" answers, from this
// package's handler and in vLLM's and llama.cpp's forms, wrap
// llama.ErrTooLong and are not retried.
func TestTooLong(t *testing.T) {
	vllm := `{"object":"error","message":"This model's maximum context length is 2048 tokens. However, you requested 2100 tokens.","type":"BadRequestError","param":null,"code":400}`
	llamacpp := `{"error":{"code":400,"message":"the request exceeds the available context size","type":"exceed_context_size_error","n_prompt_tokens":3000,"n_ctx":2048}}`
	_, srv := newFaultServer(t, openai.NewHandler(newLocal(t)), map[string][]fault{
		"vllm":     {{status: 400, rawBody: vllm}},
		"llamacpp": {{status: 400, rawBody: llamacpp}},
		"openai":   {{status: 400, code: "context_length_exceeded", message: "too long"}},
		"other400": {{status: 400, code: "invalid_value", message: "maximum context"}},
	})
	c := newClient(t, srv.URL, nil)
	long := strings.Repeat("Once upon a time ", 600) // over 2048 tokens
	var items []batch.Item[infer.Request]
	for _, p := range []string{long, "vllm", "llamacpp", "openai", "other400"} {
		items = append(items, batch.Item[infer.Request]{ID: p[:min(len(p), 8)], Data: infer.Request{Request: llama.Request{Prompt: p, MaxTokens: 4}}})
	}
	items = append(items, batch.Item[infer.Request]{ID: "chat", Data: infer.Request{Messages: []infer.Message{{Role: "user", Content: long}}, Request: llama.Request{MaxTokens: 4}}})
	for _, r := range c.Infer(context.Background(), items) {
		want := r.ID != "other400"
		if r.Err == nil || errors.Is(r.Err, llama.ErrTooLong) != want || r.Data.Retries != 0 {
			t.Errorf("%s: err %v, retries %d; want ErrTooLong %v", r.ID, r.Err, r.Data.Retries, want)
		}
	}
}

// TestConcurrency checks that the requests in flight never exceed
// Concurrency, across two Infer calls at once.
func TestConcurrency(t *testing.T) {
	f, srv := newFaultServer(t, openai.NewHandler(newLocal(t)), nil)
	f.hold = 50 * time.Millisecond
	c := newClient(t, srv.URL, func(o *openai.Options) { o.Concurrency = 3 })
	var wg sync.WaitGroup
	for call := range 2 {
		wg.Go(func() {
			var items []batch.Item[infer.Request]
			for i := range 10 {
				items = append(items, batch.Item[infer.Request]{ID: fmt.Sprint(i), Data: infer.Request{Request: llama.Request{Prompt: fmt.Sprintf("Tom had %d dogs", call*10+i), MaxTokens: 2}}})
			}
			for _, r := range c.Infer(context.Background(), items) {
				if r.Err != nil {
					t.Error(r.Err)
				}
			}
		})
	}
	wg.Wait()
	if m := f.MaxInFlight(); m != 3 {
		t.Errorf("at most %d requests in flight; want 3", m)
	}
}

// TestCancel checks that cancelling the context ends a request promptly,
// both while an attempt waits for its answer and while it sleeps before a
// retry, without further attempts.
func TestCancel(t *testing.T) {
	f, srv := newFaultServer(t, openai.NewHandler(newLocal(t)), map[string][]fault{
		"hang":  {{slow: time.Minute}},
		"sleep": {{status: 503}},
	})
	c := newClient(t, srv.URL, func(o *openai.Options) {
		o.BackoffBase, o.BackoffMax = time.Minute, time.Minute
		o.Jitter = func(limit time.Duration) time.Duration { return limit }
	})
	for _, prompt := range []string{"hang", "sleep"} {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		r := c.Infer(ctx, []batch.Item[infer.Request]{{ID: prompt, Data: infer.Request{Request: llama.Request{Prompt: prompt, MaxTokens: 4}}}})[0]
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s: took %v after cancelling", prompt, took)
		}
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("%s: err %v; want context.Canceled", prompt, r.Err)
		}
		if n := f.Attempts(prompt); n != 1 {
			t.Errorf("%s: %d attempts; want 1", prompt, n)
		}
	}
}

// TestAPIKey checks that the key reaches the server as a bearer token and
// appears in no error text and in no printed form of the client.
func TestAPIKey(t *testing.T) {
	const key = "sk-test-7d3f1c9a0b"
	t.Setenv("MINERVA_OPENAI_TEST_KEY", key)
	f, srv := newFaultServer(t, openai.NewHandler(newLocal(t)), map[string][]fault{
		"401": {{status: 401, echoAuth: true, message: "bad key"}},
		"503": {{status: 503, echoAuth: true}, {status: 503, echoAuth: true}},
	})
	c := newClient(t, srv.URL, func(o *openai.Options) { o.APIKeyEnv = "MINERVA_OPENAI_TEST_KEY"; o.MaxAttempts = 2 })
	if err := c.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := c.Infer(context.Background(), []batch.Item[infer.Request]{
		{ID: "ok", Data: infer.Request{Request: llama.Request{Prompt: "ok", MaxTokens: 2}}},
		{ID: "401", Data: infer.Request{Request: llama.Request{Prompt: "401", MaxTokens: 2}}},
		{ID: "503", Data: infer.Request{Request: llama.Request{Prompt: "503", MaxTokens: 2}}},
	})
	for _, a := range f.Auth() {
		if a != "Bearer "+key {
			t.Errorf("server saw Authorization %q", a)
		}
	}
	if res[0].Err != nil || res[1].Err == nil || res[2].Err == nil {
		t.Fatalf("errors %v, %v, %v", res[0].Err, res[1].Err, res[2].Err)
	}
	var ae *openai.APIError
	errors.As(res[1].Err, &ae)
	texts := []string{res[1].Err.Error(), res[2].Err.Error(), fmt.Sprintf("%#v", res[1].Err), fmt.Sprintf("%+v", ae),
		c.String(), fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%+v", struct{ C *openai.Client }{c})}
	if !strings.Contains(texts[0], "[redacted]") {
		t.Errorf("the 401's message %q does not show the scrubbed echo", texts[0])
	}
	for _, s := range texts {
		if strings.Contains(s, key) {
			t.Errorf("%q shows the key", s)
		}
	}

	// An unset variable fails, naming the variable.
	_, err := openai.NewClient(openai.Options{Endpoint: srv.URL, APIKeyEnv: "MINERVA_OPENAI_TEST_UNSET"})
	if err == nil || !strings.Contains(err.Error(), "MINERVA_OPENAI_TEST_UNSET") {
		t.Errorf("err %v", err)
	}
}

// TestCheck checks Check's answers about the server and the model.
func TestCheck(t *testing.T) {
	local := newLocal(t)
	_, srv := newFaultServer(t, openai.NewHandler(local), nil)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	defer broken.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	for _, tc := range []struct {
		endpoint, model string
		err             []string // substrings of the error; none: success
		context         int
	}{
		{endpoint: srv.URL, context: 2048},
		{endpoint: srv.URL + "/v1/", model: "stories260K.gguf", context: 2048},
		{endpoint: srv.URL, model: "llama-70b", err: []string{`"llama-70b"`, `"stories260K.gguf"`, srv.URL}},
		{endpoint: closed, err: []string{"cannot reach", closed}},
		{endpoint: broken.URL, err: []string{broken.URL + "/v1/models", "503 Service Unavailable: maintenance"}},
	} {
		c := newClient(t, tc.endpoint, func(o *openai.Options) { o.Model = tc.model })
		err := c.Check(context.Background())
		if len(tc.err) == 0 {
			if err != nil {
				t.Errorf("%s: %v", tc.endpoint, err)
			} else if c.Model() != "stories260K.gguf" || c.Context() != tc.context {
				t.Errorf("%s: model %q, context %d", tc.endpoint, c.Model(), c.Context())
			}
			continue
		}
		for _, s := range tc.err {
			if err == nil || !strings.Contains(err.Error(), s) {
				t.Errorf("%s %q: err %v; want it to contain %q", tc.endpoint, tc.model, err, s)
			}
		}
	}

	// Infer without a model, on a server that cannot tell it, fails every item.
	c := newClient(t, closed, nil)
	for _, r := range c.Infer(context.Background(), make([]batch.Item[infer.Request], 2)) {
		if r.Err == nil || !strings.Contains(r.Err.Error(), closed) {
			t.Errorf("err %v", r.Err)
		}
	}
}

// TestNewClient checks the options NewClient refuses.
func TestNewClient(t *testing.T) {
	for _, o := range []openai.Options{
		{},
		{Endpoint: "localhost:8000"},
		{Endpoint: "ftp://host"},
		{Endpoint: "http://host?x=1"},
		{Endpoint: "http://host", Concurrency: -1},
		{Endpoint: "http://host", Timeout: -1},
		{Endpoint: "http://host", MaxAttempts: -1},
		{Endpoint: "http://host", BackoffBase: -1},
	} {
		if _, err := openai.NewClient(o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	c, err := openai.NewClient(openai.Options{Endpoint: "https://user:hunter2@host:8443/v1/", Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if s := c.String(); s != `openai.Client(https://user:xxxxx@host:8443, model "m")` {
		t.Errorf("String() = %s", s)
	}
}
