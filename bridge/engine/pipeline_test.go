package engine

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// sliceSource yields its events, then blocks until ctx ends (or returns
// end, if set).
type sliceSource struct {
	mu     sync.Mutex
	events []bridge.Event
	errs   map[int]error // error returned instead of the event at index
	i      int
	end    error
	reads  int
}

func (s *sliceSource) Read(ctx context.Context) (bridge.Event, error) {
	s.mu.Lock()
	if s.i < len(s.events) {
		i := s.i
		s.i++
		s.reads++
		s.mu.Unlock()
		if err := s.errs[i]; err != nil {
			return bridge.Event{}, err
		}
		return s.events[i], nil
	}
	s.mu.Unlock()
	if s.end != nil {
		return bridge.Event{}, s.end
	}
	<-ctx.Done()
	return bridge.Event{}, ctx.Err()
}

func (s *sliceSource) count() int { s.mu.Lock(); defer s.mu.Unlock(); return s.reads }

// fakePublisher records publishes and completes them after a random delay
// from its own goroutine, checking that an interaction never has two
// transitions in flight.
type fakePublisher struct {
	mu        sync.Mutex
	rng       *rand.Rand
	inflight  map[string]bool
	published []bridge.Transition
	violation error
	hold      bool // never acknowledge
	wg        sync.WaitGroup
}

func newFakePublisher(seed uint64) *fakePublisher {
	return &fakePublisher{rng: rand.New(rand.NewPCG(seed, 0)), inflight: map[string]bool{}}
}

func (f *fakePublisher) Publish(ctx context.Context, t *bridge.Transition, r bridge.Receipt) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inflight[t.InteractionID] && f.violation == nil {
		f.violation = fmt.Errorf("two transitions of %s in flight", t.InteractionID)
	}
	f.inflight[t.InteractionID] = true
	f.published = append(f.published, *t)
	if f.hold {
		context.AfterFunc(ctx, func() { r.Complete(false, 0, ctx.Err()) })
		return
	}
	delay := time.Duration(f.rng.IntN(2000)) * time.Microsecond
	f.wg.Go(func() {
		time.Sleep(delay)
		f.mu.Lock()
		delete(f.inflight, t.InteractionID)
		f.mu.Unlock()
		r.Complete(false, 0, nil)
	})
}

func (f *fakePublisher) snapshot() []bridge.Transition {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]bridge.Transition(nil), f.published...)
}

// conversation returns the events of one interaction that passes through
// ivr, queued, ringing, connected, wrapup, completed.
func conversation(id string, base time.Time) []bridge.Event {
	statuses := []bridge.Status{bridge.StatusIVR, bridge.StatusQueued, bridge.StatusRinging, bridge.StatusConnected, bridge.StatusWrapup, bridge.StatusCompleted}
	var evs []bridge.Event
	for i := range statuses {
		ev := bridge.Event{InteractionID: id, ChannelType: bridge.ChannelVoice, ObservedAt: base, Status: statuses[i]}
		for j := 0; j <= i; j++ {
			ev.Steps = append(ev.Steps, bridge.Step{Status: statuses[j], At: base.Add(time.Duration(j) * time.Second)})
		}
		ev.Horizon = ev.Steps[i].At
		evs = append(evs, ev)
	}
	return evs
}

func interleaved(n int, base time.Time) []bridge.Event {
	var all [][]bridge.Event
	for i := range n {
		all = append(all, conversation(fmt.Sprintf("conv-%03d", i), base))
	}
	var out []bridge.Event
	for step := range 6 {
		for i := range all {
			out = append(out, all[i][step])
		}
	}
	return out
}

