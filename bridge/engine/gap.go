package engine

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// After a gap in the source (a dead socket, a restart), the changes an
// interaction went through during the gap arrive later than the
// observations that follow it: Genesys's history (analytics) lags. So a
// shard holds back the observations of every interaction that may have
// changed during the gap (open when it began, or first seen after it with
// a start before its end) until the gap's history of that interaction has
// been applied; everything else flows at once.
//
// The history goes first, cut at the gap's end when observations wait
// behind it (they tell what happened after), then the held observations in
// arrival order. A gap closed without this interaction's history (it did
// not change on the gapped topics) releases it as it is; a gap whose
// history could not be fetched, or that outlived its deadline, releases it
// marked incomplete.

// waiting is an interaction held back for one or more gaps, oldest first.
type waiting struct {
	gaps []*awaited
}

// awaited is one gap an interaction waits for, and the observations that
// arrived while it was the newest such gap.
type awaited struct {
	gap        *bridge.Gap
	history    *bridge.Event // the gap's history of the interaction, once it arrived
	resolved   bool          // history arrived, or the gap closed or expired
	incomplete bool          // resolved without the history
	held       []heldEvent
}

type heldEvent struct {
	ev    bridge.Event
	since time.Time
}

// gapOpened makes every open interaction and every agent wait for g's
// history, and every interaction already waiting (it may have changed in
// g too).
//
// A gap limited to some entities (Gap.Only) makes those alone wait.
func (s *shard) gapOpened(g *bridge.Gap) {
	s.gaps[g.ID] = g
	s.p.mu.Lock()
	started := s.p.started
	s.p.mu.Unlock()
	if g.InheritedUntil.After(started) {
		// The lane's last reader may have published since this pipeline
		// started (and loaded what the store held): what this shard knows
		// may be behind, and an interaction it meets may be stored.
		if g.To.After(s.inheritedTo) {
			s.inheritedTo = g.To
		}
		for _, ids := range [...][]string{s.machine.OpenIDs(), s.machine.AgentIDs()} {
			for _, id := range ids {
				s.stale[id] = true
			}
		}
	}
	if len(g.Only) > 0 {
		for _, id := range g.Only {
			if shardOf(id, s.of) == s.index {
				s.await(id, g)
			}
		}
		return
	}
	for id := range s.waits {
		s.await(id, g)
	}
	for _, ids := range [...][]string{s.machine.OpenIDs(), s.machine.AgentIDs()} {
		for _, id := range ids {
			if s.waits[id] == nil {
				s.await(id, g)
			}
		}
	}
}

// await adds g to the gaps id waits for.
func (s *shard) await(id string, g *bridge.Gap) {
	w := s.waits[id]
	if w == nil {
		w = &waiting{}
		s.waits[id] = w
		s.p.stats.Waiting.Add(1)
	}
	w.gaps = append(w.gaps, &awaited{gap: g})
}

// hold keeps ev back if its interaction waits for a gap's history, or is
// new but began before the end of a gap still open. It reports whether it
// did.
func (s *shard) hold(ev *bridge.Event) bool {
	id := ev.InteractionID
	w := s.waits[id]
	if w == nil {
		if !s.gapForAll() || s.machine.Known(id) {
			return false
		}
		first := ev.First()
		var gaps []*bridge.Gap
		for _, g := range s.gaps {
			if len(g.Only) == 0 && first.Before(g.To) {
				gaps = append(gaps, g)
			}
		}
		if len(gaps) == 0 {
			return false
		}
		slices.SortFunc(gaps, func(a, b *bridge.Gap) int { return cmp.Compare(a.ID, b.ID) })
		for _, g := range gaps {
			s.await(id, g)
		}
		w = s.waits[id]
	}
	last := w.gaps[len(w.gaps)-1]
	last.held = append(last.held, heldEvent{ev: *ev, since: time.Now()})
	s.p.stats.Held.Add(1)
	s.p.stats.HeldTotal.Add(1)
	return true
}

// gapForAll reports whether a gap open now concerns every interaction
// (not only some agents, Gap.Only): only then can an interaction not
// known yet have to wait.
func (s *shard) gapForAll() bool {
	for _, g := range s.gaps {
		if len(g.Only) == 0 {
			return true
		}
	}
	return false
}

