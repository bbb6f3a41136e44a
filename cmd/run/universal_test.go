package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core"
	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/util/grpcx"
	"github.com/parquet-go/parquet-go"

	"github.com/minerva-batch/minerva/io/parquetio"
	"github.com/minerva-batch/minerva/pipelines/runners"
	"github.com/minerva-batch/minerva/pipelines/tokenize"
)

// prismBinary builds Beam's prism job server once per Beam version into
// os.TempDir() and returns its path.
func prismBinary(t *testing.T, goBin string) string {
	t.Helper()
	bin := filepath.Join(os.TempDir(), "minerva-prism-"+core.SdkVersion)
	if st, err := os.Stat(bin); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
		return bin
	}
	start := time.Now()
	tmp := fmt.Sprintf("%s.%d.tmp", bin, os.Getpid())
	cmd := exec.Command(goBin, "build", "-o", tmp, "github.com/apache/beam/sdks/v2/go/cmd/prism")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		t.Fatalf("building Beam's prism job server: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		t.Fatal(err)
	}
	t.Logf("built Beam's prism job server %s in %s", bin, time.Since(start).Round(time.Millisecond))
	return bin
}

// startPrism starts a prism job server as a separate process on a free port
// and returns its HOST:PORT once it accepts connections; it is killed when
// the test ends.
func startPrism(t *testing.T, bin string) string {
	t.Helper()
	l, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--job_port="+strconv.Itoa(port), "--serve_http=false", "--idle_shutdown_timeout=5m", "--log_level=warn")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("prism job server's log:\n%s", logs.String())
		}
	})
	endpoint := net.JoinHostPort("localhost", strconv.Itoa(port))
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", endpoint, time.Second)
		if err == nil {
			c.Close()
			return endpoint
		}
		select {
		case err := <-exited:
			t.Fatalf("prism job server exited: %v\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("prism job server does not accept connections on %s: %v\n%s", endpoint, err, logs.String())
		}
	}
}