func TestPipelineOrderAndCompleteness(t *testing.T) {
	src := &sliceSource{events: interleaved(200, t0), end: io.EOF}
	pub := newFakePublisher(1)
	p := New(Config{Shards: 4, MaxOutstanding: 64})
	err := p.Run(context.Background(), src, pub)
	if err == nil || !errors.Is(err, io.EOF) {
		t.Fatalf("Run = %v, want the source's io.EOF", err)
	}
	pub.wg.Wait()
	if pub.violation != nil {
		t.Fatal(pub.violation)
	}
	got := map[string][]bridge.Status{}
	for _, tr := range pub.snapshot() {
		got[tr.InteractionID] = append(got[tr.InteractionID], tr.ToStatus)
	}
	if len(got) != 200 {
		t.Fatalf("%d interactions published, want 200", len(got))
	}
	for id, ss := range got {
		if fmt.Sprint(ss) != "[ivr queued ringing connected wrapup completed]" {
			t.Fatalf("%s: published %v", id, ss)
		}
	}
	st := p.Stats()
	if st.Published.Load() != 1200 || st.Outstanding.Load() != 0 || st.Events.Load() != 1200 {
		t.Fatalf("stats: published %d outstanding %d events %d", st.Published.Load(), st.Outstanding.Load(), st.Events.Load())
	}
}

func TestPipelineFilterRejectsAndDuplicates(t *testing.T) {
	evs := conversation("conv-1", t0)
	evs = append(evs, evs...) // every event twice
	bad := bridge.Event{InteractionID: "", ChannelType: bridge.ChannelVoice, Status: bridge.StatusQueued, ObservedAt: t0}
	evs = append(evs, bad)
	src := &sliceSource{events: evs, end: io.EOF,
		errs: map[int]error{3: bridge.Reject(bridge.ReasonMalformed, []byte("{"), "bad json")}}
	pub := newFakePublisher(2)
	p := New(Config{Filter: bridge.Filter{Statuses: []bridge.Status{bridge.StatusConnected, bridge.StatusCompleted}}})
	_ = p.Run(context.Background(), src, pub)
	pub.wg.Wait()
	got := pub.snapshot()
	if len(got) != 2 || got[0].ToStatus != bridge.StatusConnected || got[1].ToStatus != bridge.StatusCompleted {
		t.Fatalf("published %v", describe(got))
	}
	if got[0].FromStatus != bridge.StatusRinging {
		t.Fatalf("fromStatus %q: a filtered status is still the previous status", got[0].FromStatus)
	}
	st := p.Stats()
	if st.Filtered.Load() != 4 || st.RejectedBy(bridge.ReasonMalformed) != 1 || st.RejectedBy(bridge.ReasonSchema) != 1 {
		t.Fatalf("filtered %d, malformed %d, schema %d", st.Filtered.Load(), st.RejectedBy(bridge.ReasonMalformed), st.RejectedBy(bridge.ReasonSchema))
	}
}

// When the stream stops acknowledging, the pipeline stops reading at the
// bound; on shutdown it waits DrainTimeout and reports what is left.
func TestPipelineBackpressureAndDrainDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &sliceSource{events: interleaved(100, t0)}
		pub := newFakePublisher(3)
		pub.hold = true
		p := New(Config{Shards: 2, MaxOutstanding: 10, DrainTimeout: 3 * time.Second})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx, src, pub) }()
		synctest.Wait()
		reads := src.count()
		// Each shard reads while fewer than 5 are outstanding, plus what
		// sits in its input queue (64) and in the batch it took from it
		// last (at most 64), and the one the reader holds.
		if reads > 2*(5+64+64)+1 {
			t.Fatalf("read %d events with nothing acknowledged", reads)
		}
		start := time.Now()
		cancel()
		err := <-done
		if !errors.Is(err, ErrUnacknowledged) {
			t.Fatalf("Run = %v, want ErrUnacknowledged", err)
		}
		if waited := time.Since(start); waited != 3*time.Second {
			t.Fatalf("drain waited %s, want the 3s deadline", waited)
		}
	})
}

// A clean shutdown waits for acknowledgements already in flight.
func TestPipelineCleanDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &sliceSource{events: interleaved(50, t0)}
		pub := newFakePublisher(4)
		p := New(Config{DrainTimeout: time.Minute})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx, src, pub) }()
		time.Sleep(time.Millisecond) // some publishes are still in flight
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v", err)
		}
		pub.wg.Wait()
		if o := p.Stats().Outstanding.Load(); o != 0 {
			t.Fatalf("%d outstanding after a clean drain", o)
		}
		if got, read := p.Stats().Published.Load(), p.Stats().Events.Load(); got == 0 || read == 0 {
			t.Fatalf("published %d of %d events", got, read)
		}
	})
}

