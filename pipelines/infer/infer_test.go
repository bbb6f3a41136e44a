package infer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/parquet-go/parquet-go"

	"github.com/minerva-batch/minerva/engine/batch"
	einfer "github.com/minerva-batch/minerva/engine/infer"
	"github.com/minerva-batch/minerva/engine/llama"
	"github.com/minerva-batch/minerva/engine/openai"
	"github.com/minerva-batch/minerva/internal/xcheck"
	"github.com/minerva-batch/minerva/io/openaibatch"
	"github.com/minerva-batch/minerva/io/parquetio"
	"github.com/minerva-batch/minerva/pipelines/runners"
	"github.com/minerva-batch/minerva/transforms"
)

// TestMain initialises Beam. The pipeline tests run on the runner named by
// -runner (prism by default; `make test` runs them again with -runner=direct).
func TestMain(m *testing.M) { ptest.Main(m) }

func runner() string {
	if r := *ptest.Runner; r != "" {
		return r
	}
	return ptest.DefaultRunner()
}

const model = "../../../shared/models/stories260K/stories260K.gguf"

// reqRow is a request row as a test writes it.
type reqRow struct {
	ID          *string  `parquet:"id,optional"`
	Prompt      *string  `parquet:"prompt,optional"`
	MaxTokens   *int64   `parquet:"max_tokens,optional"`
	Temperature *float64 `parquet:"temperature,optional"`
	TopP        *float64 `parquet:"top_p,optional"`
	TopK        *int64   `parquet:"top_k,optional"`
	Seed        *int64   `parquet:"seed,optional"`
	Stop        []string `parquet:"stop,list,optional"`
	Priority    *int64   `parquet:"priority,optional"`
}

func ptr[T any](v T) *T { return &v }

func writeRequests(t *testing.T, path string, rows []reqRow) string {
	t.Helper()
	if err := parquet.WriteFile(path, rows); err != nil {
		t.Fatal(err)
	}
	return path
}

func config(in, out string) Config {
	return Config{Inputs: []string{in}, Output: out, Runner: runner(), Backend: transforms.BackendConfig{Model: model},
		Defaults: einfer.Defaults{MaxTokens: 24}}
}

func readResults(t *testing.T, dir string) map[string]parquetio.InferResult {
	t.Helper()
	m := map[string]parquetio.InferResult{}
	for _, f := range shardPaths(t, dir, "results-*.parquet") {
		rows, err := parquetio.ReadAll[parquetio.InferResult](f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if _, dup := m[r.ID]; dup {
				t.Errorf("id %q has two results", r.ID)
			}
			m[r.ID] = r
		}
	}
	return m
}

func readErrors(t *testing.T, dir string) map[string]parquetio.InferError {
	t.Helper()
	m := map[string]parquetio.InferError{}
	for _, f := range shardPaths(t, dir, "errors-*.parquet") {
		rows, err := parquetio.ReadAll[parquetio.InferError](f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			m[fmt.Sprint(r.ID, "@", r.Row)] = r
		}
	}
	return m
}

// TestReference: llama2.c's greedy request comes out of the pipeline as the
// engine (checked against llama2.c in engine/llama) gives it.
func TestReference(t *testing.T) {
	dir := t.TempDir()
	in := writeRequests(t, filepath.Join(dir, "in.parquet"), []reqRow{{ID: ptr("ref"), Prompt: ptr("Once upon a time"), MaxTokens: ptr[int64](60), Temperature: ptr(0.0)}})
	out := filepath.Join(dir, "out")
	rep, err := Run(context.Background(), config(in, out))
	if err != nil {
		t.Fatal(err)
	}
	r := readResults(t, out)["ref"]
	const want = ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily"
	if r.Text != want || r.PromptTokens != 5 || r.CompletionTokens != 60 || r.FinishReason != "length" || r.Model != "stories260K.gguf" {
		t.Errorf("result %+v\nwant text %q, 5 + 60 tokens, finish length", r, want)
	}
	if r.Seed != int64(einfer.RowSeed(0, "ref")) || r.TTFTMS == nil || *r.TTFTMS <= 0 || r.DurationMS < *r.TTFTMS {
		t.Errorf("seed %d (want %d), ttft %v, duration %v", r.Seed, einfer.RowSeed(0, "ref"), r.TTFTMS, r.DurationMS)
	}
	st := rep.Stats
	if st.TotalItems != 1 || st.PromptTokens != 5 || st.CompletionTokens != 60 || st.P50TTFT <= 0 || rep.Metrics.Counters["completion_tokens"] != 60 {
		t.Errorf("stats %+v, counters %v", st, rep.Metrics.Counters)
	}
}

