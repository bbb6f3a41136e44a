package batch

import (
	"errors"
	"testing"
)

func TestLimitsValidate(t *testing.T) {
	tests := []struct {
		name    string
		limits  Limits
		kind    string
		n       int
		wantErr string
	}{
		{"tokenizer zero", TokenizerLimits, "tokenizer", 0, "tokenizer batch size 0 is out of range: it must be between 1 and 1000"},
		{"tokenizer negative", TokenizerLimits, "tokenizer", -1, "tokenizer batch size -1 is out of range: it must be between 1 and 1000"},
		{"tokenizer too big", TokenizerLimits, "tokenizer", 1001, "tokenizer batch size 1001 is out of range: it must be between 1 and 1000"},
		{"tokenizer min", TokenizerLimits, "tokenizer", 1, ""},
		{"tokenizer max", TokenizerLimits, "tokenizer", 1000, ""},
		{"tokenizer optimal", TokenizerLimits, "tokenizer", 32, ""},
		{"inference too big", InferenceLimits, "inference", 101, "inference batch size 101 is out of range: it must be between 1 and 100"},
		{"inference max", InferenceLimits, "inference", 100, ""},
		{"inference zero", InferenceLimits, "inference", 0, "inference batch size 0 is out of range: it must be between 1 and 100"},
		{"no name", InferenceLimits, "", 0, "batch size 0 is out of range: it must be between 1 and 100"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.limits.Validate(tc.kind, tc.n)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate(%q, %d) = %v, want nil", tc.kind, tc.n, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate(%q, %d) = nil, want %q", tc.kind, tc.n, tc.wantErr)
			}
			if err.Error() != tc.wantErr {
				t.Errorf("Validate(%q, %d) = %q, want %q", tc.kind, tc.n, err, tc.wantErr)
			}
			var se *SizeError
			if !errors.As(err, &se) || se.Size != tc.n || se.Max != tc.limits.Max || se.Name != tc.kind {
				t.Errorf("error %#v is not a matching *SizeError", err)
			}
		})
	}
}

func TestLimitsResolve(t *testing.T) {
	tests := []struct {
		name    string
		limits  Limits
		n       int
		want    int
		wantErr bool
	}{
		{"tokenizer default", TokenizerLimits, 0, 32, false},
		{"inference default", InferenceLimits, 0, 8, false},
		{"explicit", TokenizerLimits, 64, 64, false},
		{"explicit max", InferenceLimits, 100, 100, false},
		{"negative", TokenizerLimits, -5, 0, true},
		{"too big", InferenceLimits, 101, 0, true},
		{"zero limits never resolve", Limits{}, 0, 0, true},
		{"optimal above max", Limits{Optimal: 10, Max: 5}, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.limits.Resolve("test", tc.n)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("Resolve(%d) = (%d, %v), want (%d, error=%v)", tc.n, got, err, tc.want, tc.wantErr)
			}
		})
	}
}
