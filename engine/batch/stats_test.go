package batch

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

var wantJSONKeys = []string{
	"total_items", "succeeded", "failed", "wall_time_ms", "sum_item_time_ms",
	"items_per_second", "mean_latency_ms", "p50_latency_ms", "p95_latency_ms",
	"p99_latency_ms", "max_latency_ms", "speedup_vs_sequential", "total_tokens",
	"tokens_per_second", "total_bytes", "bytes_per_second",
}

func sampleStats() Stats {
	return Stats{
		TotalItems: 1000, Succeeded: 998, Failed: 2,
		WallTime:            1234567891 * time.Nanosecond,
		SumItemTime:         9876543210 * time.Nanosecond,
		ItemsPerSecond:      810.0000007290001,
		MeanLatency:         9876543 * time.Nanosecond,
		P50Latency:          8 * time.Millisecond,
		P95Latency:          15*time.Millisecond + 250*time.Microsecond,
		P99Latency:          21*time.Millisecond + 1,
		MaxLatency:          45 * time.Millisecond,
		SpeedupVsSequential: 8.00000007290001,
		TotalTokens:         123456,
		TokensPerSecond:     100000.00009,
		TotalBytes:          3_500_000,
		BytesPerSecond:      2834999.9,
	}
}

func TestStatsJSONKeysAndUnits(t *testing.T) {
	data, err := json.Marshal(sampleStats())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]float64
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := slices.Clone(wantJSONKeys)
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Fatalf("JSON keys = %v, want %v", keys, want)
	}
	tests := []struct {
		key  string
		want float64
	}{
		{"total_items", 1000},
		{"failed", 2},
		{"wall_time_ms", 1234.567891},
		{"p50_latency_ms", 8},
		{"p95_latency_ms", 15.25},
		{"p99_latency_ms", 21.000001},
		{"max_latency_ms", 45},
		{"speedup_vs_sequential", 8.00000007290001},
		{"total_bytes", 3_500_000},
	}
	for _, tc := range tests {
		if got := m[tc.key]; math.Abs(got-tc.want) > 1e-9*math.Abs(tc.want) {
			t.Errorf("%s = %v, want %v", tc.key, got, tc.want)
		}
	}
}

func TestStatsJSONRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		s    Stats
	}{
		{"zero", Stats{}},
		{"sample", sampleStats()},
		{"long durations", Stats{WallTime: 72 * time.Hour, SumItemTime: 1000*time.Hour + 7, MaxLatency: 1}},
		{"from result", NewResult([]Response[int]{{ID: "a", Duration: 3}, {ID: "b", Duration: 1234567}}, 999999).Stats()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := json.Marshal(tc.s)
			if err != nil {
				t.Fatal(err)
			}
			var got Stats
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatal(err)
			}
			if got != tc.s {
				t.Errorf("round trip =\n%+v\nwant\n%+v\njson %s", got, tc.s, data)
			}
			// Pointers and values marshal identically.
			data2, err := json.Marshal(&tc.s)
			if err != nil || string(data2) != string(data) {
				t.Errorf("pointer marshal = %s, %v; want %s", data2, err, data)
			}
		})
	}
}

func TestStatsJSONNonFinite(t *testing.T) {
	s := Stats{
		ItemsPerSecond:      math.NaN(),
		TokensPerSecond:     math.Inf(1),
		BytesPerSecond:      math.Inf(-1),
		SpeedupVsSequential: math.NaN(),
	}
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("Marshal non-finite stats: %v", err)
	}
	for _, bad := range []string{"NaN", "Inf"} {
		if strings.Contains(string(data), bad) {
			t.Errorf("JSON contains %s: %s", bad, data)
		}
	}
	if strings.Contains(s.Summary(), "NaN") || strings.Contains(s.Summary(), "Inf") {
		t.Errorf("Summary contains non-finite numbers:\n%s", s.Summary())
	}
}

func TestStatsJSONUnmarshalErrors(t *testing.T) {
	var s Stats
	if err := json.Unmarshal([]byte(`{"total_items": "many"}`), &s); err == nil {
		t.Error("want error for a string item count")
	}
	if err := json.Unmarshal([]byte(`{"wall_time_ms": 1.5, "unknown": 1}`), &s); err != nil || s.WallTime != 1500*time.Microsecond {
		t.Errorf("partial JSON: %+v, %v", s, err)
	}
}

// TestZeroStatsAreFinite checks every way of producing empty statistics.
func TestZeroStatsAreFinite(t *testing.T) {
	var acc Accumulator
	acc.Add(Observation{OK: true, StartUnixNano: 5, DurationNanos: 0})
	tests := []struct {
		name string
		s    Stats
	}{
		{"empty result", NewResult[int](nil, 0).Stats()},
		{"empty result with wall", NewResult[int](nil, time.Second).Stats()},
		{"result with zero wall", NewResult([]Response[int]{{ID: "a", Duration: time.Second}}, 0).Stats()},
		{"empty accumulator", Accumulator{}.Stats()},
		{"instantaneous accumulator", acc.Stats()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, f := range []float64{tc.s.ItemsPerSecond, tc.s.TokensPerSecond, tc.s.BytesPerSecond, tc.s.SpeedupVsSequential} {
				if math.IsNaN(f) || math.IsInf(f, 0) {
					t.Errorf("non-finite value in %+v", tc.s)
				}
			}
			if tc.s.WallTime == 0 && (tc.s.ItemsPerSecond != 0 || tc.s.SpeedupVsSequential != 0) {
				t.Errorf("rates should be 0 when WallTime is 0: %+v", tc.s)
			}
			data, err := json.Marshal(tc.s)
			if err != nil {
				t.Fatal(err)
			}
			var back Stats
			if err := json.Unmarshal(data, &back); err != nil || back != tc.s {
				t.Errorf("round trip %+v -> %+v (%v)", tc.s, back, err)
			}
			_ = tc.s.Summary()
		})
	}
}

func TestStatsSummary(t *testing.T) {
	got := sampleStats().Summary()
	for _, want := range []string{
		"998 ok, 2 failed (1000 total)",
		"wall time:  1.235s",
		"810.0 items/s",
		"100000.0 tokens/s",
		"2.83 MB/s",
		"p50 8ms",
		"p95 15.25ms",
		"p99 21ms",
		"max 45ms",
		"mean 9.877ms",
		"speedup:    8.00x",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Summary() missing %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "\n"); n != 4 {
		t.Errorf("Summary() has %d newlines, want 4 (five lines):\n%s", n, got)
	}
}