// mixed is a set of requests of several lengths and sampling settings.
func mixed() []reqRow {
	prompts := []string{"Once upon a time", "The dog", "Lily and Ben went to the park. They", "A", "The sun was hot and the", "Tom had a red ball"}
	var rows []reqRow
	for i := range 14 {
		r := reqRow{ID: ptr(fmt.Sprintf("r%02d", i)), Prompt: ptr(prompts[i%len(prompts)]), MaxTokens: ptr(int64(8 + 7*(i%4)))}
		switch i % 3 {
		case 1:
			r.Temperature, r.TopP = ptr(0.8), ptr(0.9)
		case 2:
			r.Temperature, r.TopK, r.Seed = ptr(1.0), ptr[int64](20), ptr[int64](int64(1000+i))
		}
		if i == 5 {
			r.Stop = []string{"."}
		}
		rows = append(rows, r)
	}
	return rows
}

// TestDeterminism: results do not depend on batch size or adaptive sizing,
// and each equals the engine alone on the same request and seed.
func TestDeterminism(t *testing.T) {
	dir := t.TempDir()
	rows := mixed()
	in := writeRequests(t, filepath.Join(dir, "in.parquet"), rows)
	var first map[string]parquetio.InferResult
	for _, tc := range []struct {
		name     string
		batch    int
		adaptive bool
	}{{"batch 8", 8, false}, {"batch 1", 1, false}, {"batch 5", 5, false}, {"adaptive", 0, true}} {
		out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", ""))
		cfg := config(in, out)
		cfg.BatchSize, cfg.Adaptive = tc.batch, tc.adaptive
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := readResults(t, out)
		if len(got) != len(rows) || rep.Errors != 0 {
			t.Fatalf("%s: %d results, %d errors", tc.name, len(got), rep.Errors)
		}
		if first == nil {
			first = got
			continue
		}
		for id, r := range got {
			f := first[id]
			if r.Text != f.Text || r.CompletionTokens != f.CompletionTokens || r.Seed != f.Seed || r.FinishReason != f.FinishReason {
				t.Errorf("%s: %s = %q (%d tokens), batch 8 gave %q (%d)", tc.name, id, r.Text, r.CompletionTokens, f.Text, f.CompletionTokens)
			}
		}
	}
	// The engine alone, one request at a time.
	local, err := einfer.NewLocal(model, llama.Options{}, llama.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	d := einfer.Defaults{MaxTokens: 24}
	for _, row := range rows {
		spec := einfer.Spec{Prompt: row.Prompt, MaxTokens: row.MaxTokens, Temperature: row.Temperature, TopP: row.TopP, TopK: row.TopK, Seed: row.Seed, Stop: row.Stop}
		req, err := spec.Resolve(*row.ID, d, local.Context())
		if err != nil {
			t.Fatal(err)
		}
		alone := local.Infer(context.Background(), []batch.Item[einfer.Request]{{ID: *row.ID, Data: req}})[0]
		if p := first[*row.ID]; alone.Err != nil || alone.Data.Text != p.Text || int64(alone.Data.Seed) != p.Seed {
			t.Errorf("%s: pipeline %q (seed %d), engine alone %q (seed %d) %v", *row.ID, p.Text, p.Seed, alone.Data.Text, alone.Data.Seed, alone.Err)
		}
	}
}

// TestBadRows: each row-level problem becomes one error row naming the
// file, row, id and field; the good rows succeed; nothing is lost.
func TestBadRows(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("Once upon a time there was a dog. ", 400)
	cases := []struct {
		row          reqRow
		stage, field string
	}{
		{reqRow{Prompt: nil}, "validate", `field "prompt" is null`},
		{reqRow{Prompt: ptr("")}, "validate", `field "prompt": is empty`},
		{reqRow{Prompt: ptr(long)}, "tokenize", "does not fit the context"},
		{reqRow{Prompt: ptr("a"), MaxTokens: ptr[int64](0)}, "validate", `field "max_tokens": 0 is not positive`},
		{reqRow{Prompt: ptr("a"), MaxTokens: ptr[int64](100_000)}, "validate", `field "max_tokens": 100000 is more than the model's context`},
		{reqRow{Prompt: ptr("a"), Temperature: ptr(2.5)}, "validate", `field "temperature": 2.5 is out of range`},
		{reqRow{Prompt: ptr("a"), Temperature: ptr(-0.1)}, "validate", `field "temperature": -0.1 is out of range`},
		{reqRow{Prompt: ptr("a"), TopP: ptr(0.0)}, "validate", `field "top_p": 0 is out of range`},
		{reqRow{Prompt: ptr("a"), TopP: ptr(1.5)}, "validate", `field "top_p": 1.5 is out of range`},
		{reqRow{Prompt: ptr("a"), TopK: ptr[int64](-1)}, "validate", `field "top_k": -1 is negative`},
		{reqRow{Prompt: ptr("a"), Stop: []string{"x", ""}}, "validate", `field "stop": string 1 is empty`},
		{reqRow{Prompt: ptr("a"), Seed: ptr[int64](-5)}, "validate", `field "seed": -5 is negative`},
	}
	var rows []reqRow
	rows = append(rows, reqRow{ID: ptr("good0"), Prompt: ptr("The dog")})
	for i, c := range cases {
		c.row.ID = ptr(fmt.Sprint("bad", i))
		rows = append(rows, c.row)
	}
	rows = append(rows,
		reqRow{ID: ptr("good1"), Prompt: ptr("Once upon a time"), Temperature: ptr(0.5)},
		reqRow{ID: ptr("good0"), Prompt: ptr("duplicate")},
		reqRow{ID: nil, Prompt: ptr("no id")})
	in := writeRequests(t, filepath.Join(dir, "in.parquet"), rows)
	out := filepath.Join(dir, "out")
	cfg := config(in, out)
	cfg.BatchSize = 3
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, errs := readResults(t, out), readErrors(t, out)
	if len(res) != 2 || res["good0"].Text == "" || res["good1"].Text == "" {
		t.Errorf("results %v", res)
	}
	if rep.Results+rep.Errors != int64(len(rows)) || len(errs) != len(cases)+2 {
		t.Fatalf("%d results + %d errors for %d rows (%d error rows read)", rep.Results, rep.Errors, len(rows), len(errs))
	}
	for i, c := range cases {
		e, ok := errs[fmt.Sprint("bad", i, "@", i+1)]
		ref := fmt.Sprintf("input %q row %d (id %q)", in, i+1, fmt.Sprint("bad", i))
		if !ok || e.Stage != c.stage || !strings.Contains(e.Error, ref) || !strings.Contains(e.Error, c.field) {
			t.Errorf("bad%d: %+v; want stage %s, %q and %q", i, e, c.stage, ref, c.field)
			continue
		}
		// The error row keeps the input's fields.
		if !equalPtr(e.Prompt, c.row.Prompt) || !equalPtr(e.Temperature, c.row.Temperature) || !equalPtr(e.TopP, c.row.TopP) || !slices.Equal(e.Stop, c.row.Stop) {
			t.Errorf("bad%d: input fields not kept: %+v", i, e)
		}
	}
	n := len(rows)
	if e := errs[fmt.Sprint("good0@", n-2)]; e.Stage != "validate" || !strings.Contains(e.Error, `duplicate id "good0"`) {
		t.Errorf("duplicate: %+v", e)
	}
	if e := errs[fmt.Sprint("@", n-1)]; e.Stage != "validate" || !strings.Contains(e.Error, `field "id" is null`) {
		t.Errorf("null id: %+v", e)
	}
	c := rep.Metrics.Counters
	if c["requests"] != int64(n) || c["requests_succeeded"] != 2 || c["requests_failed"] != int64(n-2) || rep.Stats.Failed != int64(n-2) {
		t.Errorf("counters %v, stats %+v", c, rep.Stats)
	}
	if d := rep.Metrics.Distributions["infer_batch_size"]; d.Sum != 3 || d.Max > 3 {
		t.Errorf("batch sizes %+v: the 3 rows that reached the backend, in batches of at most 3", d)
	}
}

func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// TestJobLevelErrors: problems with the job fail it before any work, and
// before the output folder is created.
func TestJobLevelErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeRequests(t, filepath.Join(dir, "good.parquet"), []reqRow{{ID: ptr("a"), Prompt: ptr("hi")}})
	type noPrompt struct {
		ID   string `parquet:"id"`
		Text string `parquet:"text"`
	}
	type badType struct {
		ID          string `parquet:"id"`
		Prompt      string `parquet:"prompt"`
		Temperature string `parquet:"temperature"`
	}
	noPromptFile := filepath.Join(dir, "noprompt.parquet")
	if err := parquet.WriteFile(noPromptFile, []noPrompt{{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	badTypeFile := filepath.Join(dir, "badtype.parquet")
	if err := parquet.WriteFile(badTypeFile, []badType{{"a", "b", "hot"}}); err != nil {
		t.Fatal(err)
	}
	notModel := filepath.Join(dir, "model.gguf")
	os.WriteFile(notModel, []byte("this is not a model file at all"), 0o644)
	closed := func() string { // an address nothing listens on
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr
	}()
	previous := filepath.Join(dir, "previous")
	os.MkdirAll(previous, 0o755)
	os.WriteFile(filepath.Join(previous, "stats.json"), []byte("{}"), 0o644)
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"missing model", func(c *Config) { c.Backend.Model = filepath.Join(dir, "none.gguf") }, "no such file"},
		{"no model", func(c *Config) { c.Backend.Model = "" }, "no model"},
		{"unsupported model file", func(c *Config) { c.Backend.Model = notModel }, notModel},
		{"missing input", func(c *Config) { c.Inputs = []string{filepath.Join(dir, "none.parquet")} }, "none.parquet"},
		{"no prompt column", func(c *Config) { c.Inputs = []string{noPromptFile} }, `missing column "prompt"`},
		{"wrong column type", func(c *Config) { c.Inputs = []string{badTypeFile} }, `column "temperature"`},
		{"unreachable endpoint", func(c *Config) { c.Backend = transforms.BackendConfig{Kind: "openai", Endpoint: closed} }, closed},
		{"bad batch size", func(c *Config) { c.BatchSize = 101 }, "101"},
		{"bad temperature", func(c *Config) { c.Defaults.Temperature = 3 }, "temperature 3"},
		{"bad runner", func(c *Config) { c.Runner = "flink" }, `unknown runner "flink"`},
		{"universal without endpoint", func(c *Config) { c.Runner = "universal" }, "runner universal needs --job-endpoint"},
		{"bad environment type", func(c *Config) {
			c.Runner, c.RunnerOptions = "universal", runners.Options{JobEndpoint: "localhost:8099", EnvironmentType: "kubernetes"}
		}, `unknown environment type "kubernetes"`},
		{"dataflow without project", func(c *Config) {
			c.Runner, c.RunnerOptions = "dataflow", runners.Options{Region: "us-central1", StagingLocation: "gs://b/staging"}
		}, "runner dataflow needs --project"},
		{"previous run", func(c *Config) { c.Output = previous }, "previous run"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+strings.ReplaceAll(tc.name, " ", "-"))
			cfg := config(good, out)
			tc.edit(&cfg)
			_, err := Run(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want it to say %q", err, tc.want)
			}
			if _, statErr := os.Stat(out); tc.name != "previous run" && statErr == nil {
				t.Errorf("the output folder was created")
			}
		})
	}
	if _, err := os.Stat(filepath.Join(previous, "stats.json")); err != nil {
		t.Errorf("the previous run was touched: %v", err)
	}
}

