package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// Config configures a Pipeline. Zero values are the defaults.
type Config struct {
	// Shards is the number of goroutines that own interactions (by hash of
	// the id). Default GOMAXPROCS.
	Shards int
	// MaxOutstanding bounds transitions not yet acknowledged (in flight or
	// waiting behind an earlier transition of the same interaction). When
	// reached, the pipeline stops reading. Default 4096.
	MaxOutstanding int
	// DrainTimeout bounds how long Run waits for acknowledgements after ctx
	// ends. Default 15s.
	DrainTimeout time.Duration
	// SweepInterval is how often completed interactions are released.
	// Default 1s.
	SweepInterval time.Duration
	Filter        bridge.Filter
	Machine       bridge.MachineConfig
	// State, if set, is asked for the persisted state of an interaction the
	// pipeline meets for the first time, unless the interaction began after
	// the pipeline started (plus ClockSkew): no earlier run can have
	// published it, and a concurrent writer is caught by the compare-and-set.
	State bridge.StateStore
	// SharedFor is how long after a duplicate acknowledgement (the stream
	// already held a transition: another writer, such as a replica, stored
	// it) every publish compare-and-sets on the version this writer knows,
	// not only an interaction's first in a run. Writers that observed
	// different frames (one lost an untimed hold that left no trace) then
	// meet as a conflict instead of both extending the history. Default 2m
	// (the daemon uses the stream's duplicate window).
	SharedFor time.Duration
	// ClockSkew is the margin between Genesys's clock and this host's for
	// that decision. Default 1m.
	ClockSkew time.Duration
	Logger    *slog.Logger
	// OnPublished, if set, is called once per transition after the stream
	// acknowledged it, from a shard goroutine: it must not block, and t is
	// valid only during the call (the pipeline reuses it).
	OnPublished func(t *bridge.Transition, duplicate bool, ackedAt time.Time)
	// OnTimings, if set, is called once per completion's timings after the
	// stream acknowledged them, from a shard goroutine: it must not block.
	OnTimings func(t *bridge.Timings)
	// OnRejected, if set, is called for each rejected input (after it is
	// counted and logged), from the reading goroutine: it must not block.
	OnRejected func(rej *bridge.RejectError)
	// OnHeld, if set, is called for each observation released after it was
	// held back for a gap's history, with how long it waited, from a shard
	// goroutine: it must not block.
	OnHeld func(waited time.Duration, incomplete bool)
}

// Pipeline reads events from a Source, applies them to per-shard Machines
// and publishes the transitions. See the package documentation for its
// invariants.
type Pipeline struct {
	cfg   Config
	log   *slog.Logger
	stats Stats

	// duplicateAt is when a publish was last acknowledged as a duplicate
	// (Unix nanoseconds; 0: never): while it is within SharedFor, another
	// writer may be extending the same histories.
	duplicateAt atomic.Int64

	mu      sync.Mutex
	shards  []*shard  // while Run runs
	started time.Time // when Run started
	// preload is the persisted state Run starts with, of every interaction
	// the store holds a transition of since preloadedFrom.
	preload       map[string]bridge.State
	preloadedFrom time.Time
}

// Preload gives the pipeline, before Run, the persisted state of every
// interaction the store holds a transition of since a time (for example
// publish.JetStream.States): Run starts with them, so the interactions that
// were open are known (a source asks for them after a gap), and only an
// interaction that began before since is still loaded when first met.
func (p *Pipeline) Preload(states map[string]bridge.State, since time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.preload, p.preloadedFrom = states, since
}

// sawDuplicate records a duplicate acknowledgement at now, and logs when
// that starts a shared spell.
func (p *Pipeline) sawDuplicate(now time.Time) {
	if prev := p.duplicateAt.Swap(now.UnixNano()); now.Sub(time.Unix(0, prev)) > p.cfg.SharedFor {
		p.log.Info("the stream already held a transition (another writer, or a replay): every publish compare-and-sets for a while",
			"for", p.cfg.SharedFor.String())
	}
}

// shared reports whether another writer may be extending the same
// histories: a duplicate was acknowledged within SharedFor.
func (p *Pipeline) shared() bool {
	at := p.duplicateAt.Load()
	return at != 0 && time.Now().UnixNano()-at < p.cfg.SharedFor.Nanoseconds()
}

// DefaultConfig is the configuration the zero values stand for.
func DefaultConfig() Config { return Config{}.withDefaults() }

func (cfg Config) withDefaults() Config {
	if cfg.Shards <= 0 {
		cfg.Shards = runtime.GOMAXPROCS(0)
	}
	if cfg.MaxOutstanding <= 0 {
		cfg.MaxOutstanding = 4096
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 15 * time.Second
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = time.Second
	}
	if cfg.SharedFor <= 0 {
		cfg.SharedFor = 2 * time.Minute
	}
	if cfg.ClockSkew <= 0 {
		cfg.ClockSkew = time.Minute
	}
	cfg.Machine = cfg.Machine.WithDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// New returns a Pipeline.
func New(cfg Config) *Pipeline {
	cfg = cfg.withDefaults()
	return &Pipeline{cfg: cfg, log: cfg.Logger}
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
func (p *Pipeline) Run(ctx context.Context, src bridge.Source, pub bridge.Publisher) error {
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
		shards[i].index, shards[i].of = i, len(shards)
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
		s.in.Close()
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

func (p *Pipeline) read(ctx, pubCtx context.Context, src bridge.Source, shards []*shard) error {
	for {
		ev, err := src.Read(ctx)
		if err != nil {
			var rej *bridge.RejectError
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
		if ev.Kind == bridge.KindObservation {
			if !ev.Validated() { // a source may have validated it, with its input
				if err := ev.Validate(); err != nil {
					var rej *bridge.RejectError
					errors.As(err, &rej)
					p.rejected(rej)
					continue
				}
			}
			p.stats.Events.Add(1)
			targets = shards[shardOf(ev.InteractionID, len(shards)):][:1]
		} else if ev.Gap == nil {
			return fmt.Errorf("read events: gap marker without a gap")
		} else if ev.Kind == bridge.KindGapOpened {
			p.stats.Gaps.Add(1)
			p.stats.GapsOpen.Add(1)
		} else {
			p.stats.GapsOpen.Add(-1)
		}
		for _, s := range targets { // markers go to every shard
			if !s.in.TryPush(ev) && !s.in.Push(pubCtx, ev) {
				// The drain deadline passed while shards were blocked.
				return nil
			}
		}
	}
}

func (p *Pipeline) rejected(rej *bridge.RejectError) {
	p.stats.Rejected[rej.Reason.Index()].Add(1)
	p.log.Warn("input rejected", "reason", string(rej.Reason), "err", rej.Msg, "excerpt", rej.Excerpt)
	if p.cfg.OnRejected != nil {
		p.cfg.OnRejected(rej)
	}
}

// shardOf is FNV-1a of the id, modulo n (written out: no hasher per call).
func shardOf(id string, n int) int {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return int(h % uint32(n))
}
