// Package openai speaks the OpenAI HTTP API in both directions:
//
//   - [Client] is an [infer.Backend] that sends each request to an
//     OpenAI-compatible server (vLLM, llama.cpp's server, Ollama, OpenAI)
//     as one POST to /v1/completions or, for chats, /v1/chat/completions.
//     It bounds the requests in flight, retries what can succeed on a
//     second try (429, 5xx, dropped connections, truncated bodies,
//     per-attempt timeouts) with exponential backoff and full jitter, and
//     maps the server's "context too long" error to [llama.ErrTooLong].
//   - [NewHandler] serves any [infer.Backend] (for example the embedded
//     engine, [infer.Local]) as an OpenAI-compatible server: GET /v1/models,
//     POST /v1/completions and POST /v1/chat/completions, without streaming.
//
// A Client pointed at a NewHandler server over a Local backend returns what
// the Local backend returns directly: the same text, token counts and finish
// reason (token ids and time to first token do not cross HTTP).
package openai