// faults is middleware that fails the first attempts of each request as
// scripted by its prompt: "503" answers 503 Service Unavailable, "drop"
// closes the connection without answering.
type faults struct {
	next   http.Handler
	script map[string][]string // prompt → what its attempts get, in order
	mu     sync.Mutex
	seen   map[string]int
}

func (f *faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		f.next.ServeHTTP(w, r)
		return
	}
	body, _ := readBody(r)
	var req struct {
		Prompt string `json:"prompt"`
	}
	json.Unmarshal(body, &req)
	f.mu.Lock()
	n := f.seen[req.Prompt]
	f.seen[req.Prompt]++
	f.mu.Unlock()
	script := f.script[req.Prompt]
	if script == nil {
		script = f.script["*"]
	}
	action := "ok"
	if n < len(script) {
		action = script[n]
	} else if len(script) > 0 && script[len(script)-1] == "always503" {
		action = "503"
	}
	switch action {
	case "503", "always503":
		http.Error(w, `{"error":{"message":"overloaded","type":"server_error"}}`, http.StatusServiceUnavailable)
	case "drop":
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	default:
		r.Body = nopBody(body)
		f.next.ServeHTTP(w, r)
	}
}

// TestHTTPBackend: the job through an OpenAI-compatible server (our engine
// behind openai.NewHandler) that fails first attempts gives the local
// backend's results, counts the retries, and turns a request the server
// always refuses into an infer-stage error row.
func TestHTTPBackend(t *testing.T) {
	local, err := einfer.NewLocal(model, llama.Options{}, llama.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	f := &faults{next: openai.NewHandler(local), seen: map[string]int{},
		script: map[string][]string{"*": {"503", "drop"}, "Refused": {"always503"}}}
	srv := httptest.NewServer(f)
	defer srv.Close()

	dir := t.TempDir()
	var rows []reqRow
	for i, r := range mixed()[:8] {
		r.Prompt = ptr(fmt.Sprint(*r.Prompt, " ", i)) // the faults are scripted per prompt
		r.Stop = nil
		if i%2 == 0 {
			r.TopK = nil // top_k is sent to the server only when set
		}
		rows = append(rows, r)
	}
	in := writeRequests(t, filepath.Join(dir, "in.parquet"), append(slices.Clone(rows), reqRow{ID: ptr("refused"), Prompt: ptr("Refused")}))
	// The local backend's results.
	want := filepath.Join(dir, "local")
	if _, err := Run(context.Background(), config(in, want)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "http")
	cfg := config(in, out)
	cfg.Backend = transforms.BackendConfig{Kind: "openai", Endpoint: srv.URL, MaxAttempts: 3, TimeoutMS: 20_000}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, base := readResults(t, out), readResults(t, want)
	for _, r := range rows {
		g, w := got[*r.ID], base[*r.ID]
		if g.Text != w.Text || g.CompletionTokens != w.CompletionTokens || g.PromptTokens != w.PromptTokens || g.FinishReason != w.FinishReason || g.Seed != w.Seed {
			t.Errorf("%s over HTTP: %+v; local: %+v", *r.ID, g, w)
		}
	}
	errs := readErrors(t, out)
	e := errs[fmt.Sprint("refused@", len(rows))]
	if e.Stage != "infer" || !strings.Contains(e.Error, "giving up after 3 attempts") || !strings.Contains(e.Error, "overloaded") {
		t.Errorf("refused request: %+v", e)
	}
	// Each good request needed 2 retries; the refused one 2 before giving up.
	if c := rep.Metrics.Counters; c["requests_retried"] != int64(2*len(rows)+2) || c["requests_succeeded"] != int64(len(rows)) || c["requests_failed"] != 1 {
		t.Errorf("counters %v; want %d retried", c, 2*len(rows)+2)
	}
}

// TestOpenAIBatchFiles: an OpenAI batch input file runs unchanged: chat and
// completion lines get OpenAI response bodies, bad lines error lines.
func TestOpenAIBatchFiles(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "batch.jsonl")
	lines := []string{
		`{"custom_id":"chat-1","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"Tell me a story."}],"max_tokens":12,"temperature":0}}`,
		`{"custom_id":"cmpl-1","method":"POST","url":"/v1/completions","body":{"model":"m","prompt":"Once upon a time","max_tokens":60,"temperature":0}}`,
		`{"custom_id":"bad-url","method":"POST","url":"/v1/embeddings","body":{"input":"x"}}`,
		`this is not JSON`,
		`{"custom_id":"cmpl-1","method":"POST","url":"/v1/completions","body":{"prompt":"again"}}`,
		`{"custom_id":"hot","method":"POST","url":"/v1/completions","body":{"prompt":"x","temperature":7}}`,
	}
	os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	out := filepath.Join(dir, "out")
	rep, err := Run(context.Background(), Config{Inputs: []string{in}, Output: out, Runner: runner(), Backend: transforms.BackendConfig{Model: model}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Format != "jsonl" || rep.Results != 2 || rep.Errors != 4 {
		t.Fatalf("format %s, %d results, %d errors", rep.Format, rep.Results, rep.Errors)
	}
	read := func(prefix string) map[string]openaibatch.OutputLine {
		files, _ := filepath.Glob(filepath.Join(out, prefix+"-*.jsonl"))
		m := map[string]openaibatch.OutputLine{}
		for _, f := range files {
			data, _ := os.ReadFile(f)
			for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
				if l == "" {
					continue
				}
				var o openaibatch.OutputLine
				if err := json.Unmarshal([]byte(l), &o); err != nil {
					t.Fatalf("%s: %v", l, err)
				}
				id := "<null>"
				if o.CustomID != nil {
					id = *o.CustomID
				}
				m[id+fmt.Sprint(o.Error != nil)] = o
			}
		}
		return m
	}
	res, errs := read("results"), read("errors")
	cmpl := res["cmpl-1false"]
	if cmpl.Response == nil || cmpl.Response.Body.Object != "text_completion" || cmpl.Response.Body.Choices[0].Text == nil ||
		!strings.HasPrefix(*cmpl.Response.Body.Choices[0].Text, ", there was a little girl named Lily.") || cmpl.Response.Body.Usage.CompletionTokens != 60 {
		t.Errorf("completion line %+v", cmpl)
	}
	if chat := res["chat-1false"]; chat.Response == nil || chat.Response.Body.Object != "chat.completion" || chat.Response.Body.Choices[0].Message == nil {
		t.Errorf("chat line %+v", chat)
	}
	var keys []string
	for k, e := range errs {
		keys = append(keys, k)
		if e.Response != nil || e.Error == nil || e.Error.Message == "" {
			t.Errorf("error line %s: %+v", k, e)
		}
	}
	sort.Strings(keys)
	if want := []string{"<null>true", "bad-urltrue", "cmpl-1true", "hottrue"}; !slices.Equal(keys, want) {
		t.Errorf("error lines %v, want %v", keys, want)
	}
	if e := errs["hottrue"].Error; e == nil || !strings.Contains(e.Message, `line 6`) || !strings.Contains(e.Message, "temperature") {
		t.Errorf("bad temperature line: %+v", e)
	}
}

// TestOutputsOpenInDuckDB: the results and errors files have the documented
// column types in DuckDB, and absent input fields read as NULL.
func TestOutputsOpenInDuckDB(t *testing.T) {
	xcheck.Require(t)
	dir := t.TempDir()
	in := writeRequests(t, filepath.Join(dir, "in.parquet"), []reqRow{
		{ID: ptr("a"), Prompt: ptr("The dog"), MaxTokens: ptr[int64](5), Temperature: ptr(0.0)},
		{ID: ptr("b"), Prompt: ptr("x"), TopP: ptr(2.0), Stop: []string{"!", "?"}},
	})
	out := filepath.Join(dir, "out")
	if _, err := Run(context.Background(), config(in, out)); err != nil {
		t.Fatal(err)
	}
	tab, err := xcheck.DuckDB(context.Background(), fmt.Sprintf("SELECT * FROM '%s/results-*.parquet'", out))
	if err != nil {
		t.Fatal(err)
	}
	want := []xcheck.Column{{Name: "id", Type: "VARCHAR"}, {Name: "text", Type: "VARCHAR"}, {Name: "prompt_tokens", Type: "INTEGER"},
		{Name: "completion_tokens", Type: "INTEGER"}, {Name: "finish_reason", Type: "VARCHAR"}, {Name: "ttft_ms", Type: "DOUBLE"},
		{Name: "duration_ms", Type: "DOUBLE"}, {Name: "model", Type: "VARCHAR"}, {Name: "seed", Type: "BIGINT"}}
	if !slices.Equal(tab.Columns, want) || len(tab.Rows) != 1 || tab.Rows[0][0] != "a" || tab.Rows[0][3] != 5.0 {
		t.Errorf("results %v %v", tab.Columns, tab.Rows)
	}
	tab, err = xcheck.DuckDB(context.Background(), fmt.Sprintf("SELECT id, stage, prompt, max_tokens, temperature, top_p, stop, typeof(stop) FROM '%s/errors-*.parquet'", out))
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Rows) != 1 {
		t.Fatalf("errors %v", tab.Rows)
	}
	r := tab.Rows[0]
	if r[0] != "b" || r[1] != "validate" || r[2] != "x" || r[3] != nil || r[4] != nil || r[5] != 2.0 || fmt.Sprint(r[6]) != "[! ?]" || r[7] != "VARCHAR[]" {
		t.Errorf("error row %v (columns %v)", r, tab.Columns)
	}
}

