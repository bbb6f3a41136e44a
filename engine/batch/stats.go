package batch

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// Stats are the statistics of a batch or of a whole run. Durations are
// measured, never derived from a formula. Rates are 0 when WallTime is 0.
//
// Stats marshals to JSON with snake_case keys and durations as float
// milliseconds (see [Stats.MarshalJSON]).
type Stats struct {
	// TotalItems is the number of processed items.
	TotalItems int64
	// Succeeded is the number of items that succeeded.
	Succeeded int64
	// Failed is the number of items that failed.
	Failed int64
	// WallTime is the measured wall-clock time: latest end minus earliest
	// start over all items.
	WallTime time.Duration
	// SumItemTime is the sum of the per-item durations.
	SumItemTime time.Duration
	// ItemsPerSecond is TotalItems / WallTime.
	ItemsPerSecond float64
	// MeanLatency is SumItemTime / TotalItems.
	MeanLatency time.Duration
	// P50Latency is the median item duration.
	P50Latency time.Duration
	// P95Latency is the 95th percentile item duration.
	P95Latency time.Duration
	// P99Latency is the 99th percentile item duration.
	P99Latency time.Duration
	// MaxLatency is the largest item duration.
	MaxLatency time.Duration
	// SpeedupVsSequential is SumItemTime / WallTime: how much faster the run
	// was than processing the items one after another. It is 0 when WallTime
	// is 0.
	SpeedupVsSequential float64
	// TotalTokens is the number of tokens produced or consumed.
	TotalTokens int64
	// TokensPerSecond is TotalTokens / WallTime.
	TokensPerSecond float64
	// TotalBytes is the number of input bytes.
	TotalBytes int64
	// BytesPerSecond is TotalBytes / WallTime.
	BytesPerSecond float64

	// Inference runs only (zero elsewhere, and left out of the JSON):
	// PromptTokens and CompletionTokens are the token totals of the
	// succeeded items; CompletionTokensPerSecond is CompletionTokens /
	// WallTime; P50TTFT, P95TTFT and P99TTFT are percentiles of the time to
	// first token of the items that measured one.
	PromptTokens, CompletionTokens int64
	CompletionTokensPerSecond      float64
	P50TTFT, P95TTFT, P99TTFT      time.Duration
	// SLA is the verdict on a latency target, when the job set one.
	SLA *SLA
}

// SLA is a latency service-level verdict: whether the run's p95 item latency
// met the target.
type SLA struct {
	TargetP95 time.Duration
	P95       time.Duration
	Met       bool
}

// CheckSLA returns the verdict of s against a p95 latency target.
func (s Stats) CheckSLA(targetP95 time.Duration) *SLA {
	return &SLA{TargetP95: targetP95, P95: s.P95Latency, Met: s.P95Latency <= targetP95}
}

type slaJSON struct {
	TargetP95MS float64 `json:"target_p95_ms"`
	P95MS       float64 `json:"p95_ms"`
	Met         bool    `json:"met"`
}

// statsInput holds the measured aggregates Stats is derived from.
type statsInput struct {
	items, succeeded        int64
	wall                    time.Duration
	sum, max, p50, p95, p99 int64
	tokens, bytes           int64
}

func newStats(in statsInput) Stats {
	s := Stats{
		TotalItems:  in.items,
		Succeeded:   in.succeeded,
		Failed:      in.items - in.succeeded,
		WallTime:    in.wall,
		SumItemTime: time.Duration(in.sum),
		P50Latency:  time.Duration(in.p50),
		P95Latency:  time.Duration(in.p95),
		P99Latency:  time.Duration(in.p99),
		MaxLatency:  time.Duration(in.max),
		TotalTokens: in.tokens,
		TotalBytes:  in.bytes,
	}
	if in.items > 0 {
		s.MeanLatency = time.Duration(in.sum / in.items)
	}
	s.ItemsPerSecond = perSecond(float64(in.items), in.wall)
	s.TokensPerSecond = perSecond(float64(in.tokens), in.wall)
	s.BytesPerSecond = perSecond(float64(in.bytes), in.wall)
	if in.wall > 0 {
		s.SpeedupVsSequential = float64(in.sum) / float64(in.wall)
	}
	return s
}

// perSecond returns x per second of d, or 0 when d is not positive.
func perSecond(x float64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return x / d.Seconds()
}

