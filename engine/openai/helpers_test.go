package openai_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/minerva-batch/minerva/engine/infer"
	"github.com/minerva-batch/minerva/engine/llama"
	"github.com/minerva-batch/minerva/engine/openai"
)

const modelPath = "../../../shared/models/stories260K/stories260K.gguf"

// greedy60 is stories260K's greedy completion of "Once upon a time", 60
// tokens: the text of the llama2.c reference ids that engine/llama's
// TestReferenceGreedy checks (llama2.c's test_all.py expected output; see
// shared/models/stories260K/PROVENANCE.md).
const greedy60 = ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily"

// newLocal loads stories260K into an embedded backend.
func newLocal(t testing.TB) *infer.Local {
	t.Helper()
	l, err := infer.NewLocal(modelPath, llama.Options{}, llama.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// fault is what the faulty server does with one attempt of a request.
type fault struct {
	status     int           // answer this status with an OpenAI error body
	message    string        // the error's message ("overloaded" when empty)
	code       string        // the error's code
	rawBody    string        // the error body as it is, instead of an OpenAI one
	retryAfter string        // the Retry-After header of a status answer
	echoAuth   bool          // put the request's Authorization header in the message
	slow       time.Duration // wait this long (or until the client leaves), then serve
	drop       bool          // close the connection without answering
	truncate   bool          // serve, but close the connection halfway through the body
	badJSON    bool          // serve a well-framed body cut halfway through its JSON
}

// faultServer wraps a handler and plays a scripted sequence of faults per
// request, keyed by the request's prompt (or first message's content):
// attempt n of a request gets script[key][n], or is served normally when the
// script has run out. It counts attempts, records Authorization headers and
// the most completion requests in flight at once.
type faultServer struct {
	next   http.Handler
	hold   time.Duration // every completion request takes at least this long
	script map[string][]fault

	mu            sync.Mutex
	attempts      map[string]int
	auth          []string
	inFlight, max int
}

func newFaultServer(t testing.TB, next http.Handler, script map[string][]fault) (*faultServer, *httptest.Server) {
	f := &faultServer{next: next, script: script, attempts: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *faultServer) Attempts(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts[key]
}

func (f *faultServer) MaxInFlight() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.max
}

func (f *faultServer) Auth() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.auth...)
}

func (f *faultServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.mu.Unlock()
	if r.Method != http.MethodPost {
		f.next.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	var req struct {
		Prompt   string `json:"prompt"`
		Messages []struct {
			Content string `json:"content"`
		} `json:"messages"`
	}
	json.Unmarshal(body, &req)
	key := req.Prompt
	if len(req.Messages) > 0 {
		key = req.Messages[0].Content
	}

	f.mu.Lock()
	n := f.attempts[key]
	f.attempts[key]++
	f.inFlight++
	f.max = max(f.max, f.inFlight)
	var ft fault
	if s := f.script[key]; n < len(s) {
		ft = s[n]
	}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	if f.hold > 0 {
		time.Sleep(f.hold)
	}

	switch {
	case ft.status != 0:
		if ft.retryAfter != "" {
			w.Header().Set("Retry-After", ft.retryAfter)
		}
		msg := ft.message
		if msg == "" {
			msg = "overloaded"
		}
		if ft.echoAuth {
			msg += " (you sent " + r.Header.Get("Authorization") + ")"
		}
		b := ft.rawBody
		if b == "" {
			e := map[string]any{"message": msg, "type": "server_error", "param": nil, "code": nil}
			if ft.code != "" {
				e["code"] = ft.code
			}
			j, _ := json.Marshal(map[string]any{"error": e})
			b = string(j)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ft.status)
		io.WriteString(w, b)
	case ft.drop:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	case ft.slow > 0:
		select {
		case <-time.After(ft.slow):
		case <-r.Context().Done():
			return
		}
		f.next.ServeHTTP(w, r)
	case ft.truncate, ft.badJSON:
		rec := httptest.NewRecorder()
		f.next.ServeHTTP(rec, r)
		full := rec.Body.Bytes()
		half := full[:len(full)/2]
		w.Header().Set("Content-Type", "application/json")
		if ft.truncate {
			// The server closes a connection whose handler wrote less than
			// its Content-Length.
			w.Header().Set("Content-Length", strconv.Itoa(len(full)))
		} else {
			w.Header().Set("Content-Length", strconv.Itoa(len(half)))
		}
		w.WriteHeader(rec.Code)
		w.Write(half)
	default:
		f.next.ServeHTTP(w, r)
	}
}

// newClient makes a client of srv with small backoffs; change adjusts its
// options.
func newClient(t testing.TB, url string, change func(*openai.Options)) *openai.Client {
	t.Helper()
	o := openai.Options{Endpoint: url, BackoffBase: time.Millisecond, BackoffMax: 10 * time.Millisecond}
	if change != nil {
		change(&o)
	}
	c, err := openai.NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
