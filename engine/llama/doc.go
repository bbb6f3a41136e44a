// Package llama is Minerva's inference engine: a pure-Go transformer of the
// llama architecture (RMSNorm, rotary embeddings, grouped-query attention,
// SwiGLU feed-forward, KV cache) over real weights, with batched and
// continuous generation.
//
// Load maps a GGUF file (v2 or v3; tensors F32, F16, Q8_0, Q4_0) or a
// llama2.c checkpoint into memory without copying it; quantised weights stay
// quantised and are dequantised inside the matrix products (package
// engine/tensor).
//
// The forward pass reads like llama2.c's run.c, but over a step of many
// tokens: a prompt's tokens go through each weight matrix together
// (prefill as a matrix-matrix product), and a decode step runs the next token
// of every active sequence together, so each weight is read once per step for
// the whole batch.
//
// An Engine schedules requests by continuous batching: up to MaxInFlight
// sequences run together; when one finishes (stop token, stop string,
// max_tokens, full context) the highest-priority waiting request takes its
// place at the next step. KV memory is bounded by a budget; requests that do
// not fit wait.
//
// Results are batch invariant: every computation on a sequence's row has a
// fixed reduction order that does not depend on the other rows of the step
// or on the number of threads, and each request samples from its own seeded
// random stream. A request gives bit-identical output alone, in a batch of 64
// or on 2 threads.
package llama
