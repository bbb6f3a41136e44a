package tokenizer

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"testing"
)

// spGoldenRow is one line of a golden file: a window of a corpus file and
// the ids llama2.c gives it.
type spGoldenRow struct {
	File string  `json:"file"`
	Off  int     `json:"off"`
	Len  int     `json:"len"`
	IDs  []int32 `json:"ids"`
}

func spReadGolden(t *testing.T, path string) []spGoldenRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var rows []spGoldenRow
	dec := json.NewDecoder(zr)
	for dec.More() {
		var row spGoldenRow
		if err := dec.Decode(&row); err != nil {
			t.Fatalf("%s: row %d: %v", path, len(rows), err)
		}
		rows = append(rows, row)
	}
	return rows
}
