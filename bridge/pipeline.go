package bridge

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Source yields events. Read blocks until an event is available, ctx ends or
// the source fails. A *RejectError from Read means one input was rejected
// and reading may go on; any other error ends the pipeline.
type Source interface {
	Read(ctx context.Context) (Event, error)
}

// Publisher sends transitions to the durable stream. Publish starts sending
// t and completes r once the stream has acknowledged it or the publisher has
// given up (retrying transient failures is the publisher's job). An error
// from Publish itself means t was not sent; r is then not completed.
type Publisher interface {
	Publish(ctx context.Context, t *Transition, r *Receipt) error
}

// Receipt is the outcome of one publish.
type Receipt struct {
	done      chan struct{}
	duplicate bool
	version   uint64
	err       error
}

// NewReceipt returns a Receipt that is not yet complete.
func NewReceipt() *Receipt { return &Receipt{done: make(chan struct{})} }

// Complete records the outcome. duplicate means the stream already held the
// message (a success); version is the persisted version the transition
// now has (its stream sequence), 0 if unknown. Complete must be called once.
func (r *Receipt) Complete(duplicate bool, version uint64, err error) {
	r.duplicate, r.version, r.err = duplicate, version, err
	close(r.done)
}

// ConflictError means another writer persisted a newer state for the
// interaction than the one the transition expected: the transition is not
// published, and State is what the stream holds now.
type ConflictError struct {
	InteractionID string
	State         State
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("interaction %s: another writer is ahead (stream holds %s at version %d)", e.InteractionID, e.State.Status, e.State.Version)
}

// StateStore loads the persisted state of an interaction the pipeline has
// not seen since it started.
type StateStore interface {
	Load(ctx context.Context, interactionID string) (State, bool, error)
}

// Done is closed when the receipt is complete.
func (r *Receipt) Done() <-chan struct{} { return r.done }

// Err is the final error, nil on success. Valid after Done.
func (r *Receipt) Err() error { return r.err }

// Duplicate reports whether the stream already held the message.
func (r *Receipt) Duplicate() bool { return r.duplicate }

// PipelineConfig configures a Pipeline. Zero values are the defaults.
type PipelineConfig struct {
	// Shards is the number of goroutines that own interactions (by hash of
	// the id). Default GOMAXPROCS.
	Shards int
	// MaxOutstanding bounds transitions not yet acknowledged (in flight or
	// waiting behind an earlier transition of the same interaction). When
	// reached, the pipeline stops reading. Default 4096.
	MaxOutstanding int
	// DrainTimeout bounds how long Run waits for acknowledgements after ctx
	// ends. Default 10s.
	DrainTimeout time.Duration
	// SweepInterval is how often completed interactions are released.
	// Default 1s.
	SweepInterval time.Duration
	Filter        Filter
	Machine       MachineConfig
	// State, if set, is asked for the persisted state of an interaction the
	// pipeline meets for the first time, unless the interaction began after
	// the pipeline started (plus ClockSkew): no earlier run can have
	// published it, and a concurrent writer is caught by the compare-and-set.
	State StateStore
	// ClockSkew is the margin between Genesys's clock and this host's for
	// that decision. Default 1m.
	ClockSkew time.Duration
	Logger    *slog.Logger
	// OnPublished, if set, is called once per transition after the stream
	// acknowledged it, from a shard goroutine: it must not block.
	OnPublished func(t *Transition, duplicate bool, ackedAt time.Time)
	// OnHeld, if set, is called for each observation released after it was
	// held back for a gap's history, with how long it waited, from a shard
	// goroutine: it must not block.
	OnHeld func(waited time.Duration, incomplete bool)
}

