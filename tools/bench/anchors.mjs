// anchors.mjs measures the tokenizers Minerva is compared with, single
// threaded, on whole files: OpenAI tiktoken (WASM build and the tiktoken-node
// native binding), gpt-tokenizer (pure JS; cold = first call, warm = a later
// call that reuses its piece cache) and Hugging Face tokenizers (native, from
// a tokenizer.json). Load time is measured separately from encoding.
//
// Usage: node anchors.mjs CONFIG.json
//   CONFIG: {"runs": N, "cases": [{"encoding": "cl100k_base", "file": PATH, "hf": PATH-or-null}]}
// Output: one JSON object per line:
//   {"anchor", "encoding", "file", "bytes", "tokens", "seconds", "load_ms"}
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { get_encoding } from "tiktoken";

const require = createRequire(import.meta.url);
const tiktokenNode = require("tiktoken-node");
const { Tokenizer } = require("@anush008/tokenizers");

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const runs = config.runs ?? 3;

function now() { return Number(process.hrtime.bigint()) / 1e9; }

// best returns the fastest of `runs` timed calls of f (after one untimed call
// when warm is true).
async function best(f, warm) {
  if (warm) await f();
  let min = Infinity, n = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = now();
    n = await f();
    min = Math.min(min, now() - t0);
  }
  return { seconds: min, tokens: n };
}

const gptTok = {
  cl100k_base: () => import("gpt-tokenizer/encoding/cl100k_base"),
  o200k_base: () => import("gpt-tokenizer/encoding/o200k_base"),
  r50k_base: () => import("gpt-tokenizer/encoding/r50k_base"),
};

function emit(anchor, c, text, load, r) {
  process.stdout.write(JSON.stringify({ anchor, encoding: c.encoding, file: c.file, bytes: Buffer.byteLength(text), tokens: r.tokens, seconds: r.seconds, load_ms: load * 1000 }) + "\n");
}

for (const c of config.cases) {
  const text = readFileSync(c.file, "utf8");
  {
    const t0 = now();
    const enc = get_encoding(c.encoding);
    const load = now() - t0;
    emit("tiktoken (WASM)", c, text, load, await best(() => enc.encode_ordinary(text).length, true));
    enc.free();
  }
  {
    let enc = null;
    const t0 = now();
    try {
      enc = tiktokenNode.getEncoding(c.encoding);
    } catch (e) {
      process.stderr.write(`tiktoken-node (native): ${c.encoding}: ${e.message}; skipped\n`);
    }
    const load = now() - t0;
    if (enc) emit("tiktoken-node (native)", c, text, load, await best(() => enc.encode(text).length, true));
  }
  if (gptTok[c.encoding]) {
    const t0 = now();
    const mod = await gptTok[c.encoding]();
    const load = now() - t0;
    // Cold: the first call on this text (its piece cache is empty for it).
    const t1 = now();
    const n = mod.encode(text, { disallowedSpecial: new Set() }).length;
    emit("gpt-tokenizer (cold)", c, text, load, { seconds: now() - t1, tokens: n });
    emit("gpt-tokenizer (warm)", c, text, load, await best(() => mod.encode(text, { disallowedSpecial: new Set() }).length, true));
  }
  if (c.hf) {
    const t0 = now();
    const tok = Tokenizer.fromFile(c.hf);
    const load = now() - t0;
    emit("HF tokenizers (native)", c, text, load, await best(async () => (await tok.encode(text, null, { addSpecialTokens: false })).getIds().length, true));
  }
}
