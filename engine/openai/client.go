package openai

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minerva-batch/minerva/engine/batch"
	"github.com/minerva-batch/minerva/engine/infer"
	"github.com/minerva-batch/minerva/engine/llama"
)

// Options configure a Client. Only Endpoint is required.
type Options struct {
	// Endpoint is the server's base URL, such as "http://host:8000"; a
	// trailing "/v1" (and a trailing slash) is accepted and dropped. Any
	// password in it is redacted wherever the Client shows the endpoint.
	Endpoint string
	// Model is the model name sent with every request. Empty takes the
	// first model the server lists at GET /v1/models, resolved by Check
	// (or by the first Infer call when Check was not called).
	Model string
	// APIKeyEnv names the environment variable holding the API key, sent
	// as "Authorization: Bearer <key>". It is read once, by NewClient,
	// which fails when the variable is unset or empty. The key is never
	// logged, and the Client scrubs it from every error text and from its
	// String form. Empty sends no Authorization header.
	APIKeyEnv string
	// Concurrency is the most HTTP requests in flight at once, across all
	// Infer calls on the Client; 0 means 8. A request waiting to retry
	// does not hold its slot while it sleeps.
	Concurrency int
	// Timeout bounds one attempt (sending the request and reading the whole
	// response); 0 means 60 s. An attempt that runs out of time is retried.
	Timeout time.Duration
	// MaxAttempts is the most attempts per request, the first included; 0
	// means 4 (so up to 3 retries). 1 disables retries.
	MaxAttempts int
	// BackoffBase and BackoffMax shape the sleep before a retry: before
	// retry n (n = 0 for the first), the Client sleeps a random duration,
	// uniform in [0, min(BackoffMax, BackoffBase·2^n)] ("full jitter").
	// When the failed answer carries Retry-After, the Client sleeps that
	// long instead, capped by BackoffMax. 0 means 500 ms and 20 s.
	BackoffBase, BackoffMax time.Duration
	// HTTPClient sends the requests; nil means a client of its own, with a
	// clone of http.DefaultTransport keeping Concurrency idle connections
	// to the server. Its Timeout, if any, applies on top of Timeout.
	HTTPClient *http.Client
	// Jitter returns the sleep before a retry given its upper bound (see
	// BackoffBase); results outside [0, limit] are clamped. Nil draws
	// uniformly from [0, limit]. Tests set it to make sleeps deterministic;
	// it may be called from many goroutines at once.
	Jitter func(limit time.Duration) time.Duration
}

// Defaults of Options.
const (
	DefaultConcurrency = 8
	DefaultTimeout     = 60 * time.Second
	DefaultMaxAttempts = 4
	DefaultBackoffBase = 500 * time.Millisecond
	DefaultBackoffMax  = 20 * time.Second
)

// maxResponseBody bounds the response body the Client reads.
const maxResponseBody = 64 << 20

// ErrAttemptTimeout is wrapped by the error of an attempt that ran out of
// Options.Timeout; such attempts are retried.
var ErrAttemptTimeout = errors.New("attempt timed out")

// Client is an infer.Backend that sends each request to an
// OpenAI-compatible server: a chat (infer.Request.IsChat) to
// /v1/chat/completions, any other request to /v1/completions. It is safe
// for concurrent use.
//
// A request's Completion has the server's text, finish reason and token
// counts (usage), Model as the response names it (or the Client's model),
// Seed as sent and Retries as the attempts after the first. Token ids and
// TTFT are not known over HTTP and stay empty. Duration, both the
// Completion's and the Response's, runs from when the item is taken up
// (Response.Start, before its first attempt waits for a free slot) to the
// end of the successful attempt, so it includes failed attempts and the
// sleeps between them. Priority is not sent (vLLM rejects it unless its priority
// scheduling is on, and orders the other way round); TopK is sent only
// when positive and IgnoreEOS only when set (both are vLLM and llama.cpp
// extensions); MaxTokens 0 leaves the server's default; TopP 0 is sent as 1.
//
// Retried: answers 429 and 5xx, connection errors (refused, reset, closed
// without an answer), bodies cut short or not JSON, and attempts that run
// out of Options.Timeout. Any other answer is final; a 400 saying the
// request does not fit the model's context (OpenAI's code
// "context_length_exceeded", llama.cpp's type "exceed_context_size_error",
// or vLLM's message "maximum context length") gives an *APIError wrapping
// llama.ErrTooLong.
type Client struct {
	base  string      // scheme://host[/path], without /v1 or a trailing slash
	shown string      // base with any password redacted
	auth  *credential // nil: no Authorization header
	opts  Options     // with defaults filled in
	http  *http.Client
	slots chan struct{} // one token per request in flight

	resolve sync.Mutex // held while Infer resolves an empty Options.Model

	mu      sync.Mutex
	model   string
	context int
}