// Stats are the pipeline's counters. All fields are safe to read at any time.
type Stats struct {
	Events      atomic.Uint64 // valid events read
	Rejected    [4]atomic.Uint64
	Stale       atomic.Uint64
	Unchanged   atomic.Uint64
	Late        atomic.Uint64
	Transitions atomic.Uint64 // derived, before the filter
	Filtered    atomic.Uint64 // derived but not selected by the filter
	Published   atomic.Uint64 // acknowledged by the stream (duplicates included)
	Duplicates  atomic.Uint64 // acknowledged as already stored
	Failed      atomic.Uint64 // the publisher gave up
	Released    atomic.Uint64 // interactions released from memory
	Restored    atomic.Uint64 // interactions whose state was loaded from the store
	Conflicts   atomic.Uint64 // compare-and-set failures: another writer was ahead
	Open        atomic.Int64  // interactions held in memory
	Outstanding atomic.Int64  // transitions not yet acknowledged
	// Gaps in the source and the interactions waiting for their history.
	Gaps       atomic.Uint64 // gaps opened
	GapsOpen   atomic.Int64  // gaps whose history is still awaited
	Waiting    atomic.Int64  // interactions waiting for a gap's history
	Held       atomic.Int64  // observations held back meanwhile
	HeldTotal  atomic.Uint64 // observations ever held back
	Incomplete atomic.Uint64 // transitions published without a gap's complete history
}

// RejectedBy returns the rejected count for one reason.
func (s *Stats) RejectedBy(r Reason) uint64 { return s.Rejected[reasonIndex(r)].Load() }

func reasonIndex(r Reason) int {
	switch r {
	case ReasonMalformed:
		return 0
	case ReasonSchema:
		return 1
	case ReasonOversize:
		return 2
	}
	return 3
}

// Reasons lists every rejection reason.
var Reasons = []Reason{ReasonMalformed, ReasonSchema, ReasonOversize, ReasonUnknown}

// Pipeline reads events from a Source, applies them to per-shard Machines
// and publishes the transitions. See the package documentation for its
// invariants.
type Pipeline struct {
	cfg   PipelineConfig
	log   *slog.Logger
	stats Stats

	mu      sync.Mutex
	shards  []*shard  // while Run runs
	started time.Time // when Run started
	// preload is the persisted state Run starts with, of every interaction
	// the store holds a transition of since preloadedFrom.
	preload       map[string]State
	preloadedFrom time.Time
}

// Preload gives the pipeline, before Run, the persisted state of every
// interaction the store holds a transition of since a time (for example
// publish.JetStream.States): Run starts with them, so the interactions that
// were open are known (a source asks for them after a gap), and only an
// interaction that began before since is still loaded when first met.
func (p *Pipeline) Preload(states map[string]State, since time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.preload, p.preloadedFrom = states, since
}

// NewPipeline returns a Pipeline.
func NewPipeline(cfg PipelineConfig) *Pipeline {
	if cfg.Shards <= 0 {
		cfg.Shards = runtime.GOMAXPROCS(0)
	}
	if cfg.MaxOutstanding <= 0 {
		cfg.MaxOutstanding = 4096
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 10 * time.Second
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = time.Second
	}
	if cfg.ClockSkew <= 0 {
		cfg.ClockSkew = time.Minute
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Pipeline{cfg: cfg, log: log}
}

// Stats returns the live counters.
func (p *Pipeline) Stats() *Stats { return &p.stats }

// ErrUnacknowledged is returned by Run when the drain deadline passed with
// transitions still unacknowledged.
var ErrUnacknowledged = errors.New("transitions left unacknowledged at shutdown")

// Run reads until ctx ends or src fails, then stops reading and waits up to
// DrainTimeout for every outstanding transition to be acknowledged. It
// returns nil after a clean drain, the source's error if it failed, or an
// error wrapping ErrUnacknowledged.
func (p *Pipeline) Run(ctx context.Context, src Source, pub Publisher) error {
	// Publishing outlives reading by at most DrainTimeout.
	pubCtx, cancelPub := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPub()
	stopDrainTimer := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(p.cfg.DrainTimeout, cancelPub)
		context.AfterFunc(pubCtx, func() { t.Stop() })
	})
	defer stopDrainTimer()

	perShard := max(1, p.cfg.MaxOutstanding/p.cfg.Shards)
	shards := make([]*shard, p.cfg.Shards)
	for i := range shards {
		shards[i] = newShard(p, pub, perShard)
	}
	p.mu.Lock()
	now := time.Now()
	for id, st := range p.preload {
		shards[shardOf(id, len(shards))].machine.Restore(id, st, now)
		p.stats.Restored.Add(1)
	}
	for _, s := range shards {
		open, _ := s.machine.Len()
		p.stats.Open.Add(int64(open))
	}
	p.preload = nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range shards {
		wg.Go(func() { s.run(pubCtx) })
	}

	p.mu.Lock()
	p.shards = shards
	p.started = time.Now()
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.shards = nil
		p.mu.Unlock()
	}()

	readErr := p.read(ctx, pubCtx, src, shards)
	for _, s := range shards {
		close(s.in)
	}
	wg.Wait()

	left := p.stats.Outstanding.Load()
	if readErr != nil {
		return readErr
	}
	if left > 0 {
		return fmt.Errorf("%w: %d", ErrUnacknowledged, left)
	}
	return nil
}

