package engine

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

func gapOpened(g *bridge.Gap) bridge.Event { return bridge.Event{Kind: bridge.KindGapOpened, Gap: g} }
func gapClosed(g *bridge.Gap) bridge.Event { return bridge.Event{Kind: bridge.KindGapClosed, Gap: g} }

func history(gap uint64, ev bridge.Event) bridge.Event {
	ev.Backfilled, ev.HistoryOf = true, gap
	return ev
}

// runEvents runs a one-shard pipeline over evs and returns what was
// published, in publish order, per interaction and overall.
func runEvents(t *testing.T, evs []bridge.Event) (map[string][]string, []bridge.Transition, *Pipeline) {
	t.Helper()
	src := &sliceSource{events: evs, end: io.EOF}
	pub := newFakePublisher(11)
	p := New(Config{Shards: 1})
	_ = p.Run(context.Background(), src, pub)
	pub.wg.Wait()
	if pub.violation != nil {
		t.Fatal(pub.violation)
	}
	all := pub.snapshot()
	by := map[string][]string{}
	for _, tr := range all {
		by[tr.InteractionID] = append(by[tr.InteractionID], describe([]bridge.Transition{tr})...)
	}
	return by, all, p
}

// After a gap, the interactions that may have changed in it wait for its
// history; the history goes first, cut at the gap's end, then the frames
// that waited; everything else flows at once.
func TestGapHoldsBackUntilHistory(t *testing.T) {
	g := &bridge.Gap{ID: 1, From: at(4), To: at(20), Deadline: at(10_000)}
	evs := []bridge.Event{
		snap("c1", "connected", "queued@1", "ringing@2", "connected@3"),
		gapOpened(g),
		// After the gap: c1 hung up; the hold it had in the gap is not in
		// any live frame.
		snap("c1", "wrapup", "queued@1", "ringing@2", "connected@3", "wrapup@25"),
		// c2 began in the gap: it waits too. c3 began after: it flows.
		snap("c2", "connected", "queued@12", "ringing@13", "connected@14"),
		snap("c3", "queued", "queued@30"),
		// Analytics knows more than the gap (up to the completion): only
		// what happened by the gap's end is taken from it.
		history(1, snap("c1", "completed", "queued@1", "ringing@2", "connected@3", "held@10", "connected@15", "wrapup@25", "completed@27")),
		gapClosed(g),
	}
	by, all, p := runEvents(t, evs)
	want := map[string]string{
		"c1": "null>queued queued>ringing ringing>connected connected>held held>connected connected>wrapup",
		"c2": "null>queued queued>ringing ringing>connected",
		"c3": "null>queued",
	}
	for id, w := range want {
		if g := strings.Join(by[id], " "); g != w {
			t.Errorf("%s: published %s, want %s", id, g, w)
		}
	}
	c3 := slices.IndexFunc(all, func(tr bridge.Transition) bool { return tr.InteractionID == "c3" })
	hold := slices.IndexFunc(all, func(tr bridge.Transition) bool { return tr.InteractionID == "c1" && tr.ToStatus == bridge.StatusHeld })
	if c3 > hold {
		t.Errorf("c3, which began after the gap, waited for c1's history")
	}
	for _, tr := range all {
		if tr.Incomplete {
			t.Errorf("%s %s>%s marked incomplete", tr.InteractionID, tr.FromStatus, tr.ToStatus)
		}
	}
	st := p.Stats()
	if st.Held.Load() != 0 || st.Waiting.Load() != 0 || st.HeldTotal.Load() != 2 || st.GapsOpen.Load() != 0 {
		t.Errorf("held %d waiting %d held total %d gaps open %d", st.Held.Load(), st.Waiting.Load(), st.HeldTotal.Load(), st.GapsOpen.Load())
	}
}

// Without frames waiting behind it, the history is applied whole: what
// analytics knows is all there is.
func TestGapHistoryWithoutFramesIsWhole(t *testing.T) {
	g := &bridge.Gap{ID: 1, From: at(4), To: at(20)}
	by, _, _ := runEvents(t, []bridge.Event{
		snap("c1", "connected", "queued@1", "ringing@2", "connected@3"),
		gapOpened(g),
		history(1, snap("c1", "completed", "queued@1", "ringing@2", "connected@3", "wrapup@18", "completed@22")),
		gapClosed(g),
	})
	if got := strings.Join(by["c1"], " "); got != "null>queued queued>ringing ringing>connected connected>wrapup wrapup>completed" {
		t.Errorf("published %s", got)
	}
}

// Two gaps in a row: each history goes before the frames that came after
// its gap, even when the later history arrives first.
func TestGapsInOrder(t *testing.T) {
	g1 := &bridge.Gap{ID: 1, From: at(4), To: at(20)}
	g2 := &bridge.Gap{ID: 2, From: at(30), To: at(40)}
	by, _, _ := runEvents(t, []bridge.Event{
		snap("c1", "connected", "queued@1", "ringing@2", "connected@3"),
		gapOpened(g1),
		snap("c1", "connected", "queued@1", "ringing@2", "connected@3"), // after g1, before g2: an unhold
		gapOpened(g2),
		snap("c1", "wrapup", "queued@1", "ringing@2", "connected@3", "wrapup@45"),
		history(2, snap("c1", "wrapup", "queued@1", "ringing@2", "connected@3", "held@10", "connected@15", "held@33", "connected@36", "wrapup@45")),
		history(1, snap("c1", "held@10", "queued@1", "ringing@2", "connected@3", "held@10")),
		gapClosed(g1), gapClosed(g2),
	})
	want := "null>queued queued>ringing ringing>connected connected>held held>connected connected>held held>connected connected>wrapup"
	if got := strings.Join(by["c1"], " "); got != want {
		t.Errorf("published %s\nwant      %s", got, want)
	}
}