// credential holds the API key behind a pointer, so printing a Client (or
// anything holding one) with fmt shows an address, never the key.
type credential struct{ key string }

// NewClient checks opts and returns a Client. It does not contact the
// server: Check does.
func NewClient(opts Options) (*Client, error) {
	base, shown, err := parseEndpoint(opts.Endpoint)
	if err != nil {
		return nil, err
	}
	switch {
	case opts.Concurrency < 0:
		return nil, fmt.Errorf("openai: Concurrency %d is negative", opts.Concurrency)
	case opts.Timeout < 0:
		return nil, fmt.Errorf("openai: Timeout %v is negative", opts.Timeout)
	case opts.MaxAttempts < 0:
		return nil, fmt.Errorf("openai: MaxAttempts %d is negative", opts.MaxAttempts)
	case opts.BackoffBase < 0 || opts.BackoffMax < 0:
		return nil, errors.New("openai: BackoffBase and BackoffMax must not be negative")
	}
	opts.Concurrency = cmp.Or(opts.Concurrency, DefaultConcurrency)
	opts.Timeout = cmp.Or(opts.Timeout, DefaultTimeout)
	opts.MaxAttempts = cmp.Or(opts.MaxAttempts, DefaultMaxAttempts)
	opts.BackoffBase = cmp.Or(opts.BackoffBase, DefaultBackoffBase)
	opts.BackoffMax = cmp.Or(opts.BackoffMax, DefaultBackoffMax)
	if opts.Jitter == nil {
		opts.Jitter = func(limit time.Duration) time.Duration {
			if limit <= 0 {
				return 0
			}
			return rand.N(min(limit, math.MaxInt64-1) + 1)
		}
	}
	c := &Client{base: base, shown: shown, opts: opts, model: opts.Model, slots: make(chan struct{}, opts.Concurrency)}
	if opts.APIKeyEnv != "" {
		key := os.Getenv(opts.APIKeyEnv)
		if key == "" {
			return nil, fmt.Errorf("openai: environment variable %s (Options.APIKeyEnv) is unset or empty", opts.APIKeyEnv)
		}
		c.auth = &credential{key: key}
	}
	c.http = opts.HTTPClient
	if c.http == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = opts.Concurrency
		c.http = &http.Client{Transport: t}
	}
	return c, nil
}

// parseEndpoint normalises an endpoint to its base URL (without /v1) and
// the form to show in messages.
func parseEndpoint(endpoint string) (base, shown string, err error) {
	if endpoint == "" {
		return "", "", errors.New("openai: Options.Endpoint is empty")
	}
	u, err := url.Parse(strings.TrimRight(endpoint, "/"))
	if err != nil {
		return "", "", fmt.Errorf("openai: endpoint: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", "", fmt.Errorf("openai: endpoint %q: want http://host[:port] or https://host[:port]", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("openai: endpoint %q has a query or fragment", u.Redacted())
	}
	u.Path = strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/v1")
	u.RawPath = ""
	return u.String(), u.Redacted(), nil
}

// String describes the client: its endpoint (password redacted) and model.
// It never shows the API key.
func (c *Client) String() string {
	return fmt.Sprintf("openai.Client(%s, model %q)", c.shown, c.Model())
}

// GoString is String, so that %#v does not print the client's fields.
func (c *Client) GoString() string { return c.String() }

// Model is the model name sent with requests: Options.Model, or the one
// Check resolved; "" before Check when Options.Model is empty.
func (c *Client) Model() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.model
}

// Context is the model's context length as the server's /v1/models entry
// gives it (vLLM's max_model_len), known after Check; 0 when unknown.
func (c *Client) Context() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.context
}

