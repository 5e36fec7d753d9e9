package bridge

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// decoded reads a payload by its documented field names, independently of
// Transition's encoder (the e2e test has its own copy on purpose: each
// checks the wire format, not the code that writes it).
type decoded struct {
	ID            string   `json:"id"`
	InteractionID string   `json:"interactionId"`
	ChannelType   string   `json:"channelType"`
	FromStatus    *string  `json:"fromStatus"`
	ToStatus      string   `json:"toStatus"`
	OccurredAt    string   `json:"occurredAt"`
	ObservedAt    string   `json:"observedAt"`
	Reconstructed bool     `json:"reconstructed"`
	Backfilled    bool     `json:"backfilled"`
	Incomplete    bool     `json:"incomplete"`
	Detail        []string `json:"detail"`
}

func TestAppendJSON(t *testing.T) {
	tr := Transition{ID: "abc", InteractionID: "id\"with\\quotes\n\u2028", ChannelType: ChannelChat,
		ToStatus: StatusQueued, OccurredAt: at(1).Add(123 * time.Millisecond), ObservedAt: at(2),
		Reconstructed: true, Incomplete: true, Detail: []string{"customer:connected", "acd:connected"}}
	var d decoded
	if err := json.Unmarshal(tr.AppendJSON(nil), &d); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, tr.AppendJSON(nil))
	}
	if d.FromStatus != nil {
		t.Errorf("fromStatus = %q, want null", *d.FromStatus)
	}
	if d.InteractionID != tr.InteractionID || d.ToStatus != "queued" || d.ChannelType != "chat" || !d.Reconstructed || d.Backfilled || !d.Incomplete {
		t.Errorf("decoded %+v", d)
	}
	if d.OccurredAt != "2026-11-27T09:00:01.123Z" || len(d.Detail) != 2 {
		t.Errorf("occurredAt %q detail %v", d.OccurredAt, d.Detail)
	}
	tr.FromStatus = StatusIVR
	if err := json.Unmarshal(tr.AppendJSON(nil), &d); err != nil || d.FromStatus == nil || *d.FromStatus != "ivr" {
		t.Errorf("fromStatus not encoded: %v", err)
	}
}

func FuzzAppendJSON(f *testing.F) {
	for _, s := range []string{"", "a", "\"", "\\", "\x00", "\xff\xfe", "\u2028\u2029", "ü→😀", "</script>"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, id, detail string) {
		tr := Transition{ID: "x", InteractionID: id, ChannelType: ChannelVoice, ToStatus: StatusHeld, Detail: []string{detail}}
		b := tr.AppendJSON(nil)
		var d decoded
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("invalid JSON for %q: %v\n%s", id, err, b)
		}
		if want := strings.ToValidUTF8(id, "\uFFFD"); utf8.ValidString(id) && d.InteractionID != want {
			t.Fatalf("round trip %q -> %q", id, d.InteractionID)
		}
		if strings.ContainsAny(string(b), "\u2028\u2029") {
			t.Fatal("raw U+2028/U+2029 in output")
		}
	})
}

func TestTransitionIDDistinguishes(t *testing.T) {
	base := TransitionID("c1", 5, StatusConnected, StatusHeld)
	for name, other := range map[string]string{
		"interaction": TransitionID("c2", 5, StatusConnected, StatusHeld),
		"from":        TransitionID("c1", 5, StatusQueued, StatusHeld),
		"to":          TransitionID("c1", 5, StatusConnected, StatusWrapup),
		"position":    TransitionID("c1", 6, StatusConnected, StatusHeld),
		"null from":   TransitionID("c1", 5, "", StatusHeld),
	} {
		if other == base {
			t.Errorf("ids equal although the %s differs", name)
		}
	}
	if TransitionID("c1", 5, StatusConnected, StatusHeld) != base || len(base) != 32 {
		t.Errorf("id not deterministic or not 32 hex digits: %s", base)
	}
}

