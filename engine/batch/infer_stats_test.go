package batch

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestInferenceStats: token totals, completion tokens/s and TTFT
// percentiles are accumulated, merge exactly, survive JSON, and stay out of
// the JSON of runs that have none.
func TestInferenceStats(t *testing.T) {
	base := time.Unix(1_700_000_000, 0)
	var all, left, right Accumulator
	for i := range 100 {
		o := NewObservation(base.Add(time.Duration(i)*time.Millisecond), time.Duration(i+1)*10*time.Millisecond, i%10 != 0)
		if o.OK {
			o.PromptTokens, o.CompletionTokens = 5, int64(i)
			o.TTFTNanos = int64(time.Duration(i+1) * time.Millisecond)
		}
		all.Add(o)
		if i%3 == 0 {
			left.Add(o)
		} else {
			right.Add(o)
		}
	}
	left.Merge(right)
	s := all.Stats()
	if m := left.Stats(); m.PromptTokens != s.PromptTokens || m.P95TTFT != s.P95TTFT || m.CompletionTokens != s.CompletionTokens {
		t.Fatalf("merged %+v, want %+v", m, s)
	}
	var wantCompletion int64
	for i := range 100 {
		if i%10 != 0 {
			wantCompletion += int64(i)
		}
	}
	if s.PromptTokens != 90*5 || s.CompletionTokens != wantCompletion {
		t.Errorf("tokens %d prompt, %d completion; want 450, %d", s.PromptTokens, s.CompletionTokens, wantCompletion)
	}
	if want := float64(wantCompletion) / s.WallTime.Seconds(); s.CompletionTokensPerSecond != want {
		t.Errorf("completion tokens/s %v, want %v", s.CompletionTokensPerSecond, want)
	}
	// 90 TTFTs of 2..100 ms (i = 1..99, i%10 != 0): the nearest-rank median
	// is the 45th smallest.
	if got := s.P50TTFT; got < 49*time.Millisecond || got > 51*time.Millisecond {
		t.Errorf("p50 ttft %v, want about 50ms", got)
	}
	s.SLA = s.CheckSLA(900 * time.Millisecond)
	if s.SLA.Met != (s.P95Latency <= 900*time.Millisecond) || s.SLA.P95 != s.P95Latency {
		t.Errorf("SLA %+v for p95 %v", s.SLA, s.P95Latency)
	}
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"prompt_tokens":450`, `"completion_tokens_per_second"`, `"p95_ttft_ms"`, `"sla":{"target_p95_ms":900,`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("JSON lacks %s: %s", key, data)
		}
	}
	var back Stats
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.P99TTFT != s.P99TTFT || back.CompletionTokens != s.CompletionTokens || *back.SLA != *s.SLA {
		t.Errorf("round trip %+v, want %+v", back, s)
	}
	if !strings.Contains(s.Summary(), "ttft:") || !strings.Contains(s.Summary(), "sla:") {
		t.Errorf("summary lacks the inference lines:\n%s", s.Summary())
	}
	// A tokenization run's JSON carries none of the inference keys.
	var tok Accumulator
	tok.Add(Observation{OK: true, Tokens: 3, StartUnixNano: base.UnixNano(), DurationNanos: 1e6})
	data, _ = json.Marshal(tok.Stats())
	if strings.Contains(string(data), "ttft") || strings.Contains(string(data), "prompt_tokens") || strings.Contains(string(data), "sla") {
		t.Errorf("tokenization stats carry inference keys: %s", data)
	}
}
