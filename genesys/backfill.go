package genesys

import (
	"context"
	"sync"
	"time"
)

// detailsChunk bounds the predicates of one analytics query.
const detailsChunk = 50

// startBackfill fills the gap [from, to] of lane l in the background and
// calls release once the first pass is delivered (or BackfillHold passed).
func (s *Stream) startBackfill(ctx context.Context, l *lane, from, to time.Time, release func()) {
	var once sync.Once
	var hold *time.Timer
	done := func() { once.Do(func() { hold.Stop(); release() }) }
	hold = time.AfterFunc(s.cfg.BackfillHold, func() {
		once.Do(func() {
			s.log.Warn("back-fill's first pass still running after the hold; live frames flow before it ends", "hold", s.cfg.BackfillHold.String(), "lane", l.index)
			release()
		})
	})
	s.bf.Go(func() {
		defer done()
		s.backfill(ctx, l, from, to, done)
	})
}

// backfill recovers what a lane missed between its last frame (from) and
// its new socket (to), following Genesys's advice: re-subscribe first (the
// new socket is up), then query. Pass one, before live frames flow again:
//
//  1. analytics details (which keep each conversation's history, holds
//     included) for conversations that started in [from - slack, to] on the
//     lane's queues and users, as far as analytics covers (its end kept
//     BackfillLag behind now), and for the interactions believed open;
//  2. GET /api/v2/conversations/{id} for each interaction believed open,
//     for its state now.
//
// Pass two, if analytics did not yet cover the whole gap, waits until it
// does and queries the rest. Everything goes through Read like a live frame,
// marked back-filled: the state machine publishes only what was missed,
// with the ids the live frames would have had.
func (s *Stream) backfill(ctx context.Context, l *lane, from, to time.Time, release func()) {
	from = from.Add(-s.cfg.BackfillSlack)
	var open []string
	if s.cfg.OpenInteractions != nil {
		open = s.cfg.OpenInteractions(ctx)
	}
	s.log.Info("back-fill started", "lane", l.index, "from", from.UTC().Format(time.RFC3339Nano), "to", to.UTC().Format(time.RFC3339Nano),
		"open_interactions", len(open))
	covered := time.Now().Add(-s.cfg.BackfillLag)
	if to.Before(covered) {
		covered = to
	}
	histories := 0
	if covered.After(from) {
		n, ok := s.deliverDetails(ctx, l, from, covered, nil)
		if !ok {
			return
		}
		histories += n
	}
	if len(open) > 0 {
		// Open interactions may have started long before the gap.
		n, ok := s.deliverDetails(ctx, l, to.Add(-7*24*time.Hour), to.Add(time.Second), open)
		if !ok {
			return
		}
		histories += n
	}
	states := 0
	for _, id := range open {
		conv, err := s.cfg.Client.GetConversation(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !IsNotFound(err) {
				s.log.Warn("back-fill: get conversation failed", "interaction_id", id, "err", err)
			}
			continue
		}
		ev, err := Derive(conv, time.Now())
		if err != nil {
			s.log.Warn("back-fill: conversation not derivable", "interaction_id", id, "err", err)
			continue
		}
		ev.Backfilled = true
		if !s.deliver(ctx, nil, item{ev: ev}) {
			return
		}
		states++
	}
	release()
	if covered.Before(to) {
		// Analytics data lags: wait until the rest of the gap is covered.
		if !sleepCtx(ctx, time.Until(to.Add(s.cfg.BackfillLag))) {
			return
		}
		rest := covered
		if rest.Before(from) {
			rest = from
		}
		n, ok := s.deliverDetails(ctx, l, rest, to, nil)
		if !ok {
			return
		}
		histories += n
	}
	s.backfilled.Add(uint64(histories + states))
	s.log.Info("back-fill done", "lane", l.index, "histories", histories, "live_states", states)
}

// deliverDetails queries analytics details for [from, to) (the lane's
// queues and users, or the given conversation ids) and delivers them.
func (s *Stream) deliverDetails(ctx context.Context, l *lane, from, to time.Time, ids []string) (int, bool) {
	filters := chunks(l.filter)
	if ids != nil {
		filters = nil
		for i := 0; i < len(ids); i += detailsChunk {
			filters = append(filters, DetailsFilter{ConversationIDs: ids[i:min(i+detailsChunk, len(ids))]})
		}
	}
	n := 0
	for _, f := range filters {
		dcs, err := s.cfg.Client.QueryConversationDetails(ctx, from, to, f)
		if err != nil {
			if ctx.Err() != nil {
				return n, false
			}
			s.log.Error("back-fill: analytics query failed; transitions in the gap may be missing", "lane", l.index, "err", err)
			continue
		}
		for i := range dcs {
			ev, err := DeriveDetails(&dcs[i], time.Now())
			if err != nil {
				s.log.Warn("back-fill: details not derivable", "interaction_id", truncate(dcs[i].ConversationID, 64), "err", err)
				continue
			}
			if !s.deliver(ctx, nil, item{ev: ev}) {
				return n, false
			}
			n++
		}
	}
	return n, true
}

// chunks splits a filter into filters of at most detailsChunk predicates.
func chunks(f DetailsFilter) []DetailsFilter {
	var out []DetailsFilter
	for i := 0; i < len(f.QueueIDs); i += detailsChunk {
		out = append(out, DetailsFilter{QueueIDs: f.QueueIDs[i:min(i+detailsChunk, len(f.QueueIDs))]})
	}
	for i := 0; i < len(f.UserIDs); i += detailsChunk {
		out = append(out, DetailsFilter{UserIDs: f.UserIDs[i:min(i+detailsChunk, len(f.UserIDs))]})
	}
	return out
}
