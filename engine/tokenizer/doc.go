// Package tokenizer is Minerva's byte-pair-encoding tokenizer.
//
// It implements OpenAI's encodings (cl100k_base, o200k_base, p50k_base and
// r50k_base, also known as gpt2) with token ids identical to tiktoken's:
// the pre-tokenizer patterns are written out by hand with the semantics of
// tiktoken's backtracking regular expressions, and pieces are merged with
// tiktoken's lowest-rank-first rule. Long pieces (such as a megabyte with no
// whitespace) merge in O(n log n) time rather than tiktoken's O(n²).
//
// EncodeBatch and DecodeBatch run a batch of items on all cores and return
// per-item results, timings and errors in input order.
package tokenizer

//go:generate go run gen_unicode.go