// statsJSON is the wire form of Stats.
type statsJSON struct {
	TotalItems          int64   `json:"total_items"`
	Succeeded           int64   `json:"succeeded"`
	Failed              int64   `json:"failed"`
	WallTimeMS          float64 `json:"wall_time_ms"`
	SumItemTimeMS       float64 `json:"sum_item_time_ms"`
	ItemsPerSecond      float64 `json:"items_per_second"`
	MeanLatencyMS       float64 `json:"mean_latency_ms"`
	P50LatencyMS        float64 `json:"p50_latency_ms"`
	P95LatencyMS        float64 `json:"p95_latency_ms"`
	P99LatencyMS        float64 `json:"p99_latency_ms"`
	MaxLatencyMS        float64 `json:"max_latency_ms"`
	SpeedupVsSequential float64 `json:"speedup_vs_sequential"`
	TotalTokens         int64   `json:"total_tokens"`
	TokensPerSecond     float64 `json:"tokens_per_second"`
	TotalBytes          int64   `json:"total_bytes"`
	BytesPerSecond      float64 `json:"bytes_per_second"`

	PromptTokens              int64    `json:"prompt_tokens,omitempty"`
	CompletionTokens          int64    `json:"completion_tokens,omitempty"`
	CompletionTokensPerSecond float64  `json:"completion_tokens_per_second,omitempty"`
	P50TTFTMS                 float64  `json:"p50_ttft_ms,omitempty"`
	P95TTFTMS                 float64  `json:"p95_ttft_ms,omitempty"`
	P99TTFTMS                 float64  `json:"p99_ttft_ms,omitempty"`
	SLA                       *slaJSON `json:"sla,omitempty"`
}

// MarshalJSON encodes s with snake_case keys (total_items, succeeded,
// failed, wall_time_ms, sum_item_time_ms, items_per_second, mean_latency_ms,
// p50_latency_ms, p95_latency_ms, p99_latency_ms, max_latency_ms,
// speedup_vs_sequential, total_tokens, tokens_per_second, total_bytes,
// bytes_per_second; for inference runs also prompt_tokens,
// completion_tokens, completion_tokens_per_second, p50/p95/p99_ttft_ms and
// sla {target_p95_ms, p95_ms, met}, left out when zero or unset). Durations
// are float milliseconds. Non-finite rates are
// written as 0 so the output is always valid JSON.
func (s Stats) MarshalJSON() ([]byte, error) {
	var sla *slaJSON
	if s.SLA != nil {
		sla = &slaJSON{TargetP95MS: toMS(s.SLA.TargetP95), P95MS: toMS(s.SLA.P95), Met: s.SLA.Met}
	}
	return json.Marshal(statsJSON{
		TotalItems:          s.TotalItems,
		Succeeded:           s.Succeeded,
		Failed:              s.Failed,
		WallTimeMS:          toMS(s.WallTime),
		SumItemTimeMS:       toMS(s.SumItemTime),
		ItemsPerSecond:      finite(s.ItemsPerSecond),
		MeanLatencyMS:       toMS(s.MeanLatency),
		P50LatencyMS:        toMS(s.P50Latency),
		P95LatencyMS:        toMS(s.P95Latency),
		P99LatencyMS:        toMS(s.P99Latency),
		MaxLatencyMS:        toMS(s.MaxLatency),
		SpeedupVsSequential: finite(s.SpeedupVsSequential),
		TotalTokens:         s.TotalTokens,
		TokensPerSecond:     finite(s.TokensPerSecond),
		TotalBytes:          s.TotalBytes,
		BytesPerSecond:      finite(s.BytesPerSecond),

		PromptTokens:              s.PromptTokens,
		CompletionTokens:          s.CompletionTokens,
		CompletionTokensPerSecond: finite(s.CompletionTokensPerSecond),
		P50TTFTMS:                 toMS(s.P50TTFT),
		P95TTFTMS:                 toMS(s.P95TTFT),
		P99TTFTMS:                 toMS(s.P99TTFT),
		SLA:                       sla,
	})
}