// Close closes the idle connections of the client's HTTP client. The Client
// stays usable.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// Check asks the server for its models (GET /v1/models, once, without
// retries). It fails, naming the endpoint, when the server cannot be reached
// or does not answer 2xx, and when Options.Model is set but not listed (the
// error then names the models offered). With Options.Model empty it takes
// the first model listed. It also learns the model's context length when
// the listing gives one.
func (c *Client) Check(ctx context.Context) error {
	models, err := c.listModels(ctx)
	if err != nil {
		return err
	}
	want := c.opts.Model
	i := 0
	switch {
	case len(models) == 0:
		return fmt.Errorf("openai: %s lists no models at /v1/models", c.shown)
	case want != "":
		i = slices.IndexFunc(models, func(m wireModel) bool { return m.ID == want })
		if i < 0 {
			names := make([]string, len(models))
			for j, m := range models {
				names[j] = strconv.Quote(m.ID)
			}
			return fmt.Errorf("openai: model %q is not served at %s; it offers %s", want, c.shown, strings.Join(names, ", "))
		}
	}
	c.mu.Lock()
	c.model, c.context = models[i].ID, max(models[i].MaxModelLen, 0)
	c.mu.Unlock()
	return nil
}

func (c *Client) listModels(ctx context.Context) ([]wireModel, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/models", nil)
	if err != nil {
		return nil, fmt.Errorf("openai: %w", err)
	}
	c.setHeaders(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("openai: cannot reach the server at %s: %w", c.shown, c.scrubErr(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return nil, fmt.Errorf("openai: GET %s/v1/models: reading the answer: %w", c.shown, c.scrubErr(err))
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("openai: GET %s/v1/models: %w", c.shown, c.apiError(resp, body))
	}
	var list wireModels
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("openai: GET %s/v1/models: the answer is not a model list: %w", c.shown, err)
	}
	return list.Data, nil
}

// Infer sends every item as its own HTTP request, at most
// Options.Concurrency in flight across all calls, and returns the responses
// in input order. When Options.Model is empty and Check has not resolved
// it, Infer calls Check first; if that fails every item gets its error.
// Cancelling ctx ends the remaining items promptly with ctx's error.
func (c *Client) Infer(ctx context.Context, items []batch.Item[infer.Request]) []batch.Response[infer.Completion] {
	out := make([]batch.Response[infer.Completion], len(items))
	if len(items) == 0 {
		return out
	}
	model, err := c.resolveModel(ctx)
	if err != nil {
		for i, it := range items {
			out[i] = batch.Response[infer.Completion]{ID: it.ID, Err: err}
		}
		return out
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(len(items), c.opts.Concurrency) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(items) {
					return
				}
				out[i] = c.one(ctx, model, items[i])
			}
		})
	}
	wg.Wait()
	return out
}

// resolveModel returns the model name, asking the server for it once when
// Options.Model is empty.
func (c *Client) resolveModel(ctx context.Context) (string, error) {
	if m := c.Model(); m != "" {
		return m, nil
	}
	c.resolve.Lock()
	defer c.resolve.Unlock()
	if m := c.Model(); m != "" {
		return m, nil
	}
	if err := c.Check(ctx); err != nil {
		return "", err
	}
	return c.Model(), nil
}