// OpenInteractions lists the interactions held in memory that have not
// completed (for a source that must re-fetch them after a gap). It asks
// each shard, so it is safe to call from any goroutine; it returns nil when
// Run is not running or ctx ends first.
func (p *Pipeline) OpenInteractions(ctx context.Context) []string {
	p.mu.Lock()
	shards := p.shards
	p.mu.Unlock()
	var ids []string
	for _, s := range shards {
		reply := make(chan []string, 1)
		select {
		case s.queries <- reply:
		case <-s.stopped:
			continue
		case <-ctx.Done():
			return nil
		}
		select {
		case got := <-reply:
			ids = append(ids, got...)
		case <-ctx.Done():
			return nil
		}
	}
	return ids
}

func (p *Pipeline) read(ctx, pubCtx context.Context, src Source, shards []*shard) error {
	for {
		ev, err := src.Read(ctx)
		if err != nil {
			var rej *RejectError
			if errors.As(err, &rej) {
				p.rejected(rej)
				continue
			}
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read events: %w", err)
		}
		targets := shards
		if ev.Kind == KindObservation {
			if err := ev.Validate(); err != nil {
				var rej *RejectError
				errors.As(err, &rej)
				p.rejected(rej)
				continue
			}
			p.stats.Events.Add(1)
			targets = shards[shardOf(ev.InteractionID, len(shards)):][:1]
		} else if ev.Gap == nil {
			return fmt.Errorf("read events: gap marker without a gap")
		} else if ev.Kind == KindGapOpened {
			p.stats.Gaps.Add(1)
			p.stats.GapsOpen.Add(1)
		} else {
			p.stats.GapsOpen.Add(-1)
		}
		for _, s := range targets { // markers go to every shard
			select {
			case s.in <- ev:
			case <-pubCtx.Done():
				// The drain deadline passed while shards were blocked.
				return nil
			}
		}
	}
}

func (p *Pipeline) rejected(rej *RejectError) {
	p.stats.Rejected[reasonIndex(rej.Reason)].Add(1)
	p.log.Warn("input rejected", "reason", string(rej.Reason), "err", rej.Msg, "excerpt", rej.Excerpt)
}

