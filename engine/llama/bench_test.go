package llama

import (
	"context"
	"fmt"
	"testing"

	"github.com/minerva-batch/minerva/engine/batch"
)

// BenchmarkGenerate measures aggregate decode throughput on stories260K
// (tok/s, generated tokens over wall time) at several batch sizes.
func BenchmarkGenerate(b *testing.B) {
	m, err := Load(ggufPath, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	for _, threads := range []int{1, 2} {
		for _, n := range []int{1, 4, 16, 64} {
			b.Run(fmt.Sprintf("threads=%d/batch=%d", threads, n), func(b *testing.B) {
				e := newTestEngine(b, m, EngineOptions{MaxInFlight: n, Threads: threads})
				items := make([]batch.Item[Request], n)
				for i := range items {
					items[i] = batch.Item[Request]{ID: fmt.Sprint(i), Data: Request{Prompt: "Once upon a time", MaxTokens: 200, Temperature: 1, Seed: uint64(i), IgnoreEOS: true}}
				}
				tokens := 0
				b.ResetTimer()
				for range b.N {
					for _, r := range e.InferBatch(context.Background(), items) {
						tokens += r.Data.CompletionTokens
					}
				}
				b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tok/s")
			})
		}
	}
}
