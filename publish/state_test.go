package publish

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/internal/intern"
)

func TestStateHeaderRoundTrip(t *testing.T) {
	at := func(s int) time.Time { return time.Date(2026, 11, 28, 9, 0, s, 123456789, time.UTC) }
	for _, s := range []bridge.State{
		{Channel: bridge.ChannelVoice, Status: bridge.StatusQueued, Seq: 1, Anchor: at(1), StepAt: at(1), Horizon: at(1),
			Tally: bridge.Tally{Started: at(0), Since: at(1), QueueID: "q-1"}},
		{Channel: bridge.ChannelEmail, Status: bridge.StatusWrapup, Seq: 9, StepAt: at(5), Horizon: at(6), EndedHold: at(3),
			Tally: bridge.Tally{Started: at(0), Since: at(6), Wait: 3 * time.Second, Alert: time.Millisecond, Talk: time.Minute,
				Hold: 2 * time.Second, Wrapup: 1, Holds: 2, Transfers: 1, Answered: true, Partial: true, QueueID: "q", UserID: "u"}},
		{Channel: bridge.ChannelChat, Status: bridge.StatusIVR},
	} {
		got, err := decodeState(encodeState(&s), nil)
		if err != nil || got != s {
			t.Errorf("round trip of %+v:\n got %+v (%v)\n via %q", s, got, err, encodeState(&s))
		}
	}
}

func TestStateHeaderOlderFormsAndErrors(t *testing.T) {
	v2, err := decodeState("v2 voice connected 4 0 1000 2000 0", nil)
	if err != nil || v2.Seq != 4 || v2.Status != bridge.StatusConnected || !v2.Tally.Partial || v2.Horizon != time.Unix(0, 2000).UTC() {
		t.Errorf("v2: %+v %v", v2, err)
	}
	v1, err := decodeState("v1 chat queued 0 1000 2000 0", nil)
	if err != nil || v1.Seq != 0 || v1.StepAt != time.Unix(0, 1000).UTC() || !v1.Tally.Partial {
		t.Errorf("v1: %+v %v", v1, err)
	}
	good := "v3 voice queued 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 - -"
	if _, err := decodeState(good, nil); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		strings.Replace(good, "v3", "v4", 1),
		good + " extra",
		strings.Replace(good, "queued 1", "queued x", 1),
		strings.Replace(good, " 0 0 0 - -", " -1 0 0 - -", 1),
		strings.Replace(good, " 0 - -", " 4294967296 - -", 1),
		strings.Replace(good, "- -", "- \x7f", 1),
		strings.Replace(good, "voice", "fax", 1),
	} {
		if _, err := decodeState(bad, nil); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// An agent's state ("a1") goes round, and its bad forms are refused.
func TestAgentStateHeader(t *testing.T) {
	at := time.Date(2026, 12, 3, 9, 0, 1, 5, time.UTC)
	for _, s := range []bridge.State{
		{Seq: 3, StepAt: at, Agent: &bridge.AgentState{Routing: bridge.RoutingIdle, Presence: bridge.PresenceOnQueue, Since: at,
			PresenceID: "e08eaf1b-ee47-4fa9-a231-1200e284798f", Queues: []string{"q1", "q2"}}},
		{Seq: 1, Agent: &bridge.AgentState{Routing: bridge.RoutingOffQueue, Presence: bridge.PresenceMeal}},
	} {
		got, err := decodeState(encodeState(&s), nil)
		if err != nil || !reflect.DeepEqual(got, s) {
			t.Errorf("round trip of %+v:\n got %+v %+v (%v)\n via %q", s, got, got.Agent, err, encodeState(&s))
		}
	}
	comma := bridge.State{Seq: 1, Agent: &bridge.AgentState{Routing: bridge.RoutingIdle, Presence: bridge.PresenceOnQueue, Queues: []string{"a,b", "c"}}}
	if got, err := decodeState(encodeState(&comma), nil); err != nil || !reflect.DeepEqual(got.Agent.Queues, []string{"c"}) {
		t.Errorf("a queue id with a comma: %+v %v", got.Agent, err)
	}
	good := "a1 idle on_queue 1 0 0 - -"
	if _, err := decodeState(good, nil); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		strings.Replace(good, "idle", "lunch", 1),
		strings.Replace(good, "on_queue", "lunch", 1),
		strings.Replace(good, " 1 ", " x ", 1),
		strings.Replace(good, "- -", "- q1,,q2", 1),
		strings.Replace(good, "- -", "\x7f -", 1),
		good + " extra",
	} {
		if _, err := decodeState(bad, nil); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// FuzzDecodeState: a state header from anywhere (another writer, an old
// version, a hand-edited stream) never panics the reader, and whatever it
// accepts is written back and read again as the same state.
func FuzzDecodeState(f *testing.F) {
	f.Add("v3 voice connected 4 1764320400000000000 1764320460000000000 1764320460000000000 0 1764320400000000000 1764320460000000000 5000000000 2000000000 0 0 0 0 0 1 3f2a1b4c-1111-4222-8333-444455556666 -")
	f.Add("v2 chat queued 1 1764320400000000000 1764320400000000000 1764320400000000000 0")
	f.Add("v1 email ringing 1764320400000000000 0 0 0")
	f.Add("v3  voice")
	f.Add("a1 interacting on_queue 7 1764320400000000000 1764320400000000000 6a3af858-942f-489d-9700-5f9bcdcdae9b q1,q2")
	f.Fuzz(func(t *testing.T, v string) {
		s, err := decodeState(v, nil)
		if err != nil {
			return
		}
		again, err := decodeState(encodeState(&s), nil)
		if err != nil {
			t.Fatalf("%q read as %+v, which is written as a header that does not read: %v", v, s, err)
		}
		if !reflect.DeepEqual(again, s) {
			t.Fatalf("%q read as %+v, and after writing it back as %+v", v, s, again)
		}
	})
}

func encodeState(s *bridge.State) string { return string(appendState(nil, s)) }

// TestDecodedStateHoldsNoPartOfTheHeader: the ids a state keeps are copies
// (a header value shares the memory of its message's whole header block,
// which 100,000 restored states would otherwise keep alive), one per
// distinct id through an interner.
func TestDecodedStateHoldsNoPartOfTheHeader(t *testing.T) {
	v := "v3 voice connected 4 1 1 1 0 1 1 0 0 0 0 0 0 0 1 3f2a1b4c-1111-4222-8333-444455556666 9e2a1b4c-1111-4222-8333-444455556666"
	within := func(s string) bool {
		p, lo := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.StringData(v)))
		return p >= lo && p < lo+uintptr(len(v))
	}
	in := &intern.Table{}
	var first bridge.State
	for i, own := range []*intern.Table{nil, in, in} {
		s, err := decodeState(v, own)
		if err != nil {
			t.Fatal(err)
		}
		if s.Tally.QueueID == "" || s.Tally.UserID == "" || within(s.Tally.QueueID) || within(s.Tally.UserID) {
			t.Fatalf("decode %d: queue %q, user %q are parts of the header", i, s.Tally.QueueID, s.Tally.UserID)
		}
		if i == 1 {
			first = s
		}
		if i == 2 && (unsafe.StringData(s.Tally.QueueID) != unsafe.StringData(first.Tally.QueueID) || unsafe.StringData(s.Tally.UserID) != unsafe.StringData(first.Tally.UserID)) {
			t.Fatal("the interner made a second copy of an id it had")
		}
	}
}
