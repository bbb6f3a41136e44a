package tokenizer

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// blHFEncodeScript encodes texts with Hugging Face tokenizers (the Node
// binding that make bench-tokenize installs in tools/bench). Arguments: the
// binding's directory, a JSON file of jobs [{file, texts}], the output file,
// which receives the ids of every text of every job.
const blHFEncodeScript = `
const { Tokenizer } = require(process.argv[2]);
const fs = require("fs");
(async () => {
  const jobs = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));
  const out = [];
  for (const job of jobs) {
    const tok = Tokenizer.fromFile(job.file);
    const ids = [];
    for (const text of job.texts) {
      const enc = await tok.encode(text, null, { addSpecialTokens: false });
      ids.push(Array.from(enc.getIds()));
    }
    out.push(ids);
  }
  fs.writeFileSync(process.argv[4], JSON.stringify(out));
})().catch((e) => { console.error((e && e.stack) || String(e)); process.exit(1); });
`

type blHFJob struct {
	File  string   `json:"file"`
	Texts []string `json:"texts"`
}

// blHFTokenizersEncode runs Hugging Face tokenizers on jobs, or skips t when
// node or the binding is missing.
func blHFTokenizersEncode(t *testing.T, jobs []blHFJob) [][][]int32 {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		requireOrSkip(t, "node not found; the Hugging Face cross-check needs Node.js and tools/bench's node_modules (npm ci --prefix tools/bench)")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	binding := filepath.Join(root, "tools", "bench", "node_modules", "@anush008", "tokenizers")
	if _, err := os.Stat(filepath.Join(binding, "package.json")); err != nil {
		requireOrSkip(t, fmt.Sprintf("Hugging Face tokenizers binding not installed (npm ci --prefix tools/bench): %v", err))
	}
	dir := t.TempDir()
	script := blWriteFile(t, dir, "encode.cjs", []byte(blHFEncodeScript))
	data, err := json.Marshal(jobs)
	if err != nil {
		t.Fatal(err)
	}
	in := blWriteFile(t, dir, "jobs.json", data)
	out := filepath.Join(dir, "ids.json")
	if msg, err := exec.Command(node, script, binding, in, out).CombinedOutput(); err != nil {
		t.Fatalf("node: %v\n%s", err, msg)
	}
	var ids [][][]int32
	if err := json.Unmarshal(blReadFile(t, out), &ids); err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(jobs) {
		t.Fatalf("node answered %d jobs of %d", len(ids), len(jobs))
	}
	return ids
}

// blByteLevel spells bytes as a byte-level token string.
func blByteLevel(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		sb.WriteRune(blB2U[s[i]])
	}
	return sb.String()
}

var blB2U = blBytesToUnicode()

// blRandomHF returns a random byte-level BPE tokenizer.json over a small
// alphabet: merges of random pairs of tokens made so far (so a token is
// often made by several merges, and some pairs repeat), ids shuffled.
func blRandomHF(rng *rand.Rand, useRegex, ignoreMerges bool) map[string]any {
	tokens := []string{"a", "b", "c", "d", " "}
	var merges []any
	made := map[string]bool{}
	for range 10 + rng.IntN(60) {
		x, y := tokens[rng.IntN(len(tokens))], tokens[rng.IntN(len(tokens))]
		if len(x)+len(y) > 12 {
			continue
		}
		merges = append(merges, blByteLevel(x)+" "+blByteLevel(y))
		if !made[x+y] {
			made[x+y] = true
			tokens = append(tokens, x+y)
		}
	}
	var all []string
	for b := range 256 {
		all = append(all, string([]byte{byte(b)}))
	}
	for _, tok := range tokens {
		if len(tok) > 1 {
			all = append(all, tok)
		}
	}
	vocab := map[string]any{}
	for i, j := range rng.Perm(len(all)) {
		vocab[blByteLevel(all[i])] = j
	}
	doc := blTinyHF()
	doc["added_tokens"] = []any{map[string]any{"id": len(all), "content": "<|end|>", "single_word": false, "lstrip": false, "rstrip": false,
		"normalized": false, "special": true}}
	doc["pre_tokenizer"] = map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": useRegex}
	m := doc["model"].(map[string]any)
	m["vocab"], m["merges"], m["ignore_merges"] = vocab, merges, ignoreMerges
	return doc
}

