// Package blobtest runs a Cloud Storage emulator (fake-gcs-server's JSON
// API, in memory) inside a test process, behind an HTTP front that records
// every request and injects faults scripted by request number: 503 and 429
// answers, slow answers and connections reset before any answer.
//
// [Start] points STORAGE_EMULATOR_HOST at the front for the test (so tests
// using it must not run in parallel) and makes the blob package retry after
// pauses of milliseconds rather than seconds.
package blobtest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/minerva-batch/minerva/io/blob"
)

// Fault is what the front does with one request.
type Fault int

// The faults.
const (
	None        Fault = iota
	Unavailable       // answer 503 Service Unavailable
	TooMany           // answer 429 Too Many Requests
	Slow              // wait SlowDelay, then pass the request on
	Reset             // close the connection (TCP RST) without answering
)

func (f Fault) String() string {
	return [...]string{"none", "503", "429", "slow", "reset"}[f]
}

// Request is one request the front received.
type Request struct {
	N      int64 // 1, 2, ... in arrival order
	Method string
	Path   string
	Query  string
	Range  string // the Range header
	Fault  Fault
}

// Media reports whether the request reads object data (not metadata).
func (r Request) Media() bool {
	return r.Method == http.MethodGet && strings.Contains(r.Query, "alt=media")
}

// Upload reports whether the request uploads object data.
func (r Request) Upload() bool { return strings.HasPrefix(r.Path, "/upload/") }

// Emulator is a running emulator and its front.
type Emulator struct {
	Server *fakestorage.Server
	front  *httptest.Server
	// SlowDelay is how long a Slow fault waits (default 50ms).
	SlowDelay time.Duration

	mu       sync.Mutex
	n        int64
	plan     func(n int64, r *http.Request) Fault
	requests []Request
}

// Start starts an emulator with the given buckets, for the rest of the test.
func Start(t testing.TB, buckets ...string) *Emulator {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme: "http", Host: "127.0.0.1", NoListener: true,
		PublicHost: "127.0.0.1", // matches the front's "127.0.0.1:port"
		Writer:     io.Discard,
	})
	if err != nil {
		t.Fatalf("fake-gcs-server: %v", err)
	}
	for _, b := range buckets {
		srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
	}
	e := &Emulator{Server: srv, SlowDelay: 50 * time.Millisecond}
	e.front = httptest.NewServer(e.handler(srv.HTTPHandler()))
	t.Cleanup(e.front.Close)
	t.Cleanup(srv.Stop)
	t.Setenv("STORAGE_EMULATOR_HOST", e.front.Listener.Addr().String())
	t.Cleanup(blob.SetBackoff(time.Millisecond, 20*time.Millisecond))
	return e
}

// Host is the emulator's "host:port".
func (e *Emulator) Host() string { return e.front.Listener.Addr().String() }

// Faults scripts the faults: plan is called with each request's number (from
// 1, counting since Start) and the request. nil injects none.
func (e *Emulator) Faults(plan func(n int64, r *http.Request) Fault) {
	e.mu.Lock()
	e.plan = plan
	e.mu.Unlock()
}

// Every returns a plan injecting faults[i] into every period-th request
// (request period, 2*period, ...), cycling through faults.
func Every(period int64, faults ...Fault) func(int64, *http.Request) Fault {
	return func(n int64, _ *http.Request) Fault {
		if n%period != 0 {
			return None
		}
		return faults[(n/period-1)%int64(len(faults))]
	}
}

// Requests returns the requests received so far.
func (e *Emulator) Requests() []Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Request(nil), e.requests...)
}

// Reset forgets the requests received so far (numbering goes on).
func (e *Emulator) Reset() {
	e.mu.Lock()
	e.requests = nil
	e.mu.Unlock()
}

// Count returns how many requests received so far satisfy pred.
func (e *Emulator) Count(pred func(Request) bool) int {
	n := 0
	for _, r := range e.Requests() {
		if pred(r) {
			n++
		}
	}
	return n
}

// Injected counts the faults injected so far, by fault.
func (e *Emulator) Injected() map[Fault]int {
	m := map[Fault]int{}
	for _, r := range e.Requests() {
		if r.Fault != None {
			m[r.Fault]++
		}
	}
	return m
}

func (e *Emulator) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.n++
		req := Request{N: e.n, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Range: r.Header.Get("Range")}
		if e.plan != nil {
			req.Fault = e.plan(e.n, r)
		}
		e.requests = append(e.requests, req)
		e.mu.Unlock()
		switch req.Fault {
		case Unavailable, TooMany:
			code := map[Fault]int{Unavailable: http.StatusServiceUnavailable, TooMany: http.StatusTooManyRequests}[req.Fault]
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			fmt.Fprintf(w, `{"error":{"code":%d,"message":"injected fault %d"}}`, code, req.N)
			return
		case Slow:
			time.Sleep(e.SlowDelay)
		case Reset:
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				panic(http.ErrAbortHandler)
			}
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0) // RST rather than FIN
			}
			conn.Close()
			return
		}
		next.ServeHTTP(w, r)
	})
}
