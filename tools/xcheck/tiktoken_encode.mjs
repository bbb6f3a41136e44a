// Encode documents with OpenAI's reference tiktoken (Rust core compiled to WASM).
//
// Usage:
//   node tiktoken_encode.mjs [--special] ENCODING IN.jsonl OUT.jsonl
//
// IN.jsonl holds one JSON string (a document) per line. For each document one
// line is written to OUT.jsonl: a JSON array of token ids. Without --special
// the ids come from enc.encode_ordinary(doc) (special tokens are plain text);
// with --special they come from enc.encode(doc, "all") (every special token of
// the encoding is recognised). Empty lines in IN.jsonl are ignored.
//
// Supported encodings: cl100k_base, o200k_base, p50k_base, r50k_base (and the
// other names tiktoken's get_encoding accepts: gpt2, p50k_edit).
//
// Used by the Go package internal/xcheck; install deps with
// `npm ci --prefix tools/xcheck` (or `make xcheck-deps`).

import { readFileSync, createWriteStream } from "node:fs";
import { once } from "node:events";
import { get_encoding } from "tiktoken";

function usage(msg) {
  if (msg) process.stderr.write(`tiktoken_encode: ${msg}\n`);
  process.stderr.write(
    "usage: node tiktoken_encode.mjs [--special] ENCODING IN.jsonl OUT.jsonl\n",
  );
  process.exit(2);
}

async function main() {
  let args = process.argv.slice(2);
  let special = false;
  if (args[0] === "--special") {
    special = true;
    args = args.slice(1);
  }
  if (args.length !== 3) usage(`expected 3 arguments, got ${args.length}`);
  const [encoding, inPath, outPath] = args;

  const lines = readFileSync(inPath, "utf8").split("\n");

  let enc;
  try {
    enc = get_encoding(encoding);
  } catch (e) {
    throw new Error(`unknown encoding ${JSON.stringify(encoding)}: ${e?.message ?? e}`);
  }

  const out = createWriteStream(outPath);
  let outErr = null;
  out.on("error", (e) => { outErr = e; });
  try {
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (line.trim() === "") continue;
      let doc;
      try {
        doc = JSON.parse(line);
      } catch (e) {
        throw new Error(`${inPath}:${i + 1}: invalid JSON: ${e.message}`);
      }
      if (typeof doc !== "string") {
        throw new Error(`${inPath}:${i + 1}: expected a JSON string, got ${typeof doc}`);
      }
      const ids = special ? enc.encode(doc, "all") : enc.encode_ordinary(doc);
      // Uint32Array -> "[1,2,3]" without building an intermediate Array.
      const chunk = "[" + ids.join(",") + "]\n";
      if (outErr) throw outErr;
      if (!out.write(chunk)) await once(out, "drain");
    }
  } finally {
    enc.free();
  }
  out.end();
  await once(out, "finish");
  if (outErr) throw outErr;
}

main().catch((e) => {
  process.stderr.write(`tiktoken_encode: ${e instanceof Error ? e.message : e}\n`);
  process.exit(1);
});
