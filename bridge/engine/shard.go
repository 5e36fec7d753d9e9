package engine

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/internal/handoff"
	"github.com/genesys-bridge/genesys-bridge/internal/retry"
)

// queue holds an interaction's transitions not yet acknowledged (the head
// is in flight) and the last event that produced some, to derive them
// again after a conflict.
type queue struct {
	pend []*pending
	ev   bridge.Event
	room [2]*pending // pend's first backing array
}

// pending is one transition, or one completion's timings, handed to the
// publisher.
type pending struct {
	t       bridge.Transition // for timings: only InteractionID is set
	timings *bridge.Timings
	q       *queue        // the interaction's queue, which holds it
	held    bridge.Handle // the Machine's record of it
	acks    *ackQueue     // its shard's, where Complete hands it back
	// The outcome, set by Complete.
	duplicate bool
	version   uint64
	err       error
}

// Complete is the publisher's report on p (p is its Receipt): it records
// the outcome and hands p back to its shard, which handles it in its own
// loop. Never blocks.
func (p *pending) Complete(duplicate bool, version uint64, err error) {
	p.duplicate, p.version, p.err = duplicate, version, err
	p.acks.push(p)
}

// ackQueue is where completed publishes come back to their shard:
// unbounded, so a publisher completing one never waits for the shard, and
// drained in batches.
type ackQueue struct {
	mu     sync.Mutex
	items  []*pending
	signal chan struct{} // one token while items is not empty
}

