package genesys

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// The corpus of real Genesys data (testdata/real at the repository's
// root): conversations recorded from real organisations, each with its
// provenance and the history a supervisor reads from it, written by hand.
// Every item goes through every path it can come by, and every path must
// publish that history, with the same transition ids.

const corpusDir = "../testdata/real"

// CorpusItem is one item of the corpus (exported for the tests of
// package genesys_test, which replay items through the whole bridge).
type CorpusItem struct {
	File         string            `json:"file"`
	Kind         string            `json:"kind"` // analytics, frames
	Source       map[string]string `json:"source"`
	Placeholders map[string]string `json:"placeholders"`
	Read         string            `json:"read"`
	Want         []string          `json:"want"` // "status RFC3339Nano"
}

// LoadCorpus reads the corpus.
func LoadCorpus(t testing.TB) []CorpusItem {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(corpusDir, "corpus.json"))
	if err != nil {
		t.Fatal(err)
	}
	var items []CorpusItem
	if err := json.Unmarshal(raw, &items); err != nil {
		t.Fatalf("corpus.json: %v", err)
	}
	for _, it := range items {
		if it.Source["repo"] == "" || it.Source["path"] == "" || it.Source["commit"] == "" || it.Read == "" || len(it.Want) == 0 {
			t.Fatalf("corpus item %s lacks its provenance, its reading or its history", it.File)
		}
	}
	return items
}

// Data returns the item's file with its placeholders restored.
func (it CorpusItem) Data(t testing.TB) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(corpusDir, it.File))
	if err != nil {
		t.Fatal(err)
	}
	for from, to := range it.Placeholders {
		raw = bytes.ReplaceAll(raw, []byte(from), []byte(to))
	}
	return raw
}

// ShiftTimes moves every timestamp of a JSON document (a string in
// Genesys's format, UTC with milliseconds) by d: a record moved in time as
// a whole. Other values, and strings that are no such timestamp, stay.
func ShiftTimes(raw []byte, d time.Duration) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = walk(e)
			}
		case []any:
			for i, e := range x {
				x[i] = walk(e)
			}
		case string:
			if t, err := time.Parse(time.RFC3339Nano, x); err == nil && strings.HasSuffix(x, "Z") {
				return t.Add(d).UTC().Format("2006-01-02T15:04:05.000Z")
			}
		}
		return v
	}
	return json.Marshal(walk(v))
}

// WantShifted is the item's history read by hand, moved by d, as "status
// time" lines (History's form).
func (it CorpusItem) WantShifted(t testing.TB, d time.Duration) []string {
	out := make([]string, len(it.Want))
	for i, w := range it.Want {
		status, at, _ := strings.Cut(w, " ")
		ts, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			t.Fatalf("%s: want %q: %v", it.File, w, err)
		}
		out[i] = status + " " + ts.Add(d).UTC().Format(time.RFC3339Nano)
	}
	return out
}

// History renders transitions as "status time", as the corpus writes them.
func History(ts []bridge.Transition) []string { return history(ts) }

// history renders transitions as "status time", as the corpus writes them.
func history(ts []bridge.Transition) []string {
	out := make([]string, len(ts))
	for i, tr := range ts {
		out[i] = fmt.Sprintf("%s %s", tr.ToStatus, tr.OccurredAt.UTC().Format(time.RFC3339Nano))
	}
	return out
}

func ids(ts []bridge.Transition) []string {
	out := make([]string, len(ts))
	for i, tr := range ts {
		out[i] = tr.ID
	}
	return out
}

// apply runs events through one Machine, as the pipeline does, and checks
// the rules that hold for every history: nothing follows completed, no
// transition is stamped before the one it follows, timings are published
// at most once.
func apply(t *testing.T, name string, events []bridge.Event) []bridge.Transition {
	t.Helper()
	m := bridge.NewMachine(bridge.MachineConfig{})
	var all []bridge.Transition
	for i := range events {
		ev := events[i]
		if err := ev.Validate(); err != nil {
			t.Fatalf("%s: event %d: %v", name, i, err)
		}
		all, _ = m.Apply(&ev, all)
	}
	CheckHistory(t, name, all)
	return all
}

