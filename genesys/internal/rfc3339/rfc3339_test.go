package rfc3339

import (
	"testing"
	"time"
)

func TestParseRFC3339(t *testing.T) {
	tests := []struct {
		in   string
		fast bool // read by hand
		ok   bool
	}{
		{"2026-11-27T09:00:00.120Z", true, true},
		{"2026-11-27T09:00:00Z", true, true},
		{"2026-11-27T09:00:00.123456789Z", true, true},
		{"2024-02-29T23:59:59.5Z", true, true},
		{"2026-11-27T09:00:00.120+01:00", false, true},
		{"2026-11-27T09:00:00.1234567891Z", false, true}, // time.Parse truncates a tenth digit
		{"2025-02-29T00:00:00Z", false, false},
		{"2026-04-31T00:00:00Z", false, false},
		{"2026-11-27T24:00:00Z", false, false},
		{"2026-11-27T09:00:60Z", false, false},
		{"2026-11-27T09:00:00.Z", false, false},
		{"2026-11-27 09:00:00Z", false, false},
		{"2026-11-27T09:00:00", false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		_, fast := parseUTC(tt.in)
		got, err := Parse(tt.in)
		want, wantErr := time.Parse(time.RFC3339Nano, tt.in)
		if fast != tt.fast || (err == nil) != tt.ok || (wantErr == nil) != tt.ok || got != want {
			t.Errorf("%q: by hand %v, got %v (%v), time.Parse %v (%v)", tt.in, fast, got, err, want, wantErr)
		}
	}
}

// FuzzParseRFC3339: whatever is read by hand, time.Parse reads as the very
// same time.
func FuzzParseRFC3339(f *testing.F) {
	for _, s := range []string{"2026-11-27T09:00:00.120Z", "2000-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "0000-01-01T00:00:00.000000001Z", "9999-12-31T23:59:59.999999999Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseUTC(s)
		if !ok {
			return
		}
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || got != want {
			t.Fatalf("%q: by hand %v, time.Parse %v (%v)", s, got, want, err)
		}
	})
}