func (q *ackQueue) push(p *pending) {
	q.mu.Lock()
	q.items = append(q.items, p)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// take moves the queued items into buf.
func (q *ackQueue) take(buf []*pending) []*pending {
	q.mu.Lock()
	defer q.mu.Unlock()
	buf = append(buf[:0], q.items...)
	clear(q.items)
	q.items = q.items[:0]
	return buf
}

type shard struct {
	p         *Pipeline
	index, of int // its place among the pipeline's shards (shardOf)
	pub       bridge.Publisher
	timings   bridge.TimingsPublisher // nil: pub publishes no timings
	in        *handoff.Queue[bridge.Event]
	machine   *bridge.Machine
	// queues holds, per interaction, transitions not yet acknowledged; the
	// head is in flight. At most one transition per interaction is in
	// flight, so retries cannot reorder an interaction's transitions.
	queues map[string]*queue
	// inheritedTo is the latest end of an inherited gap (a lane taken over
	// from another replica): an interaction first met with a start before
	// it may have been published by that replica (mayBePersisted).
	inheritedTo time.Time
	acks        ackQueue
	acked       []*pending // taken from acks
	freeP       []*pending // recycled: a pending is done with once complete returns
	freeQ       []*queue
	outstanding int
	limit       int
	buf         []bridge.Transition
	queries     chan chan []string
	stopped     chan struct{}
	// gaps are the source's gaps whose history is still awaited; waits are
	// the interactions waiting for them, with their held observations.
	gaps  map[uint64]*bridge.Gap
	waits map[string]*waiting
	// stale holds the interactions known when an inherited gap opened:
	// the replica that read their lane may have published past what this
	// shard knows, so their state is loaded again before they change.
	stale map[string]bool
}

func newShard(p *Pipeline, pub bridge.Publisher, limit int) *shard {
	tp, _ := pub.(bridge.TimingsPublisher)
	return &shard{
		p:       p,
		pub:     pub,
		timings: tp,
		in:      handoff.New[bridge.Event](64),
		machine: bridge.NewMachine(p.cfg.Machine),
		queues:  make(map[string]*queue),
		acks:    ackQueue{signal: make(chan struct{}, 1)},
		limit:   limit,
		queries: make(chan chan []string),
		stopped: make(chan struct{}),
		gaps:    make(map[uint64]*bridge.Gap),
		waits:   make(map[string]*waiting),
		stale:   make(map[string]bool),
	}
}

func (s *shard) run(ctx context.Context) {
	defer close(s.stopped)
	tick := time.NewTicker(s.p.cfg.SweepInterval)
	defer tick.Stop()
	var batch []bridge.Event // taken from s.in; batch[next:] not handled yet
	next, ended := 0, false
	for {
		if next == len(batch) && !ended {
			batch, ended = s.in.Take(batch)
			next = 0
		}
		for next < len(batch) && s.outstanding < s.limit {
			ev := &batch[next]
			next++
			s.handle(ctx, ev)
		}
		if ended && s.outstanding == 0 {
			return
		}
		var ready <-chan struct{}
		if next == len(batch) && !ended {
			ready = s.in.Ready()
		}
		select {
		case <-ready:
		case <-s.acks.signal:
			s.acked = s.acks.take(s.acked)
			now := time.Now() // one clock read per batch of acknowledgements
			for _, p := range s.acked {
				s.complete(ctx, p, now)
			}
			clear(s.acked)
		case now := <-tick.C:
			s.sweep(now)
			s.expireGaps(ctx, now)
		case reply := <-s.queries:
			reply <- s.machine.OpenIDs()
		case <-ctx.Done():
			// Drain deadline: whatever is outstanding stays unacknowledged.
			return
		}
	}
}

func (s *shard) handle(ctx context.Context, ev *bridge.Event) {
	switch {
	case ev.Kind == bridge.KindGapOpened:
		s.gapOpened(ev.Gap)
	case ev.Kind == bridge.KindGapClosed:
		s.gapClosed(ctx, ev.Gap)
	case ev.HistoryOf != 0:
		s.history(ctx, ev)
	case !s.hold(ev):
		s.apply(ctx, ev)
	}
}

// apply applies one observation and publishes what it causes.
func (s *shard) apply(ctx context.Context, ev *bridge.Event) {
	st := &s.p.stats
	if store := s.p.cfg.State; store != nil && (s.stale[ev.InteractionID] || !s.machine.Known(ev.InteractionID) && s.mayBePersisted(ev)) {
		delete(s.stale, ev.InteractionID)
		found, ok := s.restore(ctx, store, ev.InteractionID)
		if !ok {
			return // ctx ended: the pipeline is stopping
		}
		// The stored state may be ahead of this event (another writer saw
		// newer frames): like a replay, its untimed status proves nothing.
		ev.MarkReplayed(found)
	}
	before, _ := s.machine.Len()
	var verdict bridge.Verdict
	s.buf, verdict = s.machine.Apply(ev, s.buf[:0])
	after, _ := s.machine.Len()
	st.Open.Add(int64(after - before))
	switch verdict {
	case bridge.VerdictStale:
		st.Stale.Add(1)
	case bridge.VerdictUnchanged:
		st.Unchanged.Add(1)
	case bridge.VerdictLate:
		st.Late.Add(1)
	}
	if verdict != bridge.VerdictApplied && ev.Backfilled {
		s.p.log.Debug("back-filled event changed nothing", "interaction_id", ev.InteractionID, "verdict", verdict.String(), "status", string(ev.Status))
	}
	if ev.Incomplete() {
		for i := range s.buf {
			s.buf[i].Incomplete = true
		}
	}
	s.enqueue(ctx, ev)
}

// enqueue hands the transitions in s.buf to the publisher, at most one in
// flight per interaction.
func (s *shard) enqueue(ctx context.Context, ev *bridge.Event) {
	st := &s.p.stats
	for i := range s.buf {
		t := &s.buf[i]
		st.Transitions.Add(1)
		if s.p.log.Enabled(ctx, slog.LevelDebug) {
			if c := t.Agent; c != nil {
				s.p.log.Debug("agent transition", "user_id", t.InteractionID, "from", string(c.FromRouting)+"/"+string(c.FromPresence),
					"to", string(c.ToRouting)+"/"+string(c.ToPresence), "backfilled", t.Backfilled, "reconstructed", t.Reconstructed)
			} else {
				s.p.log.Debug("transition", "interaction_id", t.InteractionID, "from", string(t.FromStatus), "to", string(t.ToStatus),
					"backfilled", t.Backfilled, "reconstructed", t.Reconstructed)
			}
		}
		if t.Incomplete {
			st.Incomplete.Add(1)
			s.p.log.Warn("transition published without the gap's complete history", "interaction_id", t.InteractionID,
				"from", string(t.FromStatus), "to", string(t.ToStatus))
		}
		if t.Agent == nil && !s.p.cfg.Filter.Match(t.ChannelType, t.ToStatus) {
			st.Filtered.Add(1)
			continue
		}
		q := s.queues[t.InteractionID]
		if q == nil {
			q = s.newQueue()
			s.queues[t.InteractionID] = q
		}
		q.ev = *ev
		held := s.machine.Handle(t.InteractionID)
		if t.Timings != nil && s.timings != nil {
			// The timings go first: if the completion is not stored (the
			// process dies), it is derived again after a restart, and so
			// are they, with the same id.
			p := s.newPending()
			p.t.InteractionID, p.timings = t.InteractionID, t.Timings
			s.push(ctx, q, p)
		}
		p := s.newPending()
		p.t, p.held = *t, held
		s.push(ctx, q, p)
	}
}

// push queues p behind the interaction's other transitions, and sends it
// if it is the only one.
func (s *shard) push(ctx context.Context, q *queue, p *pending) {
	p.q = q
	s.outstanding++
	s.p.stats.Outstanding.Add(1)
	q.pend = append(q.pend, p)
	if len(q.pend) == 1 {
		s.send(ctx, p)
	}
}

// mayBePersisted reports whether an earlier run (or another writer) may
// have published this unknown interaction: it began before this pipeline
// started, give or take the clock skew, and, if states were preloaded,
// before what they cover; or before the end of an inherited gap (a lane
// taken over from a replica that may have published since this pipeline
// started); or this run may have published it, released it and forgotten
// it (Machine.Forgotten). (Another writer publishing it
// since is caught by the compare-and-set on its first transition.)
func (s *shard) mayBePersisted(ev *bridge.Event) bool {
	first := ev.First()
	if forgotten := s.machine.Forgotten(); !forgotten.IsZero() && !first.After(forgotten.Add(s.p.cfg.ClockSkew)) {
		return true
	}
	s.p.mu.Lock()
	started, preloaded := s.p.started, s.p.preloadedFrom
	s.p.mu.Unlock()
	if !s.inheritedTo.IsZero() && first.Before(s.inheritedTo.Add(s.p.cfg.ClockSkew)) {
		return true // the lane's last reader may have published it since this pipeline started
	}
	return first.Before(started.Add(s.p.cfg.ClockSkew)) && (preloaded.IsZero() || first.Before(preloaded))
}

// restore loads a persisted state, retrying while the store is
// unreachable (the shard stalls, which is the backpressure).
func (s *shard) restore(ctx context.Context, store bridge.StateStore, id string) (found, ok bool) {
	err := retry.Policy{Base: 100 * time.Millisecond, Max: 5 * time.Second}.Do(ctx, time.Time{}, func(ctx context.Context) error {
		state, ok, err := store.Load(ctx, id)
		if err != nil {
			return err
		}
		s.p.stats.Loads.Add(1)
		if found = ok; found {
			before, _ := s.machine.Len()
			s.machine.Restore(id, state, time.Now())
			after, _ := s.machine.Len()
			s.p.stats.Open.Add(int64(after - before))
			s.p.stats.Restored.Add(1)
		}
		return nil
	}, func(a retry.Attempt) {
		s.p.log.Warn("load interaction state failed; retrying", "interaction_id", id, "attempt", a.N, "wait", a.Wait.String(), "err", a.Err)
	})
	return found, err == nil
}

func (s *shard) send(ctx context.Context, p *pending) {
	if p.timings != nil {
		s.timings.PublishTimings(ctx, p.timings, p)
		return
	}
	if v, owned, ok := s.machine.VersionOf(p.held, p.t.InteractionID); ok && (!owned || s.p.shared()) {
		p.t.CheckVersion, p.t.ExpectVersion = true, v
	}
	s.pub.Publish(ctx, &p.t, p)
}

// complete handles p's receipt, completed at now.
func (s *shard) complete(ctx context.Context, p *pending, now time.Time) {
	st := &s.p.stats
	if err := p.err; err != nil {
		if conflict, ok := errors.AsType[*bridge.ConflictError](err); ok {
			s.conflict(ctx, conflict)
			return
		}
	}
	switch err := p.err; {
	case p.timings != nil && err != nil:
		st.TimingsFailed.Add(1)
		s.p.log.Error("publish timings failed", "interaction_id", p.timings.InteractionID, "timings_id", p.timings.ID, "err", err)
	case p.timings != nil:
		st.Timings.Add(1)
		if f := s.p.cfg.OnTimings; f != nil {
			f(p.timings)
		}
	case err != nil:
		st.Failed.Add(1)
		s.p.log.Error("publish failed", "interaction_id", p.t.InteractionID, "transition_id", p.t.ID,
			"to_status", string(p.t.ToStatus), "err", err)
	default:
		st.Published.Add(1)
		s.machine.SetVersionOf(p.held, p.t.InteractionID, p.version)
		if p.duplicate {
			st.Duplicates.Add(1)
			s.p.sawDuplicate(now)
		}
		if f := s.p.cfg.OnPublished; f != nil {
			f(&p.t, p.duplicate, now)
		}
	}
	s.outstanding--
	st.Outstanding.Add(-1)
	q := p.q
	q.pend = q.pend[1:]
	if len(q.pend) == 0 {
		delete(s.queues, p.t.InteractionID)
		s.freeQueue(q)
	} else {
		s.send(ctx, q.pend[0])
	}
	s.freePending(p)
}

// Free lists, bounded: at full speed a transition costs no allocation for
// its bookkeeping. The publisher is done with a receipt once it completed
// it, and OnPublished with the transition once it returned.
const freeListMax = 4096

func (s *shard) newPending() *pending {
	if n := len(s.freeP); n > 0 {
		p := s.freeP[n-1]
		s.freeP = s.freeP[:n-1]
		return p
	}
	return &pending{acks: &s.acks}
}

func (s *shard) freePending(p *pending) {
	if len(s.freeP) < freeListMax {
		*p = pending{acks: &s.acks}
		s.freeP = append(s.freeP, p)
	}
}

func (s *shard) newQueue() *queue {
	if n := len(s.freeQ); n > 0 {
		q := s.freeQ[n-1]
		s.freeQ = s.freeQ[:n-1]
		return q
	}
	q := &queue{}
	q.pend = q.room[:0]
	return q
}

func (s *shard) freeQueue(q *queue) {
	if len(s.freeQ) < freeListMax {
		*q = queue{}
		q.pend = q.room[:0]
		s.freeQ = append(s.freeQ, q)
	}
}

// conflict adopts the state another writer persisted, drops this
// interaction's transitions still waiting (they were derived from a state
// the stream has moved past) and applies the interaction's last event again
// on top of the adopted state: whatever it proves beyond that state is
// published, with a compare-and-set on the adopted version.
func (s *shard) conflict(ctx context.Context, c *bridge.ConflictError) {
	st := &s.p.stats
	q := s.queues[c.InteractionID]
	delete(s.queues, c.InteractionID)
	s.outstanding -= len(q.pend)
	st.Outstanding.Add(-int64(len(q.pend)))
	st.Conflicts.Add(1)
	s.machine.Restore(c.InteractionID, c.State, time.Now())
	q.ev.MarkReplayed(true) // the other writer may have applied newer frames
	s.buf, _ = s.machine.Apply(&q.ev, s.buf[:0])
	s.p.log.Warn("another writer is ahead for this interaction; adopted its state and re-applied the last event", "interaction_id", c.InteractionID,
		"status", string(c.State.Status), "version", c.State.Version, "dropped", len(q.pend), "re-derived", len(s.buf))
	s.enqueue(ctx, &q.ev)
}

func (s *shard) sweep(now time.Time) {
	before, _ := s.machine.Len()
	n := s.machine.Sweep(now)
	after, _ := s.machine.Len()
	s.p.stats.Released.Add(uint64(n))
	s.p.stats.Open.Add(int64(after - before))
}
