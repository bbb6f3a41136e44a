package openaibatch

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/minerva-batch/minerva/engine/infer"
)

func FuzzReadRequests(f *testing.F) {
	for _, tc := range lineCases {
		f.Add([]byte(tc.line))
		f.Add([]byte(complLine(`{"prompt":"p"}`) + "\r\n\n" + tc.line + "\n"))
	}
	f.Add([]byte("\xef\xbb\xbf" + complLine(`{"prompt":"p"}`)))
	f.Add([]byte("PAR1\x00\x00"))
	f.Add([]byte("\n \n"))
	path := filepath.Join(f.TempDir(), "in.jsonl")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		rows, ierr := Inspect(path)
		var lines []Line
		rerr := ReadRequests(context.Background(), path, func(l Line) error {
			lines = append(lines, l)
			return nil
		})
		if (ierr == nil) != (rerr == nil) {
			t.Fatalf("Inspect: %v; ReadRequests: %v", ierr, rerr)
		}
		if rerr != nil {
			if len(lines) != 0 {
				t.Fatalf("rows before a job error: %d", len(lines))
			}
			return
		}
		if int64(len(lines)) != rows {
			t.Fatalf("Inspect counted %d rows, ReadRequests gave %d", rows, len(lines))
		}
		if n, err := CountLines(path); err != nil || n != rows {
			t.Fatalf("CountLines = %d, %v; want %d", n, err, rows)
		}
		i := 0
		err := ReadIDs(context.Background(), path, func(n int64, id string, null bool) error {
			l := lines[i]
			if n != l.Line || id != l.CustomID || null != l.IDNull {
				t.Fatalf("ReadIDs row %d: %d %q %v; ReadRequests %d %q %v", i, n, id, null, l.Line, l.CustomID, l.IDNull)
			}
			i++
			return nil
		})
		if err != nil || i != len(lines) {
			t.Fatalf("ReadIDs: %v after %d rows", err, i)
		}
		var last int64
		for _, l := range lines {
			if l.Line <= last {
				t.Fatalf("line numbers not increasing: %d after %d", l.Line, last)
			}
			last = l.Line
			if l.IDNull && l.CustomID != "" {
				t.Fatalf("null id with CustomID %q", l.CustomID)
			}
			if l.Err != "" {
				if !reflect.DeepEqual(l.Spec, infer.Spec{}) {
					t.Fatalf("error %q with a Spec", l.Err)
				}
				out, err := json.Marshal(FailureLine(Failure{CustomID: l.CustomID, IDNull: l.IDNull, File: l.File, Line: l.Line, Code: "read", Message: l.Err}))
				if err != nil || !json.Valid(out) {
					t.Fatalf("failure line: %v", err)
				}
				continue
			}
			if (l.Spec.Prompt == nil) == (l.Spec.Messages == nil) {
				t.Fatalf("a row both or neither chat and completion: %+v", l.Spec)
			}
			if (l.Spec.Messages != nil) != (l.URL == ChatCompletionsURL) {
				t.Fatalf("url %q with spec %+v", l.URL, l.Spec)
			}
			for _, m := range l.Spec.Messages {
				if m.Role != "system" && m.Role != "user" && m.Role != "assistant" {
					t.Fatalf("role %q", m.Role)
				}
			}
			if _, err := ResultLine(Result{CustomID: l.CustomID, URL: l.URL, Model: l.Model}); err != nil {
				t.Fatal(err)
			}
		}
	})
}
