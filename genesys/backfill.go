package genesys

import (
	"context"
	"time"
)

// detailsChunk bounds the predicates of one analytics query.
const detailsChunk = 50

// startBackfill fills the gap [from, to] of lane l in the background.
func (s *Stream) startBackfill(ctx context.Context, l *lane, from, to time.Time) {
	s.bf.Go(func() { s.backfill(ctx, l, from, to) })
}

// backfill recovers what a lane missed between its last frame (from) and
// its new socket (to), following Genesys's advice: re-subscribe first (done:
// the new socket is up), then query.
//
//  1. At once, GET /api/v2/conversations/{id} for each interaction believed
//     open, so current statuses are right without waiting.
//  2. Once analytics covers the gap (to + BackfillLag), query conversation
//     details for conversations that started in [from - slack, to] on the
//     lane's queues and users, and for the open interactions by id. Details
//     keep each conversation's history, holds included.
//
// Every result goes through Read like a live frame, marked back-filled: the
// state machine publishes only what was missed, with the ids the live
// frames would have had.
func (s *Stream) backfill(ctx context.Context, l *lane, from, to time.Time) {
	from = from.Add(-s.cfg.BackfillSlack)
	c := s.cfg.Client
	var open []string
	if s.cfg.OpenInteractions != nil {
		open = s.cfg.OpenInteractions(ctx)
	}
	s.log.Info("back-fill started", "lane", l.index, "from", from.UTC().Format(time.RFC3339Nano), "to", to.UTC().Format(time.RFC3339Nano),
		"open_interactions", len(open))
	fetched := 0
	for _, id := range open {
		conv, err := c.GetConversation(ctx, id)
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
		fetched++
	}

	// Analytics data lags: wait until the gap is BackfillLag behind now.
	if !sleepCtx(ctx, time.Until(to.Add(s.cfg.BackfillLag))) {
		return
	}
	var found []DetailsConversation
	query := func(f DetailsFilter) bool {
		dcs, err := c.QueryConversationDetails(ctx, from, to, f)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("back-fill: analytics query failed; transitions in the gap may be missing", "lane", l.index, "err", err)
			}
			return false
		}
		found = append(found, dcs...)
		return true
	}
	for _, f := range chunks(l.filter) {
		if !query(f) {
			return
		}
	}
	for i := 0; i < len(open); i += detailsChunk {
		if !query(DetailsFilter{ConversationIDs: open[i:min(i+detailsChunk, len(open))]}) {
			return
		}
	}
	seen := map[string]bool{}
	n := 0
	for i := range found {
		dc := &found[i]
		if seen[dc.ConversationID] {
			continue
		}
		seen[dc.ConversationID] = true
		ev, err := DeriveDetails(dc, time.Now())
		if err != nil {
			s.log.Warn("back-fill: details not derivable", "interaction_id", truncate(dc.ConversationID, 64), "err", err)
			continue
		}
		if !s.deliver(ctx, nil, item{ev: ev}) {
			return
		}
		n++
	}
	s.backfilled.Add(uint64(fetched + n))
	s.log.Info("back-fill done", "lane", l.index, "live_states", fetched, "histories", n)
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