// UnmarshalJSON decodes the form written by [Stats.MarshalJSON]. Durations
// are rounded to the nearest nanosecond, so a marshal/unmarshal round trip
// restores them exactly for any realistic duration; missing keys leave zero
// values.
func (s *Stats) UnmarshalJSON(data []byte) error {
	var w statsJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*s = Stats{
		TotalItems:          w.TotalItems,
		Succeeded:           w.Succeeded,
		Failed:              w.Failed,
		WallTime:            fromMS(w.WallTimeMS),
		SumItemTime:         fromMS(w.SumItemTimeMS),
		ItemsPerSecond:      w.ItemsPerSecond,
		MeanLatency:         fromMS(w.MeanLatencyMS),
		P50Latency:          fromMS(w.P50LatencyMS),
		P95Latency:          fromMS(w.P95LatencyMS),
		P99Latency:          fromMS(w.P99LatencyMS),
		MaxLatency:          fromMS(w.MaxLatencyMS),
		SpeedupVsSequential: w.SpeedupVsSequential,
		TotalTokens:         w.TotalTokens,
		TokensPerSecond:     w.TokensPerSecond,
		TotalBytes:          w.TotalBytes,
		BytesPerSecond:      w.BytesPerSecond,

		PromptTokens:              w.PromptTokens,
		CompletionTokens:          w.CompletionTokens,
		CompletionTokensPerSecond: w.CompletionTokensPerSecond,
		P50TTFT:                   fromMS(w.P50TTFTMS),
		P95TTFT:                   fromMS(w.P95TTFTMS),
		P99TTFT:                   fromMS(w.P99TTFTMS),
	}
	if w.SLA != nil {
		s.SLA = &SLA{TargetP95: fromMS(w.SLA.TargetP95MS), P95: fromMS(w.SLA.P95MS), Met: w.SLA.Met}
	}
	return nil
}

func toMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fromMS(ms float64) time.Duration {
	ns := math.Round(ms * float64(time.Millisecond))
	switch {
	case math.IsNaN(ns):
		return 0
	case ns >= math.MaxInt64:
		return math.MaxInt64
	case ns <= math.MinInt64:
		return math.MinInt64
	}
	return time.Duration(ns)
}

// finite returns f, or 0 when f is NaN or infinite.
func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// Summary returns a short human-readable multi-line summary of s for a CLI
// to print: items ok/failed, wall time, throughput (items/s, tokens/s, MB/s
// with 1 MB = 10^6 bytes), latency percentiles and speedup.
func (s Stats) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "items:      %d ok, %d failed (%d total)\n", s.Succeeded, s.Failed, s.TotalItems)
	fmt.Fprintf(&b, "wall time:  %s (sum of item time %s)\n", fmtDuration(s.WallTime), fmtDuration(s.SumItemTime))
	fmt.Fprintf(&b, "throughput: %.1f items/s, %.1f tokens/s, %.2f MB/s\n",
		finite(s.ItemsPerSecond), finite(s.TokensPerSecond), finite(s.BytesPerSecond)/1e6)
	fmt.Fprintf(&b, "latency:    p50 %s, p95 %s, p99 %s, max %s (mean %s)\n",
		fmtDuration(s.P50Latency), fmtDuration(s.P95Latency), fmtDuration(s.P99Latency),
		fmtDuration(s.MaxLatency), fmtDuration(s.MeanLatency))
	fmt.Fprintf(&b, "speedup:    %.2fx vs sequential", finite(s.SpeedupVsSequential))
	if s.PromptTokens > 0 || s.CompletionTokens > 0 {
		fmt.Fprintf(&b, "\ntokens:     %d prompt, %d completion (%.1f completion tokens/s)", s.PromptTokens, s.CompletionTokens, finite(s.CompletionTokensPerSecond))
		fmt.Fprintf(&b, "\nttft:       p50 %s, p95 %s, p99 %s", fmtDuration(s.P50TTFT), fmtDuration(s.P95TTFT), fmtDuration(s.P99TTFT))
	}
	if s.SLA != nil {
		verdict := "met"
		if !s.SLA.Met {
			verdict = "MISSED"
		}
		fmt.Fprintf(&b, "\nsla:        p95 %s against a target of %s: %s", fmtDuration(s.SLA.P95), fmtDuration(s.SLA.TargetP95), verdict)
	}
	return b.String()
}

// fmtDuration rounds d for display: to milliseconds from one second up and
// to microseconds from one millisecond up.
func fmtDuration(d time.Duration) string {
	abs := d
	if abs < 0 {
		abs = -abs
	}
	switch {
	case abs >= time.Second:
		d = d.Round(time.Millisecond)
	case abs >= time.Millisecond:
		d = d.Round(time.Microsecond)
	}
	return d.String()
}
