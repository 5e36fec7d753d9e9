package genesys

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/genesys/internal/wsock"
	"github.com/genesys-bridge/genesys-bridge/internal/retry"
	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// detailsChunk bounds the predicates of one analytics query.
const detailsChunk = 50

// openGap tells the pipeline that lane l missed what happened between from
// (its last frame, less BackfillSlack) and to (its new socket), before any
// frame of the new socket flows, then fills the gap in the background.
// It reports false if ctx ended first.
func (s *Stream) openGap(ctx context.Context, l *lane, from, to time.Time) bool {
	g := &bridge.Gap{ID: s.gapSeq.Add(1), From: from.Add(-s.cfg.BackfillSlack), To: to, Deadline: to.Add(s.cfg.BackfillMaxWait),
		InheritedUntil: l.inheritedUntil}
	l.inheritedUntil = time.Time{}
	s.gapOpened(l, g.ID, g.From)
	if !s.Deliver(ctx, nil, wsock.Item{Ev: bridge.Event{Kind: bridge.KindGapOpened, Gap: g}}) {
		return false
	}
	s.bf.Go(func() { s.backfill(ctx, l, g) })
	return true
}

// backfill delivers the history of gap g: once analytics covers the gap
// (BackfillLag after its end), the analytics details of the conversations
// active in it on the lane's queues and users, and of the interactions
// believed open, each marked as g's history; then the gap's end. The
// pipeline holds back the live frames of interactions that may have
// changed in the gap until then, so what happened in it is published
// first, in order. Following Genesys's advice, the new socket is already
// subscribed when this queries.
//
// If a query fails, the interactions believed open are fetched with GET
// /api/v2/conversations/{id} instead (their state now, without the holds
// of the gap) and the gap is closed as incomplete.
func (s *Stream) backfill(ctx context.Context, l *lane, g *bridge.Gap) {
	if !retry.Sleep(ctx, time.Until(g.To.Add(s.cfg.BackfillLag))) {
		return
	}
	var open []string
	if s.cfg.OpenInteractions != nil {
		open = s.cfg.OpenInteractions(ctx)
	}
	s.log.Info("back-fill started", "lane", l.index, "gap", g.ID, "from", g.From.UTC().Format(time.RFC3339Nano),
		"to", g.To.UTC().Format(time.RFC3339Nano), "open_interactions", len(open))
	seen := map[string]bool{}
	histories, failed, ok := s.deliverHistories(ctx, l, g, open, seen)
	if !ok {
		return
	}
	// Members who joined in the gap (their notification was lost with it)
	// are followed behind gaps of their own.
	followed := l.agentIDs()
	if !s.rejoin(ctx, l, g) {
		return
	}
	agents, agentsFailed, ok := s.deliverAgentHistories(ctx, l, g, followed)
	if !ok {
		return
	}
	histories += agents
	failed = failed || agentsFailed
	states := 0
	if failed {
		for _, id := range open {
			if seen[id] {
				continue
			}
			if ok, delivered := s.fetchState(ctx, l, id, g); !ok {
				return
			} else if delivered {
				states++
			}
		}
	}
	if !s.Deliver(ctx, nil, wsock.Item{Ev: bridge.Event{Kind: bridge.KindGapClosed, Gap: &bridge.Gap{ID: g.ID, From: g.From, To: g.To, Incomplete: failed}}}) {
		return
	}
	s.gapClosed(l, g.ID)
	s.backfilled.Add(uint64(histories + states))
	s.log.Info("back-fill done", "lane", l.index, "gap", g.ID, "histories", histories, "live_states", states, "incomplete", failed)
}

// deliverHistories queries analytics for the conversations of gap g (the
// lane's queues and users in the gap, and the open interactions by id)
// and delivers each one's history once, recording it in seen. failed
// reports a query that failed for good; ok is false if ctx ended.
func (s *Stream) deliverHistories(ctx context.Context, l *lane, g *bridge.Gap, open []string, seen map[string]bool) (histories int, failed, ok bool) {
	filters := chunks(l.filter)
	// Open interactions may have started long before the gap: ask for them
	// by id, as far back as the API allows.
	open = slices.Sorted(slices.Values(open))
	for i := 0; i < len(open); i += detailsChunk {
		filters = append(filters, DetailsFilter{ConversationIDs: open[i:min(i+detailsChunk, len(open))]})
	}
	for _, f := range filters {
		from := g.From
		if len(f.ConversationIDs) > 0 {
			from = g.To.Add(-MaxDetailsInterval)
		}
		dcs, err := s.queryHistory(ctx, l, g, from, f)
		if err != nil {
			if ctx.Err() != nil {
				return histories, failed, false
			}
			failed = true
			s.log.Error("back-fill: analytics query failed; the gap's transitions may be incomplete", "lane", l.index, "gap", g.ID, "err", err)
			continue
		}
		for i := range dcs {
			dc := &dcs[i]
			if seen[dc.ConversationID] {
				continue
			}
			seen[dc.ConversationID] = true
			ev, err := DeriveDetails(dc, time.Now())
			if err != nil {
				s.log.Warn("back-fill: details not derivable", "interaction_id", text.Truncate(dc.ConversationID, 64), "err", err)
				continue
			}
			ev.HistoryOf = g.ID
			if !s.Deliver(ctx, nil, wsock.Item{Ev: ev}) {
				return histories, failed, false
			}
			histories++
		}
	}
	return histories, failed, true
}

