package genesys

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// wrapupEndReference is wrapupEnd as it was, with encoding/json.
func wrapupEndReference(raw json.RawMessage) (time.Time, error) {
	if !hasObject(raw) {
		return time.Time{}, nil
	}
	var w struct {
		EndTime string `json:"endTime"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return time.Time{}, err
	}
	return parseTime(w.EndTime)
}

func TestWrapupEnd(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 0, 5, 0, time.UTC)
	for _, tc := range []struct {
		raw  string
		want time.Time
		err  string
	}{
		{``, time.Time{}, ""},
		{`null`, time.Time{}, ""},
		{`{}`, time.Time{}, ""},
		{`{"code":"c1","notes":"n","tags":["a"],"durationSeconds":12,"endTime":"2026-11-27T09:00:05.000Z"}`, at, ""},
		{` { "endTime" : null } `, time.Time{}, ""},
		{`{"endTime":"2026-11-27T09:00:05Z","endTime":"2026-11-27T09:00:06Z"}`, at.Add(time.Second), ""}, // the last wins
		{`{"endTime":5}`, time.Time{}, "want a string"},
		{`{"endTime":"yesterday"}`, time.Time{}, "yesterday"},
		{`{"endTime":"2026-11-27T09:00:05Z"`, time.Time{}, "invalid JSON"},
		{`{"endTime":"2026-11-27T09:00:05Z"} x`, time.Time{}, "invalid JSON"},
	} {
		got, err := wrapupEnd(json.RawMessage(tc.raw))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.raw, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one saying %q", tc.raw, err, tc.err)
		case !got.time().Equal(tc.want):
			t.Errorf("%s: %v, want %v", tc.raw, got, tc.want)
		}
	}
}

// The hand reader agrees with encoding/json wherever the member names are
// exact (encoding/json also matches them ignoring case; the frame's
// reader never does) and the text is UTF-8 (the frame's reader rejects
// anything else before a wrap-up object is read).
func FuzzWrapupEnd(f *testing.F) {
	for _, s := range []string{`{}`, `{"endTime":"2026-11-27T09:00:05.000Z","code":"x"}`, `{"endTime":null}`, `{"a":[1,{"b":"c"}],"endTime":"2026-11-27T09:00:05Z"}`, `{"endTime":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !utf8.Valid(raw) || !plainMembers(raw) || strings.Contains(strings.ToLower(string(raw)), "endtime") && !strings.Contains(string(raw), "endTime") {
			return
		}
		got, err := wrapupEnd(raw)
		want, wantErr := wrapupEndReference(raw)
		if (err == nil) != (wantErr == nil) || !got.time().Equal(want) {
			t.Fatalf("%q: %v, %v; encoding/json: %v, %v", raw, got, err, want, wantErr)
		}
	})
}
