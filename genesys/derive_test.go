package genesys_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/genesys"
	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
)

func envelope(f simulator.Frame) []byte {
	return fmt.Appendf(nil, `{"topicName":%q,"version":"2","eventBody":%s,"metadata":{"CorrelationId":"x"}}`, f.Topics[0], f.Body)
}

func truthString(ts []simulator.Truth) string {
	var b strings.Builder
	for _, t := range ts {
		from := string(t.From)
		if from == "" {
			from = "null"
		}
		fmt.Fprintf(&b, "%s>%s@%.4s/%.4s ", from, t.To, t.QueueID, t.UserID)
	}
	return b.String()
}

func transitionsString(ts []bridge.Transition) string {
	var b strings.Builder
	for _, t := range ts {
		from := string(t.FromStatus)
		if from == "" {
			from = "null"
		}
		fmt.Fprintf(&b, "%s>%s@%.4s/%.4s ", from, t.ToStatus, t.QueueID, t.UserID)
	}
	return b.String()
}

// Every simulated conversation, decoded frame by frame from the wire and run
// through the state machine, yields exactly the simulator's ground truth;
// so does the same conversation with frames duplicated and with each
// provably ordered pair swapped.
func TestDeriveMatchesSimulatorTruth(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	pop := simulator.NewPopulation(rng, 2, 5)
	start := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	kinds := map[string]int{}
	for i := range 1000 {
		ch := []bridge.ChannelType{bridge.ChannelVoice, bridge.ChannelChat, bridge.ChannelEmail, bridge.ChannelMessage, bridge.ChannelCallback, bridge.ChannelVideo}[i%6]
		sc := simulator.GenerateWith(rng, pop, ch, start.Add(time.Duration(i)*time.Minute), simulator.GenerateOptions{Scale: 1, Long: 0.05})
		kinds[sc.Kind]++
		orders := map[string][]int{"in order": nil, "duplicated": nil}
		for j := range sc.Frames {
			orders["in order"] = append(orders["in order"], j)
			orders["duplicated"] = append(orders["duplicated"], j, j)
		}
		// Swap each pair the simulator may deliver out of order.
		for j := 0; j+1 < len(sc.Frames); j++ {
			if simulator.Reorderable(sc, j) {
				o := append([]int(nil), orders["in order"]...)
				o[j], o[j+1] = o[j+1], o[j]
				orders[fmt.Sprintf("swap %d", j)] = o
			}
		}
		// GET's answers, in order, tell the same (holds that began and
		// ended between two answers are not in the REST model).
		var rest []bridge.Transition
		mr := bridge.NewMachine(bridge.MachineConfig{})
		for j, f := range sc.Frames {
			var c genesys.Conversation
			if err := json.Unmarshal(f.REST, &c); err != nil {
				t.Fatal(err)
			}
			ev, err := genesys.Derive(&c, start)
			if err != nil {
				t.Fatalf("%s %s GET %d: %v", sc.Kind, ch, j, err)
			}
			rest, _ = mr.Apply(&ev, rest)
		}
		if g, w := transitionsString(rest), truthString(sc.Truth); g != w {
			t.Errorf("conversation %d (%s, %s), GET in order:\n got: %s\nwant: %s", i, ch, sc.Kind, g, w)
		}
		var live []bridge.Transition
		for name, order := range orders {
			m := bridge.NewMachine(bridge.MachineConfig{})
			var got []bridge.Transition
			for _, j := range order {
				f, err := genesys.DecodeNotification(envelope(sc.Frames[j]), start)
				if err != nil {
					t.Fatalf("%s %s frame %d: %v", sc.Kind, ch, j, err)
				}
				if f.Kind != genesys.FrameEvent {
					t.Fatalf("frame kind %v", f.Kind)
				}
				if err := f.Event.Validate(); err != nil {
					t.Fatalf("validate: %v", err)
				}
				if f.Event.ChannelType != ch {
					t.Fatalf("channel %s, want %s", f.Event.ChannelType, ch)
				}
				got, _ = m.Apply(&f.Event, got)
			}
			if g, w := transitionsString(got), truthString(sc.Truth); g != w {
				t.Errorf("conversation %d (%s, %s), %s:\n got: %s\nwant: %s", i, ch, sc.Kind, name, g, w)
			}
			if name == "in order" {
				live = got
			}
		}
		// A transition has one id whichever source revealed it.
		for j := range min(len(live), len(rest)) {
			if live[j].ID != rest[j].ID {
				t.Errorf("conversation %d (%s): transition %d has id %s live, %s from GET", i, sc.Kind, j, live[j].ID, rest[j].ID)
			}
		}
	}
	for _, k := range simulator.Kinds {
		if kinds[k] == 0 {
			t.Errorf("no %s conversation generated", k)
		}
	}
}