// A gap whose history could not be fetched, or that outlived its
// deadline, releases what waited for it, marked incomplete.
func TestGapReleasedIncomplete(t *testing.T) {
	t.Run("history failed", func(t *testing.T) {
		g := &bridge.Gap{ID: 1, From: at(4), To: at(20)}
		closed := *g
		closed.Incomplete = true
		_, all, p := runEvents(t, []bridge.Event{
			snap("c1", "connected", "queued@1", "ringing@2", "connected@3"),
			gapOpened(g),
			snap("c1", "wrapup", "queued@1", "ringing@2", "connected@3", "wrapup@25"),
			gapClosed(&closed),
		})
		last := all[len(all)-1]
		if last.ToStatus != bridge.StatusWrapup || !last.Incomplete || p.Stats().Incomplete.Load() != 1 {
			t.Errorf("last %s>%s incomplete %v; incomplete count %d", last.FromStatus, last.ToStatus, last.Incomplete, p.Stats().Incomplete.Load())
		}
	})
	t.Run("deadline", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := &bridge.Gap{ID: 1, From: at(4), To: at(20), Deadline: time.Now().Add(time.Minute)}
			src := &sliceSource{events: []bridge.Event{
				snap("c1", "connected", "queued@1", "ringing@2", "connected@3"),
				gapOpened(g),
				snap("c1", "wrapup", "queued@1", "ringing@2", "connected@3", "wrapup@25"),
			}}
			pub := newFakePublisher(12)
			var waited []time.Duration
			p := New(Config{Shards: 1, OnHeld: func(w time.Duration, incomplete bool) {
				if incomplete {
					waited = append(waited, w)
				}
			}})
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- p.Run(ctx, src, pub) }()
			time.Sleep(59 * time.Second)
			synctest.Wait()
			if n := len(pub.snapshot()); n != 3 {
				t.Fatalf("published %d before the deadline, want the 3 before the gap", n)
			}
			time.Sleep(2 * time.Second)
			synctest.Wait()
			got := pub.snapshot()
			if len(got) != 4 || !got[3].Incomplete || len(waited) != 1 || waited[0] < time.Minute {
				t.Fatalf("after the deadline: %v, waited %v", describe(got), waited)
			}
			cancel()
			<-done
			pub.wg.Wait()
		})
	})
}

// agentAt is an agent's observation: routing status and presence at sec.
func agentAt(user string, r bridge.RoutingStatus, sec int, backfilled bool) bridge.Event {
	return bridge.Event{InteractionID: user, ObservedAt: at(sec), Backfilled: backfilled,
		Agent: &bridge.AgentObservation{Steps: []bridge.AgentStep{{At: at(sec), Routing: r, Presence: bridge.PresenceOnQueue}}}}
}

// A gap limited to an agent just subscribed (a new queue member) holds
// that agent's frames until its history, and nothing else: a conversation
// that began before the gap's end, and another agent, flow at once.
func TestGapLimitedToNewAgents(t *testing.T) {
	g := &bridge.Gap{ID: 1, From: at(4), To: at(20), Deadline: at(10_000), Only: []string{"u1"}}
	closed := *g
	_, all, p := runEvents(t, []bridge.Event{
		agentAt("u2", bridge.RoutingIdle, 2, false),
		gapOpened(g),
		// u1's first live frame after its subscription: interacting.
		agentAt("u1", bridge.RoutingInteracting, 22, false),
		snap("c1", "queued", "queued@10"),
		agentAt("u2", bridge.RoutingInteracting, 23, false),
		// Its history: it logged in idle before it was subscribed.
		history(1, agentAt("u1", bridge.RoutingIdle, 6, true)),
		gapClosed(&closed),
	})
	got := map[string]string{}
	for _, tr := range all {
		s := describe([]bridge.Transition{tr})[0]
		if a := tr.Agent; a != nil {
			s = string(a.FromRouting) + ">" + string(a.ToRouting)
		}
		got[tr.InteractionID] = strings.TrimSpace(got[tr.InteractionID] + " " + s)
	}
	want := map[string]string{"u1": ">idle idle>interacting", "u2": ">idle idle>interacting", "c1": "null>queued"}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: published %q, want %q", id, got[id], w)
		}
	}
	// Only u1's frame waited (c1 began before the gap's end, u2 was known).
	if st := p.Stats(); st.Held.Load() != 0 || st.Waiting.Load() != 0 || st.HeldTotal.Load() != 1 {
		t.Errorf("held %d waiting %d held total %d, want 0 0 1", st.Held.Load(), st.Waiting.Load(), st.HeldTotal.Load())
	}
}