// CheckHistory holds the rules every published history of one
// interaction keeps, whatever its sources: nothing follows completed, no
// transition is stamped before the one it follows, timings are published
// at most once.
func CheckHistory(t testing.TB, name string, ts []bridge.Transition) {
	t.Helper()
	timings := 0
	for i, tr := range ts {
		if i > 0 && ts[i-1].ToStatus == bridge.StatusCompleted {
			t.Errorf("%s: %s follows completed", name, tr.ToStatus)
		}
		if i > 0 && tr.OccurredAt.Before(ts[i-1].OccurredAt) {
			t.Errorf("%s: %s at %s is stamped before the %s it follows (%s)", name, tr.ToStatus, tr.OccurredAt, ts[i-1].ToStatus, ts[i-1].OccurredAt)
		}
		if tr.Timings != nil {
			timings++
		}
	}
	if timings > 1 {
		t.Errorf("%s: timings published %d times", name, timings)
	}
}

func TestRealCorpus(t *testing.T) {
	for _, it := range LoadCorpus(t) {
		t.Run(strings.TrimSuffix(it.File, ".json"), func(t *testing.T) {
			var paths map[string][]bridge.Event
			switch it.Kind {
			case "analytics":
				paths = analyticsPaths(t, it.Data(t))
			case "frames":
				paths = framePaths(t, it.Data(t))
			case "snapshot":
				paths = snapshotPaths(t, it.Data(t))
			default:
				t.Fatalf("unknown kind %q", it.Kind)
			}
			var first []string
			for _, name := range slices.Sorted(func(yield func(string) bool) {
				for k := range paths {
					if !yield(k) {
						return
					}
				}
			}) {
				got := apply(t, name, paths[name])
				if h := history(got); !slices.Equal(h, it.Want) {
					t.Errorf("%s: published\n\t%s\nread by hand\n\t%s", name, strings.Join(h, "\n\t"), strings.Join(it.Want, "\n\t"))
				}
				if first == nil {
					first = ids(got)
					t.Logf("%s (%s): published | read by hand\n%s", it.File, name, sideBySide(history(got), it.Want))
				} else if !slices.Equal(ids(got), first) {
					t.Errorf("%s: transition ids differ from another path's", name)
				}
			}
		})
	}
}

// analyticsPaths are the ways a details record reaches the bridge: whole,
// as the back-fill after a restart meets it; revealed in steps, as
// back-fills of successive gaps meet a conversation analytics had only
// partly recorded (cut at every segment boundary); and repeated out of
// order.
func analyticsPaths(t *testing.T, raw []byte) map[string][]bridge.Event {
	var dc DetailsConversation
	if err := json.Unmarshal(raw, &dc); err != nil {
		t.Fatal(err)
	}
	observed := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	// Each version is observed when analytics had it (a cut at its time,
	// the whole record long after).
	derive := func(d *DetailsConversation, at time.Time) (bridge.Event, bool) {
		ev, err := DeriveDetails(d, at)
		if errors.Is(err, errNoStatus) && d != &dc {
			return ev, false // a customer alone so far: nothing to tell yet
		}
		if err != nil {
			t.Fatalf("DeriveDetails: %v", err)
		}
		return ev, true
	}
	whole, _ := derive(&dc, observed)
	var steps []bridge.Event
	for _, at := range Boundaries(t, &dc) {
		cut := CutDetails(&dc, at)
		if ev, ok := derive(&cut, at.Add(time.Millisecond)); ok {
			steps = append(steps, ev)
		}
	}
	steps = append(steps, whole)
	repeated := []bridge.Event{whole}
	for i := len(steps) - 1; i >= 0; i-- {
		repeated = append(repeated, steps[i])
	}
	return map[string][]bridge.Event{
		"after a restart": {whole},
		"in steps":        steps,
		"repeated":        repeated,
	}
}

// Boundaries lists a record's segment boundaries, sorted.
func Boundaries(t testing.TB, dc *DetailsConversation) []time.Time {
	var ts []instant
	for _, p := range dc.Participants {
		for _, s := range p.Sessions {
			for _, seg := range s.Segments {
				for _, raw := range []string{seg.SegmentStart, seg.SegmentEnd} {
					at, err := parseTime(raw)
					if err != nil {
						t.Fatal(err)
					}
					ts = appendTime(ts, instantOf(at))
				}
			}
		}
	}
	var out []time.Time
	for _, at := range sortedUnique(ts) {
		out = append(out, at.time())
	}
	return out
}