// deliverAgentHistories queries analytics for the routing status and
// presence intervals of agents (of lane l) in gap g and delivers each
// agent's as its history. failed reports a query that failed for good
// (the agents then wait for the gap's close and go on marked incomplete);
// ok is false if ctx ended.
func (s *Stream) deliverAgentHistories(ctx context.Context, l *lane, g *bridge.Gap, agents []string) (histories int, failed, ok bool) {
	for i := 0; i < len(agents); i += detailsChunk {
		ids := agents[i:min(i+detailsChunk, len(agents))]
		var uds []UserDetail
		err := s.queryRetrying(ctx, l, g, "users details", func(ctx context.Context) (err error) {
			uds, err = s.restClient(l).QueryUserDetails(ctx, g.From, g.To.Add(time.Second), ids)
			return err
		})
		if err != nil {
			if ctx.Err() != nil {
				return histories, failed, false
			}
			failed = true
			s.log.Error("back-fill: users details query failed; the gap's agent transitions may be incomplete: the agents' statuses now stand in", "lane", l.index, "gap", g.ID, "err", err)
			for _, id := range ids {
				if ok, delivered := s.fetchAgent(ctx, l, id, g); !ok {
					return histories, failed, false
				} else if delivered {
					histories++
				}
			}
			continue
		}
		for i := range uds {
			ev, err := DeriveUserDetail(&uds[i], time.Now())
			if err != nil {
				s.log.Warn("back-fill: user details not derivable", "user_id", text.Truncate(uds[i].UserID, 64), "err", err)
				continue
			}
			ev.HistoryOf = g.ID
			if !s.Deliver(ctx, nil, wsock.Item{Ev: ev}) {
				return histories, failed, false
			}
			histories++
		}
	}
	return histories, failed, true
}

// queryHistory runs one details query of gap g, retrying what may pass
// (a refused token, a server error) with backoff while the gap's deadline
// leaves time.
func (s *Stream) queryHistory(ctx context.Context, l *lane, g *bridge.Gap, from time.Time, f DetailsFilter) ([]DetailsConversation, error) {
	var dcs []DetailsConversation
	err := s.queryRetrying(ctx, l, g, "analytics", func(ctx context.Context) (err error) {
		// Analytics boundaries may be a few milliseconds off the live clock:
		// a conversation that began just before the gap's end must match.
		dcs, err = s.restClient(l).QueryConversationDetails(ctx, from, g.To.Add(time.Second), f)
		return err
	})
	return dcs, err
}

// queryRetrying runs one query of gap g's history, retrying what may pass
// (a refused token, a server error) with backoff while the gap's deadline
// leaves time.
func (s *Stream) queryRetrying(ctx context.Context, l *lane, g *bridge.Gap, what string, query func(ctx context.Context) error) error {
	return s.retryQuery(ctx, g.Deadline, "back-fill: "+what+" query failed; retrying", query, "lane", l.index, "gap", g.ID)
}

// retryQuery runs a REST query until it passes, fails for good (see
// retryQuery's rule), ctx ends or deadline (if set) passes; each retry is
// logged as msg with attrs.
func (s *Stream) retryQuery(ctx context.Context, deadline time.Time, msg string, query func(ctx context.Context) error, attrs ...any) error {
	return s.retry.Do(ctx, deadline, func(ctx context.Context) error {
		err := query(ctx)
		if err != nil && !retryQuery(err) {
			return retry.Permanent(err)
		}
		return err
	}, func(a retry.Attempt) {
		s.log.Warn(msg, append(attrs, "attempt", a.N, "wait", a.Wait.String(), "err", a.Err)...)
	})
}

// retryQuery reports whether a failed query may pass later: not when the
// credentials are refused, the query is wrong or the client lacks the
// permission.
func retryQuery(err error) bool {
	if errors.Is(err, ErrBadCredentials) {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		switch ae.Status {
		case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusNotImplemented:
			return false
		}
	}
	return true
}

// fetchState delivers an interaction's state now, from GET, as g's
// history. ok is false if ctx ended.
func (s *Stream) fetchState(ctx context.Context, l *lane, id string, g *bridge.Gap) (ok, delivered bool) {
	conv, err := s.restClient(l).GetConversation(ctx, id)
	if err != nil {
		if ctx.Err() != nil {
			return false, false
		}
		if !IsNotFound(err) {
			s.log.Warn("back-fill: get conversation failed", "interaction_id", id, "err", err)
		}
		return true, false
	}
	ev, err := Derive(conv, time.Now())
	if err != nil {
		s.log.Warn("back-fill: conversation not derivable", "interaction_id", id, "err", err)
		return true, false
	}
	ev.Backfilled, ev.HistoryOf = true, g.ID
	return s.Deliver(ctx, nil, wsock.Item{Ev: ev}), true
}

// fetchAgent delivers an agent's routing status and presence now (GET),
// as g's history: the third source, when analytics failed. ok is false if
// ctx ended.
func (s *Stream) fetchAgent(ctx context.Context, l *lane, id string, g *bridge.Gap) (ok, delivered bool) {
	ev, err := s.restClient(l).AgentNow(ctx, id)
	if err != nil {
		if ctx.Err() != nil {
			return false, false
		}
		s.log.Warn("back-fill: get agent's status failed", "user_id", id, "err", err)
		return true, false
	}
	ev.HistoryOf = g.ID
	return s.Deliver(ctx, nil, wsock.Item{Ev: ev}), true
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