func TestEventValidate(t *testing.T) {
	good := func() Event {
		return Event{InteractionID: "c1", ChannelType: ChannelVoice, Status: StatusQueued, ObservedAt: at(1),
			Steps: []Step{{Status: StatusIVR, At: at(0)}, {Status: StatusQueued, At: at(1)}}}
	}
	tests := []struct {
		name   string
		mutate func(*Event)
		want   string
	}{
		{"valid", func(*Event) {}, ""},
		{"empty id", func(e *Event) { e.InteractionID = "" }, "empty interaction id"},
		{"long id", func(e *Event) { e.InteractionID = strings.Repeat("a", 129) }, "more than 128"},
		{"control in id", func(e *Event) { e.InteractionID = "a\nb" }, "control or space"},
		{"bad utf8 id", func(e *Event) { e.InteractionID = "\xff" }, "UTF-8"},
		{"channel", func(e *Event) { e.ChannelType = "fax" }, "unknown channel type"},
		{"status", func(e *Event) { e.Status = "queued.>" }, "unknown status"},
		{"step status", func(e *Event) { e.Steps[0].Status = "x" }, "step 0"},
		{"step time", func(e *Event) { e.Steps[1].At = time.Time{} }, "no time"},
		{"step order", func(e *Event) { e.Steps[0].At = at(9) }, "out of time order"},
		{"observed", func(e *Event) { e.ObservedAt = time.Time{} }, "no observation time"},
		{"step in year 9999", func(e *Event) { e.Steps[1].At = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC) }, "step 1: time 9999-01-01T00:00:00Z out of range"},
		{"step before 1970", func(e *Event) { e.Steps[0].At = time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC) }, "step 0: time 1969"},
		{"horizon in year 3000", func(e *Event) { e.Horizon = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }, "out of range"},
		{"status time in year 1", func(e *Event) { e.StatusAt = time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC) }, "out of range"},
		{"queue id with a space", func(e *Event) { e.Who.QueueID = "a b" }, "queue or user id"},
		{"user id too long", func(e *Event) { e.Who.UserID = strings.Repeat("u", 129) }, "queue or user id"},
		{"step user id", func(e *Event) { e.Steps[1].Who.UserID = "\xff" }, "step 1: queue or user id"},
		{"step user id after a valid one", func(e *Event) { e.Steps[0].Who.UserID = "u1"; e.Steps[1].Who.UserID = "u 2" }, "step 1: queue or user id"},
		{"queue and user ids", func(e *Event) { e.Who = Who{QueueID: "q1", UserID: "u1"} }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := good()
			tt.mutate(&ev)
			err := ev.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var rej *RejectError
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want %q", err, tt.want)
			}
			if !asReject(err, &rej) || rej.Reason != ReasonSchema {
				t.Fatalf("error %T is not a schema RejectError", err)
			}
			// A source's validation carries its input, for the dead letter.
			withInput := good()
			tt.mutate(&withInput)
			input := []byte(`{"frame":1}`)
			if !asReject(withInput.ValidateInput(input), &rej) || string(rej.Input) != string(input) || rej.Excerpt != string(input) ||
				!strings.Contains(rej.Msg, tt.want) {
				t.Fatalf("ValidateInput: %+v, want the same rejection carrying the input", rej)
			}
		})
	}
}

func asReject(err error, dst **RejectError) bool {
	r, ok := err.(*RejectError)
	*dst = r
	return ok
}

func TestFilter(t *testing.T) {
	var all Filter
	if !all.Match(ChannelVoice, StatusHeld) {
		t.Error("empty filter must match everything")
	}
	f := Filter{ChannelTypes: []ChannelType{ChannelChat}, Statuses: []Status{StatusQueued}}
	if !f.Match(ChannelChat, StatusQueued) || f.Match(ChannelVoice, StatusQueued) || f.Match(ChannelChat, StatusHeld) {
		t.Error("filter mismatch")
	}
}

func TestAppendRFC3339Nano(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 11, 27, 9, 0, 5, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 120_000_000, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2026, 6, 1, 0, 0, 0, 1, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 500, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		if got, want := string(appendRFC3339Nano(nil, tm)), tm.Format(time.RFC3339Nano); got != want {
			t.Errorf("%s, want %s", got, want)
		}
	}
}

func FuzzAppendRFC3339Nano(f *testing.F) {
	f.Add(int64(1795915106), uint32(882000000))
	f.Add(int64(0), uint32(0))
	f.Add(int64(-62135596800), uint32(1))
	f.Add(int64(253402300799), uint32(999999999))
	f.Fuzz(func(t *testing.T, sec int64, nsec uint32) {
		tm := time.Unix(sec, int64(nsec%1e9)).UTC()
		if got, want := string(appendRFC3339Nano(nil, tm)), tm.Format(time.RFC3339Nano); got != want {
			t.Fatalf("%d.%09d: %s, want %s", sec, nsec%1e9, got, want)
		}
	})
}

// appendString against encoding/json reading it back: every string,
// whatever its bytes, comes back as itself with each invalid byte U+FFFD,
// and the output has no raw control character or U+2028/U+2029.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain ascii text, long enough", "01234567\"89abcdef", "abcdefg\\", "abcdefgh\x1f", "abcdefg\xffh", "ü→😀 and more words", "\u2028abcdefgh\u2029"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendString([]byte("x"), s)[1:]
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("invalid JSON for %q: %v\n%s", s, err, b)
		}
		if want := string([]rune(s)); got != want {
			t.Fatalf("%q came back as %q, want %q", s, got, want)
		}
		for _, c := range b {
			if c < 0x20 {
				t.Fatalf("raw control character %#x in %q", c, b)
			}
		}
		if strings.ContainsAny(string(b), "\u2028\u2029") {
			t.Fatal("raw U+2028/U+2029 in output")
		}
	})
}