// TestUniversalRunner submits the tokenize and the infer jobs to Beam's
// prism as a separate job server with the universal runner and LOOPBACK
// workers — the path of Flink's and Spark's job servers — and checks that
// they write what the embedded prism writes and that Beam's metrics come
// back from the job server.
func TestUniversalRunner(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH: cannot build Beam's prism job server for the universal runner test")
	}
	start := time.Now()
	endpoint := startPrism(t, prismBinary(t, goBin))
	t.Logf("prism job server on %s after %s", endpoint, time.Since(start).Round(time.Millisecond))
	dir := t.TempDir()
	remote := runners.Options{JobEndpoint: endpoint, EnvironmentType: "LOOPBACK"}

	t.Run("tokenize", func(t *testing.T) {
		in := filepath.Join(dir, "text.parquet")
		texts := []string{"Hello world", "naïve café", "", "a <|endoftext|> b", "Beam on a job server"}
		var rows []row
		for i, s := range texts {
			rows = append(rows, row{fmt.Sprint("id", i), s})
		}
		rows = append(rows, row{"id0", "a duplicate id"})
		if err := parquet.WriteFile(in, rows); err != nil {
			t.Fatal(err)
		}
		run := func(name string, o runners.Options) (*tokenize.Report, map[string]string) {
			t.Helper()
			out := filepath.Join(dir, "tok-"+name)
			cfg := tokenize.Config{Inputs: []string{in}, Output: out, Encoding: "cl100k_base", Runner: name, RunnerOptions: o, BatchSize: 2}
			cfg.Columns.Text = "body"
			rep, err := tokenize.Run(context.Background(), cfg)
			if err != nil {
				t.Fatalf("runner %s: %v", name, err)
			}
			got := map[string]string{}
			for _, f := range globAll(t, filepath.Join(out, "results-*.parquet")) {
				res, err := parquetio.ReadAll[parquetio.TokenResult](f)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range res {
					got[r.ID] = fmt.Sprint(r.Tokens)
				}
			}
			for _, f := range globAll(t, filepath.Join(out, "errors-*.parquet")) {
				res, err := parquetio.ReadAll[parquetio.TokenizeError](f)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range res {
					got[fmt.Sprintf("error %s row %d", r.ID, r.Row)] = r.Stage
				}
			}
			return rep, got
		}
		local, want := run(runners.Prism, runners.Options{})
		rep, got := run(runners.Universal, remote)
		if rep.Rows != int64(len(rows)) || rep.Results+rep.Errors != rep.Rows || rep.Results != local.Results || rep.Errors != local.Errors || rep.Errors == 0 {
			t.Errorf("universal: %d rows, %d results, %d errors; embedded prism: %d results, %d errors", rep.Rows, rep.Results, rep.Errors, local.Results, local.Errors)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("universal runner wrote\n%v\nembedded prism\n%v", got, want)
		}
		if rep.Stats.TotalItems != local.Stats.TotalItems || rep.Stats.Succeeded != local.Stats.Succeeded {
			t.Errorf("stats.json: universal %+v, embedded prism %+v", rep.Stats, local.Stats)
		}
		for _, k := range []string{"rows", "rows_succeeded", "rows_failed", "tokens"} {
			if rep.Counters[k] != local.Counters[k] {
				t.Errorf("counter %s: universal %d, embedded prism %d", k, rep.Counters[k], local.Counters[k])
			}
		}
		if rep.Counters["rows"] == 0 || rep.Counters["tokens"] == 0 {
			t.Errorf("no Beam counters came back from the job server: %v", rep.Counters)
		}
	})

	t.Run("infer", func(t *testing.T) {
		in := filepath.Join(dir, "requests.parquet")
		type req struct {
			ID     string  `parquet:"id"`
			Prompt *string `parquet:"prompt,optional"`
		}
		prompts := []string{"Once upon a time", "The cat", "Lily and Ben", "One day"}
		var reqs []req
		for i, p := range prompts {
			reqs = append(reqs, req{fmt.Sprint("req-", i), &p})
		}
		reqs = append(reqs, req{"req-nil", nil}, req{"req-0", &prompts[1]}) // no prompt; a duplicate id
		if err := parquet.WriteFile(in, reqs); err != nil {
			t.Fatal(err)
		}
		run := func(name string, extra ...string) (summary string, texts map[string]string) {
			t.Helper()
			out := filepath.Join(dir, "infer-"+name)
			args := append([]string{"infer", "--input", in, "--output", out, "--model", "../../../shared/models/stories260K/stories260K.gguf",
				"--max-tokens", "12", "--batch-size", "2", "--runner", name}, extra...)
			code, stdout, stderr := runCLI(args...)
			if code != 0 {
				t.Fatalf("runner %s: exit %d: %s", name, code, stderr)
			}
			texts = map[string]string{}
			for _, f := range globAll(t, filepath.Join(out, "results-*.parquet")) {
				res, err := parquetio.ReadAll[parquetio.InferResult](f)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range res {
					texts[r.ID] = r.Text
				}
			}
			for _, f := range globAll(t, filepath.Join(out, "errors-*.parquet")) {
				res, err := parquetio.ReadAll[parquetio.InferError](f)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range res {
					texts[fmt.Sprintf("error %s row %d", r.ID, r.Row)] = r.Stage
				}
			}
			return stdout, texts
		}
		localSum, want := run(runners.Prism)
		sum, got := run(runners.Universal, "--job-endpoint", endpoint, "--environment-type", "LOOPBACK")
		if len(got) != len(reqs) || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("universal runner wrote\n%v\nembedded prism\n%v", got, want)
		}
		counts := regexp.MustCompile(`\((\d+) results, (\d+) errors\) on runner (\w+)`)
		m := counts.FindStringSubmatch(sum)
		if m == nil || m[3] != runners.Universal {
			t.Fatalf("summary:\n%s", sum)
		}
		results, _ := strconv.Atoi(m[1])
		errs, _ := strconv.Atoi(m[2])
		if results+errs != len(reqs) || errs != 2 {
			t.Errorf("universal: %d results + %d errors for %d requests", results, errs, len(reqs))
		}
		// Beam's counters, as the job server reports them, in the summary.
		metrics := regexp.MustCompile(`(?m)^metrics: .*$`)
		if a, b := metrics.FindString(sum), metrics.FindString(localSum); a == "" || a != b || !strings.Contains(a, fmt.Sprintf("succeeded %d,", results)) {
			t.Errorf("metrics: universal %q, embedded prism %q", a, b)
		}
	})

	// Both jobs ran on the separate job server, not on the embedded one.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cc, err := grpcx.DefaultDial(ctx, endpoint, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	jobs, err := jobpb.NewJobServiceClient(cc).GetJobs(ctx, &jobpb.GetJobsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	done := 0
	for _, j := range jobs.GetJobInfo() {
		if j.GetState() == jobpb.JobState_DONE {
			done++
		}
	}
	if done != 2 {
		t.Errorf("the job server ran %d jobs to completion, want 2 (tokenize, infer): %v", done, jobs.GetJobInfo())
	}
}

func globAll(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil || len(m) == 0 {
		t.Fatalf("%s matches nothing (%v)", pattern, err)
	}
	slices.Sort(m)
	return m
}
