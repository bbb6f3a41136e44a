// Package tensor holds the numeric kernels of Minerva's inference engine:
// weight matrices in the ggml layouts F32, F16, Q8_0 and Q4_0, and the
// matrix products of the transformer's forward pass over a batch of
// activation vectors.
//
// Quantised weights are never expanded in memory: MatMul dequantises each
// block as it streams through it. A Matrix's Data may be a slice of a
// memory-mapped model file.
//
// # Batch invariance
//
// Every output element out[b*Rows+r] is a deterministic function of weight
// row r and the input vector x[b*Cols:(b+1)*Cols] alone: its reduction order
// is fixed per row, and does not depend on how many vectors are multiplied
// together (n), on which rows a call covers (MatMulRows) or on how callers
// split rows across goroutines. A sequence therefore gets bit-identical
// results whether it runs alone or in a batch of 64, on 1 thread or on 2.
package tensor
