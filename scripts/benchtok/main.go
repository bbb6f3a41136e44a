// Command benchtok is `make bench-tokenize`: it measures Minerva's tokenizer
// and the anchors it is compared with (OpenAI tiktoken's WASM build and its
// native Node binding, gpt-tokenizer, Hugging Face tokenizers; see
// tools/bench/anchors.mjs) on the same corpora in one run, single-threaded,
// whole file, load time separately, and prints MB/s and our ratio to each.
// It also prints our two-core EncodeBatch figure and the long-word curve.
//
//	go run ./scripts/benchtok [--runs 3] [--corpora ../shared/corpora]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/minerva-batch/minerva/engine/batch"
	"github.com/minerva-batch/minerva/engine/tokenizer"
)

type measure struct {
	Anchor   string  `json:"anchor"`
	Encoding string  `json:"encoding"`
	File     string  `json:"file"`
	Bytes    int     `json:"bytes"`
	Tokens   int     `json:"tokens"`
	Seconds  float64 `json:"seconds"`
	LoadMS   float64 `json:"load_ms"`
}

func (m measure) mbps() float64 { return float64(m.Bytes) / m.Seconds / 1e6 }

const ours = "minerva (Go, 1 core)"

func main() {
	runs := flag.Int("runs", 3, "timed runs per case (the best is reported)")
	corpora := flag.String("corpora", "../shared/corpora", "folder of the shared corpora")
	skipAnchors := flag.Bool("no-anchors", false, "measure only our tokenizer")
	flag.Parse()
	runtime.GOMAXPROCS(runtime.NumCPU())
	files := []string{filepath.Join(*corpora, "english_tinyshakespeare.txt"), filepath.Join(*corpora, "code_go_stdlib.txt")}
	encodings := []string{"cl100k_base", "o200k_base"}
	tmp, err := os.MkdirTemp("", "benchtok")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)

	type caseCfg struct {
		Encoding string  `json:"encoding"`
		File     string  `json:"file"`
		HF       *string `json:"hf"`
	}
	var cases []caseCfg
	var results []measure
	batchRows := map[string]float64{}
	for _, enc := range encodings {
		start := time.Now()
		tok, err := tokenizer.New(enc, tokenizer.Options{})
		if err != nil {
			log.Fatal(err)
		}
		load := time.Since(start)
		hf := filepath.Join(tmp, enc+".tokenizer.json")
		f, err := os.Create(hf)
		if err != nil {
			log.Fatal(err)
		}
		w := bufio.NewWriter(f)
		if err := tok.WriteHFTokenizerJSON(w); err != nil {
			log.Fatal(err)
		}
		w.Flush()
		f.Close()
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				log.Fatalf("%v (the shared corpora must sit beside the checkout)", err)
			}
			text := string(data)
			best, n := bestOf(*runs, func() int { return len(tok.EncodeOrdinary(text)) })
			results = append(results, measure{ours, enc, file, len(text), n, best.Seconds(), float64(load.Microseconds()) / 1000})
			// Both cores: EncodeBatch over 4 KiB documents.
			items := docs(text, 4096)
			bb, _ := bestOf(*runs, func() int {
				n := 0
				for _, r := range tokenizer.EncodeBatch(context.Background(), tok, items, 0) {
					n += len(r.Data)
				}
				return n
			})
			batchRows[enc+"|"+file] = float64(len(text)) / bb.Seconds() / 1e6
			cases = append(cases, caseCfg{enc, file, &hf})
		}
	}
	if !*skipAnchors {
		cfg, _ := json.Marshal(map[string]any{"runs": *runs, "cases": cases})
		cfgPath := filepath.Join(tmp, "config.json")
		os.WriteFile(cfgPath, cfg, 0o644)
		cmd := exec.Command("node", "tools/bench/anchors.mjs", cfgPath)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			log.Fatalf("anchors: %v (run `npm ci --prefix tools/bench` first)", err)
		}
		for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
			var m measure
			if err := json.Unmarshal(line, &m); err != nil {
				log.Fatalf("anchors: %v in %q", err, line)
			}
			results = append(results, m)
		}
	}
	report(results, batchRows)
	longWord(*corpora, *runs)
}

func docs(text string, size int) []batch.Item[string] {
	var items []batch.Item[string]
	for len(text) > 0 {
		n := min(size, len(text))
		if n < len(text) {
			if nl := strings.LastIndexByte(text[:n], '\n'); nl > 0 {
				n = nl + 1
			} else {
				for n > 1 && !utf8.RuneStart(text[n]) {
					n--
				}
			}
		}
		items = append(items, batch.Item[string]{ID: fmt.Sprint(len(items)), Data: text[:n]})
		text = text[n:]
	}
	return items
}

func bestOf(runs int, f func() int) (time.Duration, int) {
	f() // warm up
	best := time.Duration(1<<63 - 1)
	n := 0
	for range runs {
		start := time.Now()
		n = f()
		best = min(best, time.Since(start))
	}
	return best, n
}

func report(results []measure, batchRows map[string]float64) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "encoding\tfile\ttokenizer\tload ms\tMB/s\ttokens\tours ÷ it\t")
	oursBy := map[string]measure{}
	for _, m := range results {
		if m.Anchor == ours {
			oursBy[m.Encoding+"|"+m.File] = m
		}
	}
	for _, m := range results {
		o := oursBy[m.Encoding+"|"+m.File]
		ratio := "—"
		if m.Anchor != ours {
			ratio = fmt.Sprintf("%.2f×", o.mbps()/m.mbps())
			if m.Tokens != o.Tokens {
				ratio += fmt.Sprintf(" (token count %d vs ours %d)", m.Tokens, o.Tokens)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f\t%.2f\t%d\t%s\t\n", m.Encoding, filepath.Base(m.File), m.Anchor, m.LoadMS, m.mbps(), m.Tokens, ratio)
		if m.Anchor == ours {
			b := batchRows[m.Encoding+"|"+m.File]
			fmt.Fprintf(tw, "%s\t%s\t%s\t\t%.2f\t\t%.2f× our 1 core\t\n", m.Encoding, filepath.Base(m.File), fmt.Sprintf("minerva EncodeBatch (%d cores)", runtime.GOMAXPROCS(0)), b, b/m.mbps())
		}
	}
	tw.Flush()
}

// longWord shows how encoding time grows with the length of a piece with no
// whitespace: linear time means constant MB/s.
func longWord(corpora string, runs int) {
	data, err := os.ReadFile(filepath.Join(corpora, "adv_longword_1m.txt"))
	if err != nil {
		log.Print(err)
		return
	}
	fmt.Println("\nlong word (adv_longword_1m.txt prefixes, one piece, cl100k_base, 1 core):")
	tok, _ := tokenizer.New("cl100k_base", tokenizer.Options{})
	for _, size := range []int{64 << 10, 256 << 10, 1 << 20} {
		n := min(size, len(data))
		for n > 0 && !utf8.RuneStart(data[n-1]) && n < len(data) && !utf8.RuneStart(data[n]) {
			n--
		}
		text := strings.ToValidUTF8(string(data[:n]), "")
		d, tokens := bestOf(runs, func() int { return len(tok.EncodeOrdinary(text)) })
		fmt.Printf("  %7d bytes: %8.2f ms, %6.2f MB/s, %d tokens\n", len(text), float64(d.Microseconds())/1000, float64(len(text))/d.Seconds()/1e6, tokens)
	}
}
