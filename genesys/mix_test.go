package genesys_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/genesys"
	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
)

// A generated history through any mix of sources: live frames (some twice,
// provably ordered neighbours swapped), gaps whose frames are lost and
// whose history arrives from analytics (as of the gap's end, before the
// frames that follow it, as the pipeline holds them) or, when analytics
// fails, from GET, and a last back-fill repeated at the end. Whatever the
// mix: nothing follows completed, no transition is stamped before the one
// it follows, timings are published at most once; and where every gap's
// history came from analytics, the transitions are the truth's, with the
// ids the live frames alone give.
func TestHistoriesFromAnyMixOfSources(t *testing.T) {
	rng := rand.New(rand.NewPCG(22, 22))
	pop := simulator.NewPopulation(rng, 2, 5)
	start := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	channels := []bridge.ChannelType{bridge.ChannelVoice, bridge.ChannelChat, bridge.ChannelEmail, bridge.ChannelMessage, bridge.ChannelCallback, bridge.ChannelVideo}
	for i := range 600 {
		ch := channels[i%len(channels)]
		sc := simulator.GenerateWith(rng, pop, ch, start.Add(time.Duration(i)*time.Minute), simulator.GenerateOptions{Scale: 1, Long: 0.05})
		ref := historyOf(t, liveEvents(t, sc, start))
		for round := range 8 {
			evs, exact := mixedEvents(t, sc, rng, start)
			got := historyOf(t, evs)
			name := fmt.Sprintf("conversation %d (%s %s) mix %d", i, ch, sc.Kind, round)
			genesys.CheckHistory(t, name, got)
			if !exact {
				continue
			}
			if g, w := transitionsString(got), truthString(sc.Truth); g != w {
				t.Errorf("%s:\n got: %s\nwant: %s", name, g, w)
				continue
			}
			for j := range got {
				if got[j].ID != ref[j].ID {
					t.Errorf("%s: transition %d has id %s, %s from live frames alone", name, j, got[j].ID, ref[j].ID)
				}
			}
		}
	}
}

func historyOf(t *testing.T, evs []bridge.Event) []bridge.Transition {
	t.Helper()
	m := bridge.NewMachine(bridge.MachineConfig{})
	var out []bridge.Transition
	for i := range evs {
		if err := evs[i].Validate(); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		out, _ = m.Apply(&evs[i], out)
	}
	return out
}

// observer stamps events in arrival order.
type observer struct{ at time.Time }

func (o *observer) next() time.Time { o.at = o.at.Add(time.Millisecond); return o.at }

func liveEvent(t *testing.T, f simulator.Frame, at time.Time) bridge.Event {
	t.Helper()
	fr, err := genesys.DecodeNotification(envelope(f), at)
	if err != nil || fr.Kind != genesys.FrameEvent {
		t.Fatalf("decode: %v (%v)", err, fr.Kind)
	}
	return fr.Event
}

func detailsEvent(t *testing.T, f simulator.Frame, at time.Time) bridge.Event {
	t.Helper()
	var dc genesys.DetailsConversation
	if err := json.Unmarshal(f.Details, &dc); err != nil {
		t.Fatal(err)
	}
	ev, err := genesys.DeriveDetails(&dc, at)
	if err != nil {
		t.Fatalf("details: %v", err)
	}
	return ev
}

func restEvent(t *testing.T, f simulator.Frame, at time.Time) bridge.Event {
	t.Helper()
	var c genesys.Conversation
	if err := json.Unmarshal(f.REST, &c); err != nil {
		t.Fatal(err)
	}
	ev, err := genesys.Derive(&c, at)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	ev.Backfilled = true
	return ev
}

// liveEvents is every live frame, in order.
func liveEvents(t *testing.T, sc *simulator.Script, start time.Time) []bridge.Event {
	obs := observer{at: start}
	var out []bridge.Event
	for _, f := range sc.Frames {
		out = append(out, liveEvent(t, f, obs.next()))
	}
	return out
}

// mixedEvents is one random mix (see TestHistoriesFromAnyMixOfSources);
// exact reports whether every gap's history came from analytics.
func mixedEvents(t *testing.T, sc *simulator.Script, rng *rand.Rand, start time.Time) (evs []bridge.Event, exact bool) {
	obs := observer{at: start}
	exact = true
	n := len(sc.Frames)
	for j := 0; j < n; {
		if rng.IntN(4) != 0 { // live
			evs = append(evs, liveEvent(t, sc.Frames[j], obs.next()))
			if rng.IntN(6) == 0 {
				evs = append(evs, liveEvent(t, sc.Frames[j], obs.next()))
			}
			j++
			continue
		}
		// A gap of 1 to 3 frames; its history as of its last frame.
		k := min(n-1, j+rng.IntN(3))
		if rng.IntN(5) == 0 {
			evs = append(evs, restEvent(t, sc.Frames[k], obs.next()))
			exact = false
		} else {
			evs = append(evs, detailsEvent(t, sc.Frames[k], obs.next()))
		}
		j = k + 1
	}
	// The last back-fill again, late (a second replica's, a restart's).
	evs = append(evs, detailsEvent(t, sc.Frames[n-1], obs.next()))
	return evs, exact
}