// one runs one item to its final answer, retrying as documented on Client.
// A failed item's Data has Model, Seed and Retries set.
func (c *Client) one(ctx context.Context, model string, it batch.Item[infer.Request]) batch.Response[infer.Completion] {
	r := it.Data
	path, body := "/v1/completions", wireRequest{Model: model, Prompt: r.Prompt}
	if r.IsChat() {
		path, body.Prompt = "/v1/chat/completions", ""
		body.Messages = make([]wireMessage, len(r.Messages))
		for i, m := range r.Messages {
			body.Messages[i] = wireMessage{Role: m.Role, Content: m.Content}
		}
	}
	body.MaxTokens, body.Temperature, body.TopP, body.Seed = r.MaxTokens, r.Temperature, cmp.Or(r.TopP, 1), r.Seed
	body.TopK, body.Stop, body.IgnoreEOS = max(r.TopK, 0), r.Stop, r.IgnoreEOS

	start := time.Now()
	res := batch.Response[infer.Completion]{ID: it.ID, Start: start}
	res.Data.Model, res.Data.Seed = model, r.Seed
	payload, err := json.Marshal(body)
	if err != nil {
		res.Err = fmt.Errorf("openai: encoding the request: %w", err)
		return res
	}
	for attempt := 0; ; attempt++ {
		res.Data.Retries = attempt
		wr, retryAfter, retry, err := c.attempt(ctx, path, payload)
		if err == nil {
			res.Duration = time.Since(start)
			res.Err = fill(&res.Data, wr, r.IsChat(), res.Duration)
			return res
		}
		switch {
		case ctx.Err() != nil:
			res.Err = ctx.Err()
		case !retry:
			res.Err = err
		case attempt+1 >= c.opts.MaxAttempts:
			res.Err = fmt.Errorf("giving up after %d attempt%s: %w", attempt+1, plural(attempt+1), err)
		}
		if res.Err != nil {
			res.Duration = time.Since(start)
			return res
		}
		sleep := c.backoff(attempt, retryAfter)
		slog.DebugContext(ctx, "openai: retrying", "endpoint", c.shown, "path", path, "id", it.ID, "attempt", attempt+1, "err", err, "sleep", sleep)
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			res.Err, res.Duration = ctx.Err(), time.Since(start)
			return res
		case <-t.C:
		}
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// fill sets d's answer fields from a server response.
func fill(d *infer.Completion, wr wireResponse, chat bool, took time.Duration) error {
	if len(wr.Choices) == 0 {
		return errors.New("openai: the response has no choices")
	}
	ch := wr.Choices[0]
	switch {
	case chat && ch.Message != nil:
		d.Text = ch.Message.Content
	case ch.Text != nil:
		d.Text = *ch.Text
	case ch.Message != nil:
		d.Text = ch.Message.Content
	}
	d.FinishReason = ch.FinishReason
	if wr.Usage != nil {
		d.PromptTokens, d.CompletionTokens = wr.Usage.PromptTokens, wr.Usage.CompletionTokens
	}
	d.Duration = took
	d.Model = cmp.Or(wr.Model, d.Model)
	return nil
}

// attempt sends one request and reads its answer. retry tells whether a
// failure may succeed on another attempt; retryAfter is the answer's
// Retry-After, or -1.
func (c *Client) attempt(ctx context.Context, path string, payload []byte) (wr wireResponse, retryAfter time.Duration, retry bool, err error) {
	retryAfter = -1
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return wr, retryAfter, false, ctx.Err()
	}
	defer func() { <-c.slots }()
	actx, cancel := context.WithTimeoutCause(ctx, c.opts.Timeout, ErrAttemptTimeout)
	defer cancel()
	// transport classifies an error of sending or reading: the caller's
	// cancellation is final, anything else (this attempt's timeout, a
	// refused, reset or dropped connection, a body cut short) is retried.
	transport := func(err error) (wireResponse, time.Duration, bool, error) {
		if ctx.Err() != nil {
			return wr, retryAfter, false, ctx.Err()
		}
		if errors.Is(context.Cause(actx), ErrAttemptTimeout) {
			return wr, retryAfter, true, fmt.Errorf("%w after %v", ErrAttemptTimeout, c.opts.Timeout)
		}
		return wr, retryAfter, true, c.scrubErr(err)
	}
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.base+path, bytes.NewReader(payload))
	if err != nil {
		return wr, retryAfter, false, fmt.Errorf("openai: %w", err)
	}
	c.setHeaders(req)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return transport(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err != nil {
		return transport(fmt.Errorf("reading the answer (%s, %d bytes read): %w", resp.Status, len(body), err))
	}
	if len(body) > maxResponseBody {
		return wr, retryAfter, false, fmt.Errorf("openai: the answer is larger than %d bytes", maxResponseBody)
	}
	if resp.StatusCode/100 != 2 {
		e := c.apiError(resp, body)
		return wr, parseRetryAfter(resp.Header.Get("Retry-After")), e.Retryable(), e
	}
	if err := json.Unmarshal(body, &wr); err != nil {
		// A 2xx whose body is not JSON was most likely cut by a proxy.
		return wr, retryAfter, true, fmt.Errorf("the answer (%s, %d bytes) is not valid JSON: %w", resp.Status, len(body), err)
	}
	return wr, retryAfter, false, nil
}