func TestPipelineReleasesCompleted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := time.Now()
		src := &sliceSource{events: interleaved(20, base)}
		for i := range src.events {
			src.events[i].ObservedAt = base
		}
		pub := newFakePublisher(5)
		p := New(Config{Machine: bridge.MachineConfig{Grace: 10 * time.Second}})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx, src, pub) }()
		time.Sleep(time.Second)
		if open := p.Stats().Open.Load(); open != 20 {
			t.Fatalf("open %d, want 20", open)
		}
		time.Sleep(11 * time.Second)
		if open, rel := p.Stats().Open.Load(), p.Stats().Released.Load(); open != 0 || rel != 20 {
			t.Fatalf("after the grace period: open %d released %d", open, rel)
		}
		cancel()
		<-done
		pub.wg.Wait()
	})
}

// conflictPublisher answers the first publish of each interaction with a
// conflict: another writer already published up to "ringing".
type conflictPublisher struct {
	mu        sync.Mutex
	seen      map[string]bool
	published []bridge.Transition
	ahead     *bridge.State // the other writer's state (default: ringing at 2s)
}

func (c *conflictPublisher) Publish(_ context.Context, t *bridge.Transition, r bridge.Receipt) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.seen[t.InteractionID] {
		c.seen[t.InteractionID] = true
		ahead := bridge.State{Channel: bridge.ChannelVoice, Status: bridge.StatusRinging, Anchor: t0.Add(2 * time.Second), StepAt: t0.Add(2 * time.Second),
			Horizon: t0.Add(2 * time.Second), Version: 7}
		if c.ahead != nil {
			ahead = *c.ahead
		}
		r.Complete(false, 0, &bridge.ConflictError{InteractionID: t.InteractionID, State: ahead})
		return
	}
	if !t.CheckVersion || t.ExpectVersion != 7 {
		r.Complete(false, 0, fmt.Errorf("after a conflict the next publish must compare-and-set on version 7 (check %v, expect %d)", t.CheckVersion, t.ExpectVersion))
		return
	}
	c.published = append(c.published, *t)
	r.Complete(false, 8, nil)
}

// A writer that finds another ahead adopts its state and publishes only
// what its last event proves beyond it.
func TestPipelineConflictAdoptsAndRederives(t *testing.T) {
	evs := conversation("c1", t0)[3:4] // the connected event: ivr, queued, ringing, connected
	src := &sliceSource{events: evs, end: io.EOF}
	pub := &conflictPublisher{seen: map[string]bool{}}
	p := New(Config{})
	_ = p.Run(context.Background(), src, pub)
	if len(pub.published) != 1 || pub.published[0].FromStatus != bridge.StatusRinging || pub.published[0].ToStatus != bridge.StatusConnected {
		t.Fatalf("published %v, want ringing>connected", describe(pub.published))
	}
	if c := p.Stats().Conflicts.Load(); c != 1 || p.Stats().Failed.Load() != 0 {
		t.Fatalf("conflicts %d failed %d", c, p.Stats().Failed.Load())
	}
}

// The other writer already applied a hold that this writer's last event
// predates: re-applying that event must not unhold.
func TestPipelineConflictDoesNotUnhold(t *testing.T) {
	ev := conversation("c1", t0)[3] // connected, steps up to 3s
	src := &sliceSource{events: []bridge.Event{ev}, end: io.EOF}
	held := bridge.State{Channel: bridge.ChannelVoice, Status: bridge.StatusHeld, Anchor: t0.Add(5 * time.Second), StepAt: t0.Add(3 * time.Second),
		Horizon: t0.Add(3 * time.Second), Version: 7}
	pub := &conflictPublisher{seen: map[string]bool{}, ahead: &held}
	p := New(Config{})
	_ = p.Run(context.Background(), src, pub)
	if len(pub.published) != 0 {
		t.Fatalf("published %v after adopting a newer hold", describe(pub.published))
	}
}

// heldStore says the stream already holds the interaction as held.
type heldStore struct{}

