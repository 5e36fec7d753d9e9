package engine

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// streamStore is a stream as two writers share it: message ids are
// deduplicated first (a duplicate is acknowledged with the stored
// version), then a compare-and-set is checked against the interaction's
// last message; Load gives that message's state.
type streamStore struct {
	mu   sync.Mutex
	msgs []bridge.Transition // version = index + 1
}

func (s *streamStore) last(id string) (bridge.State, int) {
	for i := len(s.msgs) - 1; i >= 0; i-- {
		if s.msgs[i].InteractionID == id {
			st := s.msgs[i].State
			st.Version = uint64(i + 1)
			return st, i + 1
		}
	}
	return bridge.State{}, 0
}

func (s *streamStore) Publish(_ context.Context, t *bridge.Transition, r bridge.Receipt) {
	s.mu.Lock()
	for i, m := range s.msgs {
		if m.ID == t.ID {
			s.mu.Unlock()
			r.Complete(true, uint64(i+1), nil)
			return
		}
	}
	if st, v := s.last(t.InteractionID); t.CheckVersion && uint64(v) != t.ExpectVersion {
		s.mu.Unlock()
		r.Complete(false, 0, &bridge.ConflictError{InteractionID: t.InteractionID, State: st})
		return
	}
	s.msgs = append(s.msgs, *t)
	v := uint64(len(s.msgs))
	s.mu.Unlock()
	r.Complete(false, v, nil)
}

func (s *streamStore) Load(_ context.Context, id string) (bridge.State, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, v := s.last(id)
	return st, v > 0, nil
}

// Two replicas publish the same interaction; one never sees a hold and
// its end (frames lost without a trace: untimed moves leave none in later
// snapshots). Both first wrote the same transitions (one of them was
// acknowledged as a duplicate), so neither needed a compare-and-set by the
// first-transition rule alone; the blind one's next transition would then
// extend the history a second time. Because the other writer showed itself
// through the duplicates, that publish compare-and-sets, meets the
// stored hold as a conflict and builds on it: one history in the stream.
func TestReplicasThatSawDifferentFramesKeepOneHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &streamStore{}
		ctx, cancel := context.WithCancel(t.Context())
		start := func() (chanSource, chan error) {
			p := New(Config{State: store, Shards: 1})
			p.Preload(nil, t0) // the interaction is new to both: no load
			src, done := make(chanSource), make(chan error, 1)
			go func() { done <- p.Run(ctx, src, store) }()
			return src, done
		}
		a, doneA := start()
		b, doneB := start()
		send := func(src chanSource, to bridge.Status, sec int) {
			src <- seqEvent("c1", to, sec, bridge.Who{QueueID: "q"})
			synctest.Wait()
		}
		send(a, bridge.StatusQueued, 0)
		send(b, bridge.StatusQueued, 0) // a duplicate: b now knows of another writer
		send(a, bridge.StatusConnected, 10)
		send(b, bridge.StatusConnected, 10)
		send(a, bridge.StatusHeld, 20) // b never sees the hold
		send(a, bridge.StatusConnected, 30)
		send(b, bridge.StatusWrapup, 40)
		send(a, bridge.StatusWrapup, 40)
		send(a, bridge.StatusCompleted, 50)
		send(b, bridge.StatusCompleted, 50)
		cancel()
		for _, done := range []chan error{doneA, doneB} {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		got := describe(store.msgs)
		want := []string{"null>queued", "queued>connected", "connected>held", "held>connected", "connected>wrapup", "wrapup>completed"}
		if len(got) != len(want) {
			t.Fatalf("the stream holds %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] || store.msgs[i].State.Seq != uint64(i+1) {
				t.Fatalf("the stream holds %v (seq %d at %d), want %v", got, store.msgs[i].State.Seq, i, want)
			}
		}
	})
}
