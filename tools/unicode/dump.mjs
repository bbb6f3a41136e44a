// dump.mjs prints, as JSON, the code point ranges (inclusive [lo, hi] pairs)
// of the Unicode properties the tokenizer's pre-tokenizer patterns use.
// Usage: node dump.mjs   (run by engine/tokenizer's go generate)
const version = "16.0.0";
const props = {
  L: "General_Category/Letter",
  Lu: "General_Category/Uppercase_Letter",
  Ll: "General_Category/Lowercase_Letter",
  Lt: "General_Category/Titlecase_Letter",
  Lm: "General_Category/Modifier_Letter",
  Lo: "General_Category/Other_Letter",
  M: "General_Category/Mark",
  N: "General_Category/Number",
  White_Space: "Binary_Property/White_Space",
};
const out = { version, tables: {} };
for (const [name, path] of Object.entries(props)) {
  const mod = await import(`@unicode/unicode-${version}/${path}/ranges.mjs`);
  out.tables[name] = mod.default.map((r) => [r.begin, r.end - 1]);
}
process.stdout.write(JSON.stringify(out));
