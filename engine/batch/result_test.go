package batch

import (
	"errors"
	"maps"
	"testing"
	"time"
)

func TestResponseOK(t *testing.T) {
	tests := []struct {
		name string
		resp Response[string]
		want bool
	}{
		{"nil error", Response[string]{ID: "a", Data: "x"}, true},
		{"error", Response[string]{ID: "a", Err: errors.New("boom")}, false},
		{"error with data", Response[string]{ID: "a", Data: "partial", Err: errors.New("boom")}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.resp.OK(); got != tc.want {
				t.Errorf("OK() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestResultGet(t *testing.T) {
	r := NewResult([]Response[int]{
		{ID: "a", Data: 1},
		{ID: "b", Data: 2},
		{ID: "a", Data: 3}, // repeated id: first occurrence wins
		{ID: "", Data: 4},
	}, time.Second)
	tests := []struct {
		id       string
		wantData int
		wantOK   bool
	}{
		{"a", 1, true},
		{"b", 2, true},
		{"", 4, true},
		{"c", 0, false},
		{"A", 0, false},
	}
	for _, tc := range tests {
		t.Run("id="+tc.id, func(t *testing.T) {
			got, ok := r.Get(tc.id)
			if ok != tc.wantOK || got.Data != tc.wantData {
				t.Errorf("Get(%q) = (%v, %v), want data %v, %v", tc.id, got, ok, tc.wantData, tc.wantOK)
			}
			if ok && got.ID != tc.id {
				t.Errorf("Get(%q) returned response with id %q", tc.id, got.ID)
			}
		})
	}
	if r.Len() != 4 {
		t.Errorf("Len() = %d, want 4 (repeated ids count separately)", r.Len())
	}
}

func TestResultOrderAndIsolation(t *testing.T) {
	in := []Response[string]{{ID: "z"}, {ID: "y"}, {ID: "x"}}
	r := NewResult(in, 0)
	in[0].ID = "mutated"
	got := r.Responses()
	want := []string{"z", "y", "x"}
	for i, id := range want {
		if got[i].ID != id {
			t.Fatalf("Responses()[%d].ID = %q, want %q", i, got[i].ID, id)
		}
	}
	if _, ok := r.Get("z"); !ok {
		t.Error("mutating the input slice changed the result")
	}
	got[1].ID = "mutated"
	if r.Responses()[1].ID != "y" {
		t.Error("mutating Responses() changed the result")
	}
}

func TestResultSuccessSemantics(t *testing.T) {
	errA := errors.New("a failed")
	errC := errors.New("c failed")
	errC2 := errors.New("c failed again")
	tests := []struct {
		name        string
		responses   []Response[int]
		wantOK      int
		wantFailed  int
		wantAll     bool
		wantErrors  map[string]error
		failedIDsOK map[string]bool // Get(id).OK() expectations
	}{
		{
			name:       "empty",
			wantAll:    true,
			wantErrors: map[string]error{},
		},
		{
			name:        "all ok",
			responses:   []Response[int]{{ID: "a"}, {ID: "b"}},
			wantOK:      2,
			wantAll:     true,
			wantErrors:  map[string]error{},
			failedIDsOK: map[string]bool{"a": true, "b": true},
		},
		{
			name:        "one failure with data is still a failure",
			responses:   []Response[int]{{ID: "a", Data: 7, Err: errA}, {ID: "b", Data: 8}},
			wantOK:      1,
			wantFailed:  1,
			wantErrors:  map[string]error{"a": errA},
			failedIDsOK: map[string]bool{"a": false, "b": true},
		},
		{
			name:       "all failed, repeated id keeps first error",
			responses:  []Response[int]{{ID: "a", Err: errA}, {ID: "c", Err: errC}, {ID: "c", Err: errC2}},
			wantFailed: 3,
			wantErrors: map[string]error{"a": errA, "c": errC},
		},
		{
			name:        "repeated id, first ok then failed",
			responses:   []Response[int]{{ID: "c"}, {ID: "c", Err: errC2}},
			wantOK:      1,
			wantFailed:  1,
			wantErrors:  map[string]error{"c": errC2},
			failedIDsOK: map[string]bool{"c": true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewResult(tc.responses, time.Millisecond)
			if got := r.SuccessCount(); got != tc.wantOK {
				t.Errorf("SuccessCount() = %d, want %d", got, tc.wantOK)
			}
			if got := r.FailureCount(); got != tc.wantFailed {
				t.Errorf("FailureCount() = %d, want %d", got, tc.wantFailed)
			}
			if got := r.AllSucceeded(); got != tc.wantAll {
				t.Errorf("AllSucceeded() = %v, want %v", got, tc.wantAll)
			}
			if got := r.Errors(); !maps.Equal(got, tc.wantErrors) {
				t.Errorf("Errors() = %v, want %v", got, tc.wantErrors)
			}
			for id, want := range tc.failedIDsOK {
				resp, ok := r.Get(id)
				if !ok || resp.OK() != want {
					t.Errorf("Get(%q).OK() = %v (found %v), want %v", id, resp.OK(), ok, want)
				}
			}
			st := r.Stats()
			if st.Succeeded != int64(tc.wantOK) || st.Failed != int64(tc.wantFailed) || st.TotalItems != int64(len(tc.responses)) {
				t.Errorf("Stats counts = %d/%d/%d, want %d/%d/%d", st.Succeeded, st.Failed, st.TotalItems,
					tc.wantOK, tc.wantFailed, len(tc.responses))
			}
		})
	}
}

func TestResultNil(t *testing.T) {
	var r *Result[int]
	if r.Len() != 0 || r.SuccessCount() != 0 || r.FailureCount() != 0 || !r.AllSucceeded() {
		t.Error("nil Result should behave like an empty one")
	}
	if _, ok := r.Get("a"); ok {
		t.Error("nil Result Get found something")
	}
	if r.Responses() != nil || len(r.Errors()) != 0 || r.Stats() != (Stats{}) {
		t.Error("nil Result should have no responses, errors or stats")
	}
}

func TestResultStats(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name  string
		durs  []time.Duration
		wall  time.Duration
		fails int
		want  Stats
	}{
		{
			name: "empty",
			want: Stats{},
		},
		{
			name: "empty with wall time",
			wall: 5 * ms,
			want: Stats{WallTime: 5 * ms},
		},
		{
			name:  "four concurrent items",
			durs:  []time.Duration{40 * ms, 10 * ms, 30 * ms, 20 * ms},
			wall:  25 * ms,
			fails: 1,
			want: Stats{
				TotalItems: 4, Succeeded: 3, Failed: 1,
				WallTime: 25 * ms, SumItemTime: 100 * ms,
				ItemsPerSecond: 160,
				MeanLatency:    25 * ms,
				P50Latency:     20 * ms, // rank ceil(0.5*4) = 2
				P95Latency:     40 * ms, // rank ceil(0.95*4) = 4
				P99Latency:     40 * ms,
				MaxLatency:     40 * ms,
				// measured: 100ms of item time in 25ms of wall time
				SpeedupVsSequential: 4,
			},
		},
		{
			name: "sequential items",
			durs: []time.Duration{ms, ms},
			wall: 2 * ms,
			want: Stats{
				TotalItems: 2, Succeeded: 2,
				WallTime: 2 * ms, SumItemTime: 2 * ms,
				ItemsPerSecond: 1000,
				MeanLatency:    ms, P50Latency: ms, P95Latency: ms, P99Latency: ms, MaxLatency: ms,
				SpeedupVsSequential: 1,
			},
		},
		{
			name: "zero wall time gives zero rates",
			durs: []time.Duration{3 * ms, -ms},
			want: Stats{
				TotalItems: 2, Succeeded: 2,
				SumItemTime: 3 * ms,
				MeanLatency: 1500 * time.Microsecond,
				P50Latency:  0, P95Latency: 3 * ms, P99Latency: 3 * ms, MaxLatency: 3 * ms,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resps := make([]Response[struct{}], len(tc.durs))
			for i, d := range tc.durs {
				resps[i] = Response[struct{}]{ID: string(rune('a' + i)), Duration: d}
				if i < tc.fails {
					resps[i].Err = errors.New("failed")
				}
			}
			if got := NewResult(resps, tc.wall).Stats(); got != tc.want {
				t.Errorf("Stats() =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestResultStatsExactPercentiles(t *testing.T) {
	// 1..100 ms: nearest-rank percentiles are exact values.
	var resps []Response[int]
	for i := 100; i >= 1; i-- {
		resps = append(resps, Response[int]{ID: string(rune(i)), Duration: time.Duration(i) * time.Millisecond})
	}
	st := NewResult(resps, time.Second).Stats()
	if st.P50Latency != 50*time.Millisecond || st.P95Latency != 95*time.Millisecond ||
		st.P99Latency != 99*time.Millisecond || st.MaxLatency != 100*time.Millisecond {
		t.Errorf("percentiles = %v %v %v %v, want 50ms 95ms 99ms 100ms",
			st.P50Latency, st.P95Latency, st.P99Latency, st.MaxLatency)
	}
	if st.SpeedupVsSequential != 5.05 {
		t.Errorf("speedup = %v, want 5.05 (5050ms of work in 1s)", st.SpeedupVsSequential)
	}
}