func (c *Client) setHeaders(req *http.Request) {
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "minerva-openai")
	if c.auth != nil {
		req.Header.Set("Authorization", "Bearer "+c.auth.key)
	}
}

// backoff is the sleep before retry n (0 for the first).
func (c *Client) backoff(n int, retryAfter time.Duration) time.Duration {
	if retryAfter >= 0 {
		return min(retryAfter, c.opts.BackoffMax)
	}
	limit := c.opts.BackoffBase
	for i := 0; i < n && limit < c.opts.BackoffMax && limit <= math.MaxInt64/2; i++ {
		limit *= 2
	}
	limit = min(limit, c.opts.BackoffMax)
	return min(max(c.opts.Jitter(limit), 0), limit)
}

// parseRetryAfter reads a Retry-After header (seconds, or an HTTP date);
// -1 when absent or unreadable.
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return -1
		}
		return time.Duration(min(s, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return -1
}

// apiError makes the APIError of a non-2xx answer, with the API key
// scrubbed from the server's text.
func (c *Client) apiError(resp *http.Response, body []byte) *APIError {
	e := &APIError{StatusCode: resp.StatusCode, Status: resp.Status}
	if e.Status == "" {
		e.Status = fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	parseError(body, e)
	e.Message, e.Param, e.Code, e.Type = c.scrub(e.Message), c.scrub(e.Param), c.scrub(e.Code), c.scrub(e.Type)
	return e
}

// scrub removes the API key from s.
func (c *Client) scrub(s string) string {
	if c.auth == nil || c.auth.key == "" {
		return s
	}
	return strings.ReplaceAll(s, c.auth.key, "[redacted]")
}

// scrubErr returns err, or an error with the same chain whose text has the
// API key removed, if the text contains it.
func (c *Client) scrubErr(err error) error {
	if err == nil || c.auth == nil || !strings.Contains(err.Error(), c.auth.key) {
		return err
	}
	return &scrubbed{msg: c.scrub(err.Error()), err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// APIError is a server's answer other than 2xx.
type APIError struct {
	StatusCode int    // the HTTP status code, e.g. 503
	Status     string // the status line's text, e.g. "503 Service Unavailable"
	// Message, Type, Param and Code are the fields of the OpenAI error
	// object in the body ({"error": {...}}), "" when absent; Message is the
	// body itself (cut to 512 bytes) when it is not such an object. A
	// number in Code (llama.cpp and vLLM send the status there) is kept as
	// its digits.
	Message, Type, Param, Code string
}

// Error is the status, then the server's message: "503 Service
// Unavailable: overloaded".
func (e *APIError) Error() string {
	if e.Message == "" {
		return e.Status
	}
	return e.Status + ": " + e.Message
}

// Retryable reports whether the answer may change on another attempt: 429
// Too Many Requests or any 5xx.
func (e *APIError) Retryable() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// Unwrap returns llama.ErrTooLong when the server says the request does not
// fit the model's context: a 400 with OpenAI's code
// "context_length_exceeded", llama.cpp's type "exceed_context_size_error",
// or (vLLM, which gives no code for it) a message about the "maximum
// context length".
func (e *APIError) Unwrap() error {
	if e.StatusCode == http.StatusBadRequest &&
		(e.Code == "context_length_exceeded" || e.Type == "exceed_context_size_error" ||
			strings.Contains(strings.ToLower(e.Message), "maximum context length")) {
		return llama.ErrTooLong
	}
	return nil
}

var _ infer.Backend = (*Client)(nil)