func (heldStore) Load(context.Context, string) (bridge.State, bool, error) {
	return bridge.State{Channel: bridge.ChannelVoice, Status: bridge.StatusHeld, Anchor: t0.Add(5 * time.Second), StepAt: t0.Add(3 * time.Second),
		Horizon: t0.Add(3 * time.Second), Version: 7}, true, nil
}

// The first event after loading a state may be older than that state
// (another writer saw newer frames): it must not unhold.
func TestPipelineEventAfterLoadDoesNotUnhold(t *testing.T) {
	ev := conversation("c1", t0)[3] // connected, steps up to 3s: a pre-hold frame
	src := &sliceSource{events: []bridge.Event{ev}, end: io.EOF}
	pub := newFakePublisher(9)
	p := New(Config{State: heldStore{}})
	_ = p.Run(context.Background(), src, pub)
	pub.wg.Wait()
	if got := pub.snapshot(); len(got) != 0 {
		t.Fatalf("published %v after loading a newer hold", describe(got))
	}
	if p.Stats().Restored.Load() != 1 {
		t.Fatal("the state was not loaded")
	}
}

// storePublisher acknowledges at once and is also the StateStore: Load
// returns the State of the last transition published for an interaction.
type storePublisher struct {
	mu        sync.Mutex
	states    map[string]bridge.State
	published []bridge.Transition
	loads     []string
}

func (s *storePublisher) Publish(_ context.Context, t *bridge.Transition, r bridge.Receipt) {
	s.mu.Lock()
	st := t.State
	st.Version = uint64(len(s.published) + 1)
	s.states[t.InteractionID] = st
	s.published = append(s.published, *t)
	s.mu.Unlock()
	r.Complete(false, st.Version, nil)
}

func (s *storePublisher) Load(_ context.Context, id string) (bridge.State, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads = append(s.loads, id)
	st, ok := s.states[id]
	return st, ok, nil
}

// chanSource yields what is sent on it.
type chanSource chan bridge.Event

func (c chanSource) Read(ctx context.Context) (bridge.Event, error) {
	select {
	case ev := <-c:
		return ev, nil
	case <-ctx.Done():
		return bridge.Event{}, ctx.Err()
	}
}

// A frame of an interaction this run completed, released and no longer
// remembers (its tombstone expired) is checked against the store, not
// published again as a new interaction; a new interaction is not.
func TestPipelineForgottenInteractionIsLoaded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := time.Now()
		store := &storePublisher{states: map[string]bridge.State{}}
		p := New(Config{State: store, ClockSkew: time.Second,
			Machine: bridge.MachineConfig{Grace: time.Second, TombstoneTTL: 2 * time.Second}})
		p.Preload(nil, base) // nothing was published before
		src := make(chanSource)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx, src, store) }()
		for _, ev := range conversation("c1", base) {
			src <- ev
		}
		synctest.Wait()
		if n := len(store.published); n != 6 {
			t.Fatalf("published %d transitions of c1, want 6", n)
		}
		time.Sleep(5 * time.Second) // released after 1 to 2 s, forgotten 2 s later
		if rel := p.Stats().Released.Load(); rel != 1 {
			t.Fatalf("released %d, want c1", rel)
		}
		late := conversation("c1", base)[3] // connected: a reordered old frame
		late.ObservedAt = time.Now()
		src <- late
		fresh := conversation("c2", time.Now())[0]
		src <- fresh
		synctest.Wait()
		if got := describe(store.published[6:]); len(got) != 1 || got[0] != "null>ivr" {
			t.Fatalf("after c1 was forgotten, published %v, want only c2's >ivr", got)
		}
		if len(store.loads) != 1 || store.loads[0] != "c1" {
			t.Fatalf("loads %v, want c1 only", store.loads)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// shardOf is FNV-1a: the same shard as hash/fnv gives.
func TestShardOfIsFNV1a(t *testing.T) {
	for i := range 1000 {
		id := fmt.Sprintf("3f2a1b4c-1111-4222-8333-%012d", i)
		h := fnv.New32a()
		h.Write([]byte(id))
		for _, n := range []int{1, 2, 7, 16} {
			if got, want := shardOf(id, n), int(h.Sum32()%uint32(n)); got != want {
				t.Fatalf("shardOf(%s, %d) = %d, want %d", id, n, got, want)
			}
		}
	}
}