// The analytics details of a conversation (segments) prove its whole
// history, holds included: at every frame, the details alone give the
// ground truth up to that frame; and back-filled details after live
// frames add exactly the transitions the live frames missed, with the ids
// the live frames would have given.
func TestDeriveDetailsMatchesSimulatorTruth(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	pop := simulator.NewPopulation(rng, 2, 5)
	start := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	for i := range 300 {
		ch := []bridge.ChannelType{bridge.ChannelVoice, bridge.ChannelChat, bridge.ChannelEmail, bridge.ChannelMessage, bridge.ChannelCallback}[i%5]
		sc := simulator.Generate(rng, pop, ch, start.Add(time.Duration(i)*time.Minute), 1)
		var full []bridge.Transition
		for k, f := range sc.Frames {
			var dc genesys.DetailsConversation
			if err := json.Unmarshal(f.Details, &dc); err != nil {
				t.Fatal(err)
			}
			ev, err := genesys.DeriveDetails(&dc, start)
			if err != nil {
				t.Fatalf("conversation %d frame %d: %v", i, k, err)
			}
			if ev.ChannelType != ch || !ev.Backfilled {
				t.Fatalf("channel %s backfilled %v", ev.ChannelType, ev.Backfilled)
			}
			m := bridge.NewMachine(bridge.MachineConfig{})
			got, _ := m.Apply(&ev, nil)
			var want []simulator.Truth
			for _, tr := range sc.Truth {
				if !tr.At.After(f.At) {
					want = append(want, tr)
				}
			}
			if n := len(want); n > 0 && want[n-1].To == bridge.StatusWrapup && want[n-1].At.Equal(f.At) && wrapupNotStarted(&dc, want[n-1].UserID) {
				// A pause before the wrap-up segment: analytics cannot show
				// the wrap-up yet (a live frame does).
				want = want[:n-1]
			}
			if g, w := transitionsString(got), truthString(want); g != w {
				t.Fatalf("conversation %d (%s %s) frame %d details:\n got: %s\nwant: %s", i, ch, sc.Kind, k, g, w)
			}
			full = got
		}

		// Live frames up to a gap, then the final details: the union is the
		// truth, and every transition published from both has one id.
		cut := len(sc.Frames) / 2
		m := bridge.NewMachine(bridge.MachineConfig{})
		var got []bridge.Transition
		for _, f := range sc.Frames[:cut] {
			fr, err := genesys.DecodeNotification(envelope(f), start)
			if err != nil {
				t.Fatal(err)
			}
			got, _ = m.Apply(&fr.Event, got)
		}
		var dc genesys.DetailsConversation
		json.Unmarshal(sc.Frames[len(sc.Frames)-1].Details, &dc)
		ev, _ := genesys.DeriveDetails(&dc, start)
		got, _ = m.Apply(&ev, got)
		if g, w := transitionsString(got), truthString(sc.Truth); g != w {
			t.Fatalf("conversation %d (%s): live then back-fill:\n got: %s\nwant: %s", i, sc.Kind, g, w)
		}
		for j := range got {
			if got[j].ID != full[j].ID {
				t.Fatalf("conversation %d (%s): transition %d %s>%s has id %s live+back-fill, %s from details alone",
					i, sc.Kind, j, got[j].FromStatus, got[j].ToStatus, got[j].ID, full[j].ID)
			}
		}
	}
}

// wrapupNotStarted reports whether user's last agent participant in dc
// has ended without a wrap-up segment yet.
func wrapupNotStarted(dc *genesys.DetailsConversation, user string) bool {
	last := ""
	for _, p := range dc.Participants {
		if p.UserID != user {
			continue
		}
		for _, s := range p.Sessions {
			for _, seg := range s.Segments {
				last = seg.SegmentType
			}
		}
	}
	return last != "" && last != "wrapup"
}

// fuzzSeeds adds the simulator's frames of a few conversations of every
// channel: live bodies (source "body") or analytics details ("details").
func fuzzSeeds(f *testing.F, source string) {
	rng := rand.New(rand.NewPCG(3, 3))
	pop := simulator.NewPopulation(rng, 2, 5)
	start := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	for i := range 20 {
		ch := []bridge.ChannelType{bridge.ChannelVoice, bridge.ChannelChat, bridge.ChannelEmail, bridge.ChannelMessage, bridge.ChannelCallback}[i%5]
		sc := simulator.Generate(rng, pop, ch, start.Add(time.Duration(i)*time.Minute), 1)
		for _, fr := range sc.Frames {
			if source == "body" {
				f.Add(fr.Body)
			} else {
				f.Add(fr.Details)
			}
		}
	}
}

// checkDerived holds what Derive and DeriveDetails promise for any input:
// no panic; the same event for the same input; and an event without an
// error is valid whenever its id is (the pipeline would otherwise drop a
// frame Genesys meant).
func checkDerived(t *testing.T, derive func() (bridge.Event, error)) {
	ev, err := derive()
	again, err2 := derive()
	if (err == nil) != (err2 == nil) || !reflect.DeepEqual(ev, again) {
		t.Fatalf("not deterministic: %v / %v", err, err2)
	}
	if err != nil || bridge.ValidateInteractionID(ev.InteractionID) != nil {
		return
	}
	if verr := ev.Validate(); verr != nil {
		t.Fatalf("derived an invalid event: %v", verr)
	}
}

func FuzzDerive(f *testing.F) { fuzzDerived(f, "body", genesys.Derive) }

func FuzzDeriveDetails(f *testing.F) { fuzzDerived(f, "details", genesys.DeriveDetails) }

// fuzzDerived decodes each input as T (skipping what is not JSON of it)
// and holds derive to checkDerived.
func fuzzDerived[T any](f *testing.F, source string, derive func(*T, time.Time) (bridge.Event, error)) {
	fuzzSeeds(f, source)
	observed := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		var v T
		if json.Unmarshal(body, &v) != nil {
			return
		}
		checkDerived(t, func() (bridge.Event, error) { return derive(&v, observed) })
	})
}