// CutDetails is the record as analytics had it at t: segments begun by t,
// those that ended after it still open, no conversationEnd before it.
func CutDetails(dc *DetailsConversation, at time.Time) DetailsConversation {
	out := *dc
	if end, _ := parseTime(dc.ConversationEnd); end.After(at) {
		out.ConversationEnd = ""
	}
	out.Participants = nil
	for _, p := range dc.Participants {
		cp := p
		cp.Sessions = nil
		for _, s := range p.Sessions {
			cs := s
			cs.Segments = nil
			for _, seg := range s.Segments {
				start, _ := parseTime(seg.SegmentStart)
				end, _ := parseTime(seg.SegmentEnd)
				if start.After(at) {
					continue
				}
				if end.After(at) {
					seg.SegmentEnd = ""
				}
				cs.Segments = append(cs.Segments, seg)
			}
			if len(cs.Segments) > 0 {
				cp.Sessions = append(cp.Sessions, cs)
			}
		}
		if len(cp.Sessions) > 0 {
			out.Participants = append(out.Participants, cp)
		}
	}
	return out
}

// framePaths are the ways recorded live frames reach the bridge: in the
// order recorded, every frame twice, and in reverse (Genesys promises no
// order).
func framePaths(t *testing.T, raw []byte) map[string][]bridge.Event {
	var frames []json.RawMessage
	if err := json.Unmarshal(raw, &frames); err != nil {
		t.Fatal(err)
	}
	observed := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	decode := func(b []byte) bridge.Event {
		f, err := DecodeNotification(b, observed)
		if err != nil {
			t.Fatalf("DecodeNotification: %v", err)
		}
		if f.Kind != FrameEvent {
			t.Fatalf("frame is %v, not an event", f.Kind)
		}
		observed = observed.Add(time.Second)
		return f.Event
	}
	var inOrder, twice, reversed []bridge.Event
	for _, f := range frames {
		ev := decode(f)
		inOrder = append(inOrder, ev)
		twice = append(twice, ev, decode(f))
	}
	for i := len(frames) - 1; i >= 0; i-- {
		reversed = append(reversed, decode(frames[i]))
	}
	return map[string][]bridge.Event{"in order": inOrder, "twice": twice, "reversed": reversed}
}

// snapshotPaths are the ways a GET answer reaches the bridge: as the state
// of an interaction believed open after a gap whose analytics failed
// (back-filled), once and twice; and the same snapshot as a live frame.
func snapshotPaths(t *testing.T, raw []byte) map[string][]bridge.Event {
	var c Conversation
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	observed := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	get := func() bridge.Event {
		ev, err := Derive(&c, observed)
		if err != nil {
			t.Fatalf("Derive: %v", err)
		}
		observed = observed.Add(time.Second)
		ev.Backfilled = true
		return ev
	}
	asFrame := func() bridge.Event {
		ev := get()
		ev.Backfilled = false
		return ev
	}
	return map[string][]bridge.Event{"GET": {get()}, "GET twice": {get(), get()}, "as a live frame": {asFrame(), asFrame()}}
}

// SnapshotFrame wraps a conversation snapshot in a notification envelope
// on the topic of queue (a GET answer sent as a live frame: the REST model
// is the notification's with more fields).
func SnapshotFrame(snapshot []byte, queue string) []byte {
	return fmt.Appendf(nil, `{"topicName":"v2.routing.queues.%s.conversations","version":"2","eventBody":%s,"metadata":{"CorrelationId":"corpus"}}`, queue, snapshot)
}

// sideBySide renders two histories in two columns.
func sideBySide(a, b []string) string {
	var sb strings.Builder
	for i := range max(len(a), len(b)) {
		l, r := "", ""
		if i < len(a) {
			l = a[i]
		}
		if i < len(b) {
			r = b[i]
		}
		mark := " "
		if l != r {
			mark = "!"
		}
		fmt.Fprintf(&sb, "\t%-46s %s %s\n", l, mark, r)
	}
	return sb.String()
}