// history takes a gap's history of one interaction: it goes before the
// observations held for that gap, or, if nothing waits for it, is applied
// at once. An interaction first met this way may have lived through other
// gaps still open (it was not known when they began): it waits for them.
func (s *shard) history(ctx context.Context, ev *bridge.Event) {
	id := ev.InteractionID
	if w := s.waits[id]; w != nil {
		for _, a := range w.gaps {
			if a.gap.ID == ev.HistoryOf && !a.resolved {
				h := *ev
				a.history, a.resolved = &h, true
				s.release(ctx, id)
				return
			}
		}
	}
	known := s.machine.Known(id)
	s.apply(ctx, ev)
	if known || s.waits[id] != nil || s.machine.Status(id) == bridge.StatusCompleted {
		return
	}
	first := ev.First()
	var gaps []*bridge.Gap
	for _, g := range s.gaps {
		if g.ID != ev.HistoryOf && len(g.Only) == 0 && first.Before(g.To) {
			gaps = append(gaps, g)
		}
	}
	slices.SortFunc(gaps, func(a, b *bridge.Gap) int { return cmp.Compare(a.ID, b.ID) })
	for _, g := range gaps {
		s.await(id, g)
	}
}

// gapClosed resolves g for every interaction still waiting for it.
func (s *shard) gapClosed(ctx context.Context, g *bridge.Gap) {
	if _, open := s.gaps[g.ID]; !open {
		return // expired earlier
	}
	delete(s.gaps, g.ID)
	s.resolveGap(ctx, g.ID, g.Incomplete)
}

// expireGaps releases, marked incomplete, the interactions waiting for a
// gap past its deadline.
func (s *shard) expireGaps(ctx context.Context, now time.Time) {
	for id, g := range s.gaps {
		if g.Deadline.IsZero() || now.Before(g.Deadline) {
			continue
		}
		delete(s.gaps, id)
		n := s.resolveGap(ctx, id, true)
		if n > 0 {
			s.p.log.Warn("gap's history not complete by its deadline; released the interactions waiting for it", "gap", id,
				"interactions", n, "gap_from", g.From.UTC().Format(time.RFC3339Nano), "gap_to", g.To.UTC().Format(time.RFC3339Nano))
		}
	}
}

// resolveGap resolves gap id for every interaction waiting for it without
// its history, and releases what can go. It returns how many there were.
func (s *shard) resolveGap(ctx context.Context, id uint64, incomplete bool) int {
	var ids []string
	for iid, w := range s.waits {
		for _, a := range w.gaps {
			if a.gap.ID == id && !a.resolved {
				a.resolved, a.incomplete = true, incomplete
				ids = append(ids, iid)
			}
		}
	}
	slices.Sort(ids) // a deterministic order of publishing
	for _, iid := range ids {
		s.release(ctx, iid)
	}
	return len(ids)
}

// release applies, oldest gap first, every resolved gap's history and the
// observations held behind it, up to the first gap still unresolved.
func (s *shard) release(ctx context.Context, id string) {
	w := s.waits[id]
	for len(w.gaps) > 0 && w.gaps[0].resolved {
		a := w.gaps[0]
		w.gaps = w.gaps[1:]
		if a.history != nil {
			h := *a.history
			if s.heldAfter(w, a) {
				// Observations wait behind the history: they tell what
				// happened after the gap.
				var ok bool
				// (Cut a little after the gap's end: the same moment may be a
				// few milliseconds later in analytics' clock.)
				if h, ok = a.history.Truncated(a.gap.To.Add(bridge.CrossSourceTolerance)); ok {
					s.apply(ctx, &h)
				}
			} else {
				s.apply(ctx, &h)
			}
		}
		now := time.Now()
		for i := range a.held {
			he := &a.held[i]
			he.ev.MarkIncomplete(a.incomplete)
			s.p.stats.Held.Add(-1)
			waited := now.Sub(he.since)
			if f := s.p.cfg.OnHeld; f != nil {
				f(waited, a.incomplete)
			}
			s.p.log.Debug("frame released after waiting for a gap's history", "interaction_id", id, "gap", a.gap.ID,
				"waited", waited.Round(time.Millisecond).String(), "history", a.history != nil, "incomplete", a.incomplete)
			s.apply(ctx, &he.ev)
		}
	}
	if len(w.gaps) == 0 {
		delete(s.waits, id)
		s.p.stats.Waiting.Add(-1)
	}
}

// heldAfter reports whether observations are held behind a (its own or
// later gaps').
func (s *shard) heldAfter(w *waiting, a *awaited) bool {
	if len(a.held) > 0 {
		return true
	}
	for _, b := range w.gaps {
		if len(b.held) > 0 {
			return true
		}
	}
	return false
}