// TestEmptyAndAllErrors: an input with no rows, and one where every row
// fails, still write valid results and errors files and stats.
func TestEmptyAndAllErrors(t *testing.T) {
	dir := t.TempDir()
	empty := writeRequests(t, filepath.Join(dir, "empty.parquet"), []reqRow{})
	allBad := writeRequests(t, filepath.Join(dir, "bad.parquet"), []reqRow{{ID: ptr("x")}, {ID: ptr("y"), Prompt: ptr("a"), TopK: ptr[int64](-2)}})
	for _, tc := range []struct {
		in      string
		errs    int64
		timeout time.Duration
	}{{empty, 0, 0}, {allBad, 2, 0}} {
		out := filepath.Join(dir, "out-"+filepath.Base(tc.in))
		rep, err := Run(context.Background(), config(tc.in, out))
		if err != nil {
			t.Fatal(err)
		}
		if rep.Results != 0 || rep.Errors != tc.errs || rep.Stats.Failed != tc.errs {
			t.Errorf("%s: %d results, %d errors, stats %+v", tc.in, rep.Results, rep.Errors, rep.Stats)
		}
		for _, pat := range []string{"results-*.parquet", "errors-*.parquet", "stats.json"} {
			if m, _ := filepath.Glob(filepath.Join(out, pat)); len(m) == 0 {
				t.Errorf("%s: no %s", tc.in, pat)
			}
		}
		if _, err := parquetio.ReadAll[parquetio.InferError](filepath.Join(out, "errors-empty.parquet")); tc.errs == 0 && err != nil {
			t.Errorf("empty errors file: %v", err)
		}
	}
}

func readBody(r *http.Request) ([]byte, error) {
	defer r.Body.Close()
	var b strings.Builder
	_, err := io.Copy(&b, r.Body)
	return []byte(b.String()), err
}

func nopBody(b []byte) io.ReadCloser { return io.NopCloser(strings.NewReader(string(b))) }