func shardOf(id string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// queue holds an interaction's transitions not yet acknowledged (the head
// is in flight) and the last event that produced some, to derive them
// again after a conflict.
type queue struct {
	pend []*pending
	ev   Event
}

// pending is one transition handed to the publisher.
type pending struct {
	t Transition
	r *Receipt
}

type shard struct {
	p       *Pipeline
	pub     Publisher
	in      chan Event
	machine *Machine
	// queues holds, per interaction, transitions not yet acknowledged; the
	// head is in flight. At most one transition per interaction is in
	// flight, so retries cannot reorder an interaction's transitions.
	queues      map[string]*queue
	waitq       chan *pending
	acks        chan *pending
	outstanding int
	limit       int
	buf         []Transition
	queries     chan chan []string
	stopped     chan struct{}
	// gaps are the source's gaps whose history is still awaited; waits are
	// the interactions waiting for them, with their held observations.
	gaps  map[uint64]*Gap
	waits map[string]*waiting
}

func newShard(p *Pipeline, pub Publisher, limit int) *shard {
	return &shard{
		p:       p,
		pub:     pub,
		in:      make(chan Event, 64),
		machine: NewMachine(p.cfg.Machine),
		queues:  make(map[string]*queue),
		// Sized so that neither the shard nor the waiter ever blocks on
		// them: outstanding can overshoot limit by one event's transitions.
		waitq:   make(chan *pending, limit+64),
		acks:    make(chan *pending, limit+64),
		limit:   limit,
		queries: make(chan chan []string),
		stopped: make(chan struct{}),
		gaps:    make(map[uint64]*Gap),
		waits:   make(map[string]*waiting),
	}
}

func (s *shard) run(ctx context.Context) {
	var waiter sync.WaitGroup
	waiter.Go(func() { s.wait(ctx) })
	defer func() {
		close(s.stopped)
		close(s.waitq)
		waiter.Wait()
	}()
	tick := time.NewTicker(s.p.cfg.SweepInterval)
	defer tick.Stop()
	in := s.in
	for {
		var gate <-chan Event
		if in != nil && s.outstanding < s.limit {
			gate = in
		}
		select {
		case ev, ok := <-gate:
			if !ok {
				in = nil
				break
			}
			s.handle(ctx, &ev)
		case p := <-s.acks:
			s.complete(ctx, p)
		case now := <-tick.C:
			s.sweep(now)
			s.expireGaps(ctx, now)
		case reply := <-s.queries:
			reply <- s.machine.OpenIDs()
		case <-ctx.Done():
			// Drain deadline: whatever is outstanding stays unacknowledged.
			return
		}
		if in == nil && s.outstanding == 0 {
			return
		}
	}
}

// wait hands completed receipts back to the shard in publish order. Acks on
// one connection arrive in order, so waiting in FIFO order costs nothing.
func (s *shard) wait(ctx context.Context) {
	for p := range s.waitq {
		select {
		case <-p.r.Done():
		case <-ctx.Done():
			// The publisher must complete receipts when its ctx ends; wait
			// for it so the outcome is counted.
			<-p.r.Done()
		}
		s.acks <- p
	}
}

func (s *shard) handle(ctx context.Context, ev *Event) {
	switch {
	case ev.Kind == KindGapOpened:
		s.gapOpened(ev.Gap)
	case ev.Kind == KindGapClosed:
		s.gapClosed(ctx, ev.Gap)
	case ev.HistoryOf != 0:
		s.history(ctx, ev)
	case !s.hold(ev):
		s.apply(ctx, ev)
	}
}

// apply applies one observation and publishes what it causes.
func (s *shard) apply(ctx context.Context, ev *Event) {
	st := &s.p.stats
	if store := s.p.cfg.State; store != nil && !s.machine.Known(ev.InteractionID) && s.mayBePersisted(ev) {
		found, ok := s.restore(ctx, store, ev.InteractionID)
		if !ok {
			return // ctx ended: the pipeline is stopping
		}
		// The stored state may be ahead of this event (another writer saw
		// newer frames): like a replay, its untimed status proves nothing.
		ev.replayed = found
	}
	before, _ := s.machine.Len()
	var verdict Verdict
	s.buf, verdict = s.machine.Apply(ev, s.buf[:0])
	after, _ := s.machine.Len()
	st.Open.Add(int64(after - before))
	switch verdict {
	case VerdictStale:
		st.Stale.Add(1)
	case VerdictUnchanged:
		st.Unchanged.Add(1)
	case VerdictLate:
		st.Late.Add(1)
	}
	if verdict != VerdictApplied && ev.Backfilled {
		s.p.log.Debug("back-filled event changed nothing", "interaction_id", ev.InteractionID, "verdict", verdict.String(), "status", string(ev.Status))
	}
	if ev.incomplete {
		for i := range s.buf {
			s.buf[i].Incomplete = true
		}
	}
	s.enqueue(ctx, ev)
}

// enqueue hands the transitions in s.buf to the publisher, at most one in
// flight per interaction.
func (s *shard) enqueue(ctx context.Context, ev *Event) {
	st := &s.p.stats
	for i := range s.buf {
		t := &s.buf[i]
		st.Transitions.Add(1)
		if s.p.log.Enabled(ctx, slog.LevelDebug) {
			s.p.log.Debug("transition", "interaction_id", t.InteractionID, "from", string(t.FromStatus), "to", string(t.ToStatus),
				"backfilled", t.Backfilled, "reconstructed", t.Reconstructed)
		}
		if t.Incomplete {
			st.Incomplete.Add(1)
			s.p.log.Warn("transition published without the gap's complete history", "interaction_id", t.InteractionID,
				"from", string(t.FromStatus), "to", string(t.ToStatus))
		}
		if !s.p.cfg.Filter.Match(t.ChannelType, t.ToStatus) {
			st.Filtered.Add(1)
			continue
		}
		p := &pending{t: *t, r: NewReceipt()}
		s.outstanding++
		st.Outstanding.Add(1)
		q := s.queues[t.InteractionID]
		if q == nil {
			q = &queue{}
			s.queues[t.InteractionID] = q
		}
		q.ev = *ev
		q.pend = append(q.pend, p)
		if len(q.pend) == 1 {
			s.send(ctx, p)
		}
	}
}

// mayBePersisted reports whether an earlier run (or another writer) may
// have published this interaction: it began before this pipeline started,
// give or take the clock skew, and, if states were preloaded, before what
// they cover. (Another writer publishing it since is caught by the
// compare-and-set on its first transition.)
func (s *shard) mayBePersisted(ev *Event) bool {
	first := ev.first()
	s.p.mu.Lock()
	started, preloaded := s.p.started, s.p.preloadedFrom
	s.p.mu.Unlock()
	return first.Before(started.Add(s.p.cfg.ClockSkew)) && (preloaded.IsZero() || first.Before(preloaded))
}

// restore loads a persisted state, retrying while the store is
// unreachable (the shard stalls, which is the backpressure).
func (s *shard) restore(ctx context.Context, store StateStore, id string) (found, ok bool) {
	for attempt := 1; ; attempt++ {
		state, found, err := store.Load(ctx, id)
		if err == nil {
			if found {
				before, _ := s.machine.Len()
				s.machine.Restore(id, state, time.Now())
				after, _ := s.machine.Len()
				s.p.stats.Open.Add(int64(after - before))
				s.p.stats.Restored.Add(1)
			}
			return found, true
		}
		if ctx.Err() != nil {
			return false, false
		}
		wait := min(time.Duration(attempt)*100*time.Millisecond, 5*time.Second)
		s.p.log.Warn("load interaction state failed; retrying", "interaction_id", id, "attempt", attempt, "wait", wait.String(), "err", err)
		select {
		case <-ctx.Done():
			return false, false
		case <-time.After(wait):
		}
	}
}

func (s *shard) send(ctx context.Context, p *pending) {
	if v, owned, ok := s.machine.Version(p.t.InteractionID); ok && !owned {
		p.t.CheckVersion, p.t.ExpectVersion = true, v
	}
	if err := s.pub.Publish(ctx, &p.t, p.r); err != nil {
		p.r.Complete(false, 0, err)
	}
	s.waitq <- p
}

func (s *shard) complete(ctx context.Context, p *pending) {
	st := &s.p.stats
	var conflict *ConflictError
	if errors.As(p.r.Err(), &conflict) {
		s.conflict(ctx, conflict)
		return
	}
	if err := p.r.Err(); err != nil {
		st.Failed.Add(1)
		s.p.log.Error("publish failed", "interaction_id", p.t.InteractionID, "transition_id", p.t.ID,
			"to_status", string(p.t.ToStatus), "err", err)
	} else {
		st.Published.Add(1)
		s.machine.SetVersion(p.t.InteractionID, p.r.version)
		if p.r.Duplicate() {
			st.Duplicates.Add(1)
		}
		if f := s.p.cfg.OnPublished; f != nil {
			f(&p.t, p.r.Duplicate(), time.Now())
		}
	}
	s.outstanding--
	st.Outstanding.Add(-1)
	q := s.queues[p.t.InteractionID]
	q.pend = q.pend[1:]
	if len(q.pend) == 0 {
		delete(s.queues, p.t.InteractionID)
		return
	}
	s.send(ctx, q.pend[0])
}

// conflict adopts the state another writer persisted, drops this
// interaction's transitions still waiting (they were derived from a state
// the stream has moved past) and applies the interaction's last event again
// on top of the adopted state: whatever it proves beyond that state is
// published, with a compare-and-set on the adopted version.
func (s *shard) conflict(ctx context.Context, c *ConflictError) {
	st := &s.p.stats
	q := s.queues[c.InteractionID]
	delete(s.queues, c.InteractionID)
	s.outstanding -= len(q.pend)
	st.Outstanding.Add(-int64(len(q.pend)))
	st.Conflicts.Add(1)
	s.machine.Restore(c.InteractionID, c.State, time.Now())
	q.ev.replayed = true // the other writer may have applied newer frames
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
