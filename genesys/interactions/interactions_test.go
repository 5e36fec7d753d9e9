package interactions

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/internal/jsonscan"
)

func TestDecode(t *testing.T) {
	const good = `{"sequence":7,"id":"int-1","type":"interaction.updated","status":"queued","channelType":"voice","timestamp":"2026-11-27T09:00:00.120Z","attributes":{"queueId":"q1"}}`
	ev, seq, err := Decode([]byte(good), observed)
	if err != nil || seq != 7 || ev.Status != bridge.StatusQueued || ev.ChannelType != bridge.ChannelVoice ||
		len(ev.Steps) != 1 || ev.Steps[0].At.IsZero() || ev.InteractionID != "int-1" {
		t.Fatalf("decode: %+v seq %d err %v", ev, seq, err)
	}
	tests := []struct {
		name, frame string
		reason      bridge.Reason
		msg         string
	}{
		{"not json", `{`, bridge.ReasonMalformed, "decode"},
		{"sequence as string", strings.Replace(good, `7`, `"7"`, 1), bridge.ReasonMalformed, "sequence"},
		{"missing id", strings.Replace(good, `"id":"int-1",`, ``, 1), bridge.ReasonSchema, "id is missing"},
		{"missing timestamp", strings.Replace(good, `,"timestamp":"2026-11-27T09:00:00.120Z"`, ``, 1), bridge.ReasonSchema, "timestamp is missing"},
		{"bad timestamp", strings.Replace(good, `2026-11-27T09:00:00.120Z`, `27/11/2026`, 1), bridge.ReasonSchema, "RFC 3339"},
		{"timestamp in year 9999", strings.Replace(good, `2026-11-27T09:00:00.120Z`, `9999-12-31T23:59:59Z`, 1), bridge.ReasonSchema, "out of range"},
		{"unknown status", strings.Replace(good, `"queued"`, `"parked"`, 1), bridge.ReasonSchema, "unknown status"},
		{"hostile status", strings.Replace(good, `"queued"`, `"queued.>"`, 1), bridge.ReasonSchema, "unknown status"},
		{"unknown channel", strings.Replace(good, `"voice"`, `"fax"`, 1), bridge.ReasonSchema, "unknown channel type"},
		{"negative sequence", strings.Replace(good, `7`, `-1`, 1), bridge.ReasonSchema, "negative"},
		{"empty type", strings.Replace(good, `"interaction.updated"`, `""`, 1), bridge.ReasonSchema, "type is empty"},
		{"attributes not an object", strings.Replace(good, `{"queueId":"q1"}`, `[1]`, 1), bridge.ReasonSchema, "attributes"},
		{"control char in id", strings.Replace(good, `int-1`, `a\nb`, 1), bridge.ReasonSchema, "control or space"},
		{"invalid UTF-8 in id", strings.Replace(good, `int-1`, "h7\xff\xfe", 1), bridge.ReasonMalformed, "invalid UTF-8"},
		{"invalid UTF-8 in a skipped field", strings.Replace(good, `"q1"`, "\"q\xc3\"", 1), bridge.ReasonMalformed, "invalid UTF-8"},
		{"invalid UTF-8 in a key", strings.Replace(good, `"queueId"`, "\"\xed\xa0\x80\"", 1), bridge.ReasonMalformed, "invalid UTF-8"},
		{"trailing data", good + `{}`, bridge.ReasonMalformed, "after the top-level value"},
		{"not an object", `[` + good + `]`, bridge.ReasonMalformed, "want '{'"},
		{"null", `null`, bridge.ReasonMalformed, "want '{'"},
		{"fractional sequence", strings.Replace(good, `7`, `7.5`, 1), bridge.ReasonMalformed, "int64"},
		{"sequence out of range", strings.Replace(good, `7`, `9223372036854775808`, 1), bridge.ReasonMalformed, "int64"},
		{"id a number", strings.Replace(good, `"int-1"`, `12`, 1), bridge.ReasonMalformed, "field id: want a string"},
		{"null id is missing", strings.Replace(good, `"int-1"`, `null`, 1), bridge.ReasonSchema, "id is missing"},
		{"case matters", strings.Replace(good, `"id"`, `"ID"`, 1), bridge.ReasonSchema, "id is missing"},
		{"bad escape", strings.Replace(good, `int-1`, `int\x41`, 1), bridge.ReasonMalformed, "invalid escape"},
	}
	t.Run("escaped and repeated members", func(t *testing.T) {
		frame := strings.Replace(good, `"id":"int-1"`, `"id":"x","\u0069d":"int\u002d1"`, 1)
		ev, _, err := Decode([]byte(frame), observed)
		if err != nil || ev.InteractionID != "int-1" {
			t.Fatalf("got %q, %v; want the last id, unescaped", ev.InteractionID, err)
		}
	})
	t.Run("null attributes, and null after a bad one", func(t *testing.T) {
		for _, attrs := range []string{`null`, `[1],"attributes":null`} {
			frame := strings.Replace(good, `{"queueId":"q1"}`, attrs, 1)
			if _, _, err := Decode([]byte(frame), observed); err != nil {
				t.Errorf("%s: %v", frame, err)
			}
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Decode([]byte(tt.frame), observed)
			rej, ok := err.(*bridge.RejectError)
			if !ok || rej.Reason != tt.reason || !strings.Contains(rej.Msg, tt.msg) {
				t.Fatalf("err = %v, want %s containing %q", err, tt.reason, tt.msg)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"sequence":7,"id":"int-1","type":"t","status":"queued","channelType":"voice","timestamp":"2026-11-27T09:00:00Z"}`))
	f.Add([]byte(`{"sequence":1e30,"id":"","type":"t","status":"held","channelType":"chat","timestamp":"2026-11-27T09:00:00+02:00","attributes":null}`))
	f.Add([]byte(`{"id":"a\ud83d\ude00\udc00\ud800\u0041","sequence":-0,"x":[{"y":[true,false,null,1.5e-3]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkScanMatchesEncodingJSON(t, data)
		ev, seq, err := Decode(data, observed)
		if err != nil {
			if _, ok := err.(*bridge.RejectError); !ok {
				t.Fatalf("error %T is not a *bridge.RejectError", err)
			}
			return
		}
		if seq < 0 || ev.Validate() != nil {
			t.Fatalf("accepted an invalid event: seq %d, %v", seq, ev.Validate())
		}
	})
}

// checkScanMatchesEncodingJSON holds scanInteraction against encoding/json
// (with UTF-8 required, which encoding/json does not check): the same
// frames are accepted, with the same members.
func checkScanMatchesEncodingJSON(t *testing.T, data []byte) {
	t.Helper()
	var got interactionFields
	first := jsonscan.New(data)
	err := scanInteraction(&first, &got)

	valid := json.Valid(data) && utf8.Valid(data)
	sc := jsonscan.New(data)
	if scanValid := sc.Skip() == nil && sc.End() == nil; valid != scanValid {
		t.Fatalf("scanner and encoding/json disagree on validity of %q (json.Valid && utf8.Valid = %v)", data, valid)
	}
	var m map[string]json.RawMessage
	if !valid || json.Unmarshal(data, &m) != nil || m == nil {
		if err == nil {
			t.Fatalf("scanInteraction accepted %q, which is not a JSON object", data)
		}
		return
	}
	want := interactionFields{}
	bad := false
	present := func(k string) (json.RawMessage, bool) {
		v, ok := m[k]
		return v, ok && !bytes.Equal(v, []byte("null"))
	}
	if v, ok := present("sequence"); ok {
		var n int64
		if json.Unmarshal(v, &n) != nil {
			bad = true
		}
		want.sequence, want.hasSeq = n, true
	}
	for _, f := range []struct {
		k   string
		dst *[]byte
		has *bool
	}{{"id", &want.id, &want.hasID}, {"type", &want.typ, &want.hasType}, {"status", &want.status, &want.hasStatus},
		{"channelType", &want.channelType, &want.hasChannel}, {"timestamp", &want.timestamp, &want.hasTS}} {
		if v, ok := present(f.k); ok {
			var s string
			if json.Unmarshal(v, &s) != nil {
				bad = true
			}
			*f.dst, *f.has = []byte(s), true
		}
	}
	if v, ok := present("attributes"); ok && v[0] != '{' {
		want.badAttributes = true
	}
	if bad {
		if err == nil {
			t.Fatalf("scanInteraction accepted %q with a member of the wrong type", data)
		}
		return
	}
	if err != nil {
		t.Fatalf("scanInteraction refused %q: %v", data, err)
	}
	same := got.hasSeq == want.hasSeq && got.sequence == want.sequence &&
		bytes.Equal(got.id, want.id) && bytes.Equal(got.typ, want.typ) && bytes.Equal(got.status, want.status) &&
		bytes.Equal(got.channelType, want.channelType) && bytes.Equal(got.timestamp, want.timestamp) &&
		got.hasID == want.hasID && got.hasType == want.hasType && got.hasStatus == want.hasStatus &&
		got.hasChannel == want.hasChannel && got.hasTS == want.hasTS && got.badAttributes == want.badAttributes
	if !same {
		t.Fatalf("scanInteraction(%q) = %+v, encoding/json gives %+v", data, got, want)
	}
}

// The tutorial's attributes name the queue always and the agent only in
// the statuses an agent has; an id that is not one is left out, never a
// rejection.
func TestDecodeWho(t *testing.T) {
	frame := func(status, attrs string) []byte {
		return []byte(`{"sequence":1,"id":"c1","type":"t","status":"` + status + `","channelType":"voice","timestamp":"2026-11-27T09:00:00Z","attributes":` + attrs + `}`)
	}
	tests := []struct {
		status, attrs string
		want          bridge.Who
	}{
		{"queued", `{"queueId":"q1","userId":"u1"}`, bridge.Who{QueueID: "q1"}},
		{"connected", `{"queueId":"q1","userId":"u1"}`, bridge.Who{QueueID: "q1", UserID: "u1"}},
		{"wrapup", `{"userId":"u1","other":[1,{"queueId":"nested"}]}`, bridge.Who{UserID: "u1"}},
		{"ringing", `{"queueId":"q 1","userId":7}`, bridge.Who{}},
		{"held", `{"queueId":"q\u0031","userId":null}`, bridge.Who{QueueID: "q1"}},
		{"completed", `null`, bridge.Who{}},
	}
	for _, tt := range tests {
		ev, _, err := Decode(frame(tt.status, tt.attrs), observed)
		if err != nil {
			t.Fatalf("%s %s: %v", tt.status, tt.attrs, err)
		}
		if ev.Who != tt.want || ev.Steps[0].Who != tt.want {
			t.Errorf("%s %s: who %+v (step %+v), want %+v", tt.status, tt.attrs, ev.Who, ev.Steps[0].Who, tt.want)
		}
	}
}

// Queue and user ids are interned: the same id is one string however
// many frames carry it; an invalid one is unknown; the table is bounded.
func TestInternedRefs(t *testing.T) {
	a := refs.Bytes([]byte("3f2a1b4c-1111-4222-8333-444455556666"))
	b := refs.Bytes([]byte("3f2a1b4c-1111-4222-8333-444455556666"))
	if a != "3f2a1b4c-1111-4222-8333-444455556666" || unsafe.StringData(a) != unsafe.StringData(b) {
		t.Fatalf("%q and %q: not one interned string", a, b)
	}
	for _, bad := range []string{"", "has space", "ctl\x01"} {
		if got := refs.Bytes([]byte(bad)); got != "" {
			t.Errorf("of(%q) = %q, want unknown", bad, got)
		}
	}
	for i := range 5000 {
		refs.Bytes(fmt.Appendf(nil, "queue-%d", i))
	}
	if n := refs.Len(); n > 4096 {
		t.Fatalf("%d ids held, bound 4096", n)
	}
}