// TestHFTokenizersCrossCheck compares LoadHFTokenizerJSON with Hugging Face
// tokenizers itself: on the hand-built vocabulary, on GPT-2 with its merged
// tokens' ids shuffled (so that ids are not in merge order), and on random
// vocabularies whose tokens are made by several merges each.
func TestHFTokenizersCrossCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Hugging Face tokenizers under node; skipped in -short mode")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 11))
	type job struct {
		blHFJob
		name string
	}
	var jobs []job
	add := func(name string, doc any, texts []string) {
		jobs = append(jobs, job{blHFJob{blWriteJSON(t, dir, fmt.Sprintf("%d.json", len(jobs)), doc), texts}, name})
	}
	tinyTexts := []string{"abc", "abcd", "bcd", "cbcd", "abcbcd", "xyz", "yz", "abcd xyz", "ba", "x<|end|>y", "", "abcdabcd bcdbcd"}
	// Hugging Face keeps an added token's id only when the token is in
	// model.vocab or its id is the next after the vocabulary; <|end|> (id 1)
	// is neither in blTinyHF, so list it in model.vocab here.
	for _, ignore := range []bool{false, true} {
		doc := blTinyHF()
		m := doc["model"].(map[string]any)
		m["vocab"].(map[string]any)["<|end|>"] = 1
		m["ignore_merges"] = ignore
		add(fmt.Sprintf("tiny (ignore_merges %v)", ignore), doc, tinyTexts)
	}

	// GPT-2 with the ids of its merged tokens shuffled.
	var enc map[string]int
	if err := json.Unmarshal(blReadFile(t, blGPT2Dir+"encoder.json"), &enc); err != nil {
		t.Fatal(err)
	}
	var merged []string
	for tok, id := range enc {
		if id >= 256 && id < 50256 {
			merged = append(merged, tok)
		}
	}
	slices.Sort(merged)
	perm := rng.Perm(len(merged))
	for i, tok := range merged {
		enc[tok] = 256 + perm[i]
	}
	var doc map[string]any
	if err := json.Unmarshal(blGPT2TokenizerJSON(t, false, ""), &doc); err != nil {
		t.Fatal(err)
	}
	doc["model"].(map[string]any)["vocab"] = enc
	texts := slices.Clone(blTexts)
	for _, text := range blCorpora(t) {
		texts = append(texts, blChunks(blPrefix(text, 64<<10), 2<<10)...)
	}
	add("GPT-2 shuffled", doc, texts)

	for i := range 60 {
		useRegex, ignore := i%3 != 0, i%4 == 0
		var texts []string
		for range 40 {
			var sb strings.Builder
			for range 1 + rng.IntN(30) {
				sb.WriteByte("abcd  "[rng.IntN(6)])
			}
			texts = append(texts, sb.String())
		}
		add(fmt.Sprintf("random %d (use_regex %v, ignore_merges %v)", i, useRegex, ignore), blRandomHF(rng, useRegex, ignore), texts)
	}

	hfJobs := make([]blHFJob, len(jobs))
	for i, j := range jobs {
		hfJobs[i] = j.blHFJob
	}
	want := blHFTokenizersEncode(t, hfJobs)
	for i, j := range jobs {
		tok, err := LoadHFTokenizerJSON(j.File, Options{AllowedSpecial: []string{"all"}})
		if err != nil {
			t.Fatalf("%s: %v", j.name, err)
		}
		bad := 0
		for k, text := range j.Texts {
			got, err := tok.Encode(text)
			if err != nil {
				t.Fatalf("%s: Encode(%q): %v", j.name, text, err)
			}
			if !blSameIDs(t, fmt.Sprintf("%s: %q", j.name, blPrefix(text, 60)), got, want[i][k]) {
				if bad++; bad == 3 {
					break
				}
			}
		}
	}
}

// requireOrSkip fails the test when the cross-checks are required (CI, or
// MINERVA_REQUIRE_XCHECK set, as `make test` does) and skips it otherwise.
func requireOrSkip(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" || os.Getenv("MINERVA_REQUIRE_XCHECK") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}
