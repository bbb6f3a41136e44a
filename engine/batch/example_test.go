package batch_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/minerva-batch/minerva/engine/batch"
)

func ExampleNewResult() {
	responses := []batch.Response[int]{
		{ID: "doc-1", Data: 12, Duration: 30 * time.Millisecond},
		{ID: "doc-2", Err: errors.New("empty input"), Duration: 10 * time.Millisecond},
		{ID: "doc-3", Data: 7, Duration: 20 * time.Millisecond},
	}
	// The three items ran concurrently and the batch took 30ms.
	res := batch.NewResult(responses, 30*time.Millisecond)

	r, ok := res.Get("doc-3")
	fmt.Println("doc-3:", r.Data, ok, r.OK())
	fmt.Println("ok/failed:", res.SuccessCount(), res.FailureCount(), res.AllSucceeded())
	fmt.Println("errors:", res.Errors())
	st := res.Stats()
	fmt.Printf("sum %v in %v: speedup %.1fx\n", st.SumItemTime, st.WallTime, st.SpeedupVsSequential)
	// Output:
	// doc-3: 7 true true
	// ok/failed: 2 1 false
	// errors: map[doc-2:empty input]
	// sum 60ms in 30ms: speedup 2.0x
}

func ExampleLimits_Resolve() {
	n, err := batch.TokenizerLimits.Resolve("tokenizer", 0)
	fmt.Println(n, err)
	n, err = batch.InferenceLimits.Resolve("inference", 16)
	fmt.Println(n, err)
	_, err = batch.TokenizerLimits.Resolve("tokenizer", 1001)
	fmt.Println(err)
	// Output:
	// 32 <nil>
	// 16 <nil>
	// tokenizer batch size 1001 is out of range: it must be between 1 and 1000
}

func ExampleLimits_Validate() {
	fmt.Println(batch.TokenizerLimits.Validate("tokenizer", 0))
	fmt.Println(batch.TokenizerLimits.Validate("tokenizer", 1000))
	// Output:
	// tokenizer batch size 0 is out of range: it must be between 1 and 1000
	// <nil>
}

func ExampleAccumulator() {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

	// Two workers each process two items concurrently, building partial
	// accumulators that a pipeline would ship and merge.
	var worker1, worker2 batch.Accumulator
	for _, d := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond} {
		o := batch.NewObservation(t0, d, true)
		o.Tokens, o.Bytes = 1000, 4000
		worker1.Add(o)
	}
	for _, d := range []time.Duration{150 * time.Millisecond, 50 * time.Millisecond} {
		o := batch.NewObservation(t0.Add(50*time.Millisecond), d, d > 100*time.Millisecond)
		o.Tokens, o.Bytes = 500, 2000
		worker2.Add(o)
	}

	var total batch.Accumulator
	total.Merge(worker1)
	total.Merge(worker2)
	st := total.Stats()
	fmt.Println("items:", st.TotalItems, "failed:", st.Failed)
	fmt.Println("wall:", st.WallTime, "sum:", st.SumItemTime)
	fmt.Printf("speedup: %.2fx, %.0f tokens/s\n", st.SpeedupVsSequential, st.TokensPerSecond)
	fmt.Println("max latency:", st.MaxLatency)
	// Output:
	// items: 4 failed: 1
	// wall: 200ms sum: 500ms
	// speedup: 2.50x, 15000 tokens/s
	// max latency: 200ms
}

func ExampleSketch() {
	var s batch.Sketch
	for i := 1; i <= 1000; i++ {
		s.Add(int64(i) * int64(time.Millisecond))
	}
	p99 := time.Duration(s.Quantile(0.99))
	fmt.Println("count:", s.Count())
	fmt.Println("p99 within 1% of 990ms:", p99 >= 980100*time.Microsecond && p99 <= 999900*time.Microsecond)
	fmt.Println("max:", time.Duration(s.Quantile(1)))
	// Output:
	// count: 1000
	// p99 within 1% of 990ms: true
	// max: 1s
}

func ExampleStats_MarshalJSON() {
	st := batch.NewResult([]batch.Response[string]{
		{ID: "a", Duration: 1500 * time.Microsecond},
		{ID: "b", Duration: 500 * time.Microsecond},
	}, time.Millisecond).Stats()
	data, _ := json.Marshal(st)
	fmt.Println(string(data))
	// Output:
	// {"total_items":2,"succeeded":2,"failed":0,"wall_time_ms":1,"sum_item_time_ms":2,"items_per_second":2000,"mean_latency_ms":1,"p50_latency_ms":0.5,"p95_latency_ms":1.5,"p99_latency_ms":1.5,"max_latency_ms":1.5,"speedup_vs_sequential":2,"total_tokens":0,"tokens_per_second":0,"total_bytes":0,"bytes_per_second":0}
}

func ExampleStats_Summary() {
	st := batch.Stats{
		TotalItems: 1000, Succeeded: 998, Failed: 2,
		WallTime: 2 * time.Second, SumItemTime: 16 * time.Second,
		ItemsPerSecond: 500, TokensPerSecond: 64000, BytesPerSecond: 2_500_000,
		MeanLatency: 16 * time.Millisecond, P50Latency: 15 * time.Millisecond,
		P95Latency: 25 * time.Millisecond, P99Latency: 40 * time.Millisecond,
		MaxLatency: 52 * time.Millisecond, SpeedupVsSequential: 8,
	}
	fmt.Println(st.Summary())
	// Output:
	// items:      998 ok, 2 failed (1000 total)
	// wall time:  2s (sum of item time 16s)
	// throughput: 500.0 items/s, 64000.0 tokens/s, 2.50 MB/s
	// latency:    p50 15ms, p95 25ms, p99 40ms, max 52ms (mean 16ms)
	// speedup:    8.00x vs sequential
}
