// Package tokenizer is Minerva's tokenizer engine: one Tokenizer interface
// over the vocabulary formats in common use.
//
// Byte-level BPE (BPE): OpenAI's encodings cl100k_base, o200k_base,
// p50k_base and r50k_base (alias gpt2), built in with their rank files
// embedded, with token ids identical to tiktoken's. Each encoding's
// vocabulary is also embedded as an image of its loaded tables, hash table
// included, written from the rank files by go generate, so that New loads an
// encoding in a few milliseconds with no parsing or hashing; a test rebuilds
// the images from the rank files and fails if one is stale. The pre-tokenizer
// patterns are written out by hand with the semantics of tiktoken's
// backtracking regular expressions, over Unicode 16 character tables
// generated from the Unicode Character Database (go generate; Go's own
// unicode tables are an older version); pieces are merged with tiktoken's
// lowest-rank-first rule, and pieces of 1 KiB or more by a backtracking
// encoder (after rust-gems' bpe crate) that gives the same tokens in linear
// time, where tiktoken takes O(n²). Count gives the number of tokens without building them. The same
// engine loads any .tiktoken rank file (LoadTiktokenFile), GPT-2's
// encoder.json + vocab.bpe (LoadGPT2) and Hugging Face tokenizer.json
// byte-level BPE models (LoadHFTokenizerJSON, with Hugging Face's own
// merge-list rule); WriteHFTokenizerJSON exports an encoding for Hugging Face.
//
// SentencePiece BPE (SentencePiece): the Llama 2 family, with byte
// fallback, identical to llama2.c's encoder, loaded from a llama2.c
// tokenizer.bin (LoadLlama2C), a SentencePiece tokenizer.model
// (LoadSentencePieceModel) or the vocabulary embedded in a GGUF model file
// (LoadGGUFVocab, reading it with package engine/gguf).
//
// EncodeBatch and DecodeBatch run a batch of items on all cores and return
// per-item results, timings and errors in input order.
package tokenizer

//go:generate go run gen_unicode.go
//go:generate go test -run ^TestVocabImages$ . -args -write-vocab-images
