// Package openaibatch reads OpenAI Batch API input files and writes OpenAI
// Batch output files, so that existing batch files run unchanged.
//
// # Input
//
// An input file is JSON Lines: each line one request,
//
//	{"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions",
//	 "body": {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 64}}
//
// with url "/v1/chat/completions" (a chat: body.messages) or
// "/v1/completions" (body.prompt). [Inspect] checks a file and counts its
// rows, [ReadRequests] streams them, each a [Line] holding an [infer.Spec], and
// [ReadIDs] streams only their custom ids.
//
// Rows are the non-blank lines. A blank line (JSON whitespace only) is
// skipped and is not a row, though it counts in line numbers: OpenAI rejects
// such files, but a trailing empty line is a common accident and skipping
// blank lines costs nothing. Lines end in "\n" or "\r\n"; a UTF-8 byte order
// mark at the start of a file is skipped. A line longer than [MaxLineBytes]
// is a row error.
//
// A file that cannot be opened, or whose first row is not a JSON object (a
// Parquet file given by mistake, a pretty-printed JSON document), is a
// job-level error naming the file. Every other problem is a row-level error
// carried in Line.Err, naming the field at fault, e.g.
//
//	field "body.temperature": want a number, got a string
//
// The body fields read, each optional unless said otherwise, with null the
// same as absent:
//
//   - messages (chats, required): a list of {"role", "content"} objects.
//     Roles are "system", "user", "assistant" and "developer" (read as
//     "system"); others ("tool", "function") are row errors. Content is a
//     string or a list of content parts; only "text" parts are supported,
//     and their texts are joined with "\n", as vLLM does. A message's
//     "name" is ignored; non-empty "tool_calls" are a row error.
//   - prompt (completions, required): a string. A list of prompts, or of
//     token ids, is a row error. Each endpoint's other field (prompt in a
//     chat, messages in a completion) is a row error.
//   - max_tokens, max_completion_tokens (either endpoint; the latter wins
//     when both are given, as in vLLM), top_k (a vLLM extension; -1 means
//     none, as 0), seed, priority (a vLLM extension): integers. A number
//     with an integer value, such as 100.0 or 1e3, is an integer.
//   - temperature, top_p: numbers.
//   - stop: a string or a list of strings; an empty list overrides the job's
//     default stop strings.
//   - model: a string, kept in Line.Model for the output.
//
// Their values are checked later, by [infer.Spec.Resolve]. Fields the engine
// cannot honour are row errors unless they have their default value: n and
// best_of (1), stream and echo (false), logprobs (false; in completions any
// count is an error), top_logprobs (0), presence_penalty, frequency_penalty
// and min_p (0), repetition_penalty (1), suffix (""), tools and functions
// (an empty list), logit_bias (an empty object) and response_format
// ({"type": "text"}). Any other key, of the line or of its body, is ignored:
// for example user, metadata, store, service_tier, stream_options,
// tool_choice, parallel_tool_calls and reasoning_effort.
//
// The line's method must be "POST".
//
// # Output
//
// A [ShardWriter] writes output lines in OpenAI's batch output format to a
// hidden temporary file that [ShardWriter.Commit] renames into place as
// <prefix>-<name>.jsonl, so readers of an output folder never see a partial
// shard. A success line ([ResultLine]) is
//
//	{"id": "batch_req_…", "custom_id": "r1", "response": {"status_code": 200,
//	 "request_id": "req_…", "body": {"id": "chatcmpl-…", "object": "chat.completion", …}},
//	 "error": null}
//
// with a "chat.completion" or "text_completion" body, and an error line
// ([FailureLine]) is
//
//	{"id": "batch_req_…", "custom_id": "r2", "response": null,
//	 "error": {"code": "resolve", "message": "field \"max_tokens\": 0 is not positive"}}
//
// The ids are deterministic hashes of the custom id, so a rerun writes the
// same lines. [CountLines] counts the lines of a shard.
package openaibatch
