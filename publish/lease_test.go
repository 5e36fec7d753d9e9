package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// laneRunner plays a replica's lanes: each lane's goroutine takes its
// lease, holds it until lost, releases it and waits for it again, as the
// bridge's lanes do.
type laneRunner struct {
	l      *Leases
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	takeovers map[int][]Takeover
	safe      time.Time
}

func runLanes(t *testing.T, js jetstream.JetStream, name string, lanes int, ttl time.Duration) *laneRunner {
	t.Helper()
	log, _ := testkit.Logger(t, slog.LevelDebug)
	l, err := OpenLeases(t.Context(), js, "TEST", LeaseConfig{TTL: ttl, Replica: name, Scope: "plan-1", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	l.SetLanes(lanes)
	ctx, cancel := context.WithCancel(t.Context())
	r := &laneRunner{l: l, cancel: cancel, takeovers: map[int][]Takeover{}}
	for lane := range lanes {
		r.wg.Go(func() {
			for {
				lease, before, err := l.Acquire(ctx, lane, r.safeMark)
				if err != nil {
					return
				}
				r.mu.Lock()
				r.takeovers[lane] = append(r.takeovers[lane], before)
				r.mu.Unlock()
				select {
				case <-lease.Lost():
				case <-ctx.Done():
				}
				lease.Release()
			}
		})
	}
	return r
}

func (r *laneRunner) safeMark() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.safe.IsZero() {
		return time.Now()
	}
	return r.safe
}

// stop ends the lanes and closes the replica (a graceful shutdown).
func (r *laneRunner) stop() {
	r.cancel()
	r.wg.Wait()
	r.l.Close()
}

// die stops the replica without releasing anything (SIGKILL).
func (r *laneRunner) die() {
	r.l.cancel() // renewals and watch stop; nothing is written again
	r.l.wg.Wait()
	r.cancel()
	r.wg.Wait()
}

// holdings maps each lane to the replicas holding it.
func holdings(rs ...*laneRunner) map[int][]string {
	out := map[int][]string{}
	for _, r := range rs {
		for _, lane := range r.l.Held() {
			out[lane] = append(out[lane], r.l.Replica())
		}
	}
	return out
}

// balanced reports whether every lane is held once, each replica holding
// its share (the counts differ by at most one).
func balanced(lanes int, rs ...*laneRunner) bool {
	h := holdings(rs...)
	if len(h) != lanes {
		return false
	}
	for _, holders := range h {
		if len(holders) != 1 {
			return false
		}
	}
	counts := []int{}
	for _, r := range rs {
		counts = append(counts, len(r.l.Held()))
	}
	return slices.Max(counts)-slices.Min(counts) <= 1
}

func TestLeasesShareLanesAndRebalance(t *testing.T) {
	ns := testkit.StartNATS(t)
	js, _ := jetstream.New(ns.Connect(t))
	const lanes, ttl = 9, time.Second
	a := runLanes(t, js, "a", lanes, ttl)
	testkit.Eventually(t, 10*time.Second, "one replica holds every lane", func() bool { return balanced(lanes, a) })
	b := runLanes(t, js, "b", lanes, ttl)
	c := runLanes(t, js, "c", lanes, ttl)
	testkit.Eventually(t, 20*time.Second, "three replicas hold three lanes each", func() bool { return balanced(lanes, a, b, c) })
	// A lane handed over carries the mark its holder wrote on release.
	moved := 0
	for _, r := range []*laneRunner{b, c} {
		r.mu.Lock()
		for _, tos := range r.takeovers {
			for _, to := range tos {
				if to.Existed && to.Replica == "a" && !to.Safe.IsZero() {
					moved++
				}
			}
		}
		r.mu.Unlock()
	}
	if moved != 6 {
		t.Errorf("%d lanes taken over from a with its mark, want 6", moved)
	}

	// A rolling restart: each replica in turn stops and a new one starts.
	rs := []*laneRunner{a, b, c}
	for i := range rs {
		rs[i].stop()
		others := slices.Delete(slices.Clone(rs), i, i+1)
		testkit.Eventually(t, 20*time.Second, "two replicas hold every lane", func() bool { return balanced(lanes, others...) })
		rs[i] = runLanes(t, js, fmt.Sprintf("%c2", 'a'+i), lanes, ttl)
		testkit.Eventually(t, 20*time.Second, "three again", func() bool { return balanced(lanes, rs...) })
	}
	for _, r := range rs {
		r.stop()
	}
}

// A replica that dies (no release) loses its lanes when the bucket's TTL
// removes its keys; the others take them then, with its last mark.
func TestLeaseTakenOverAfterItsHolderDies(t *testing.T) {
	ns := testkit.StartNATS(t)
	js, _ := jetstream.New(ns.Connect(t))
	const lanes, ttl = 4, time.Second
	a := runLanes(t, js, "a", lanes, ttl)
	mark := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	a.mu.Lock()
	a.safe = mark
	a.mu.Unlock()
	testkit.Eventually(t, 10*time.Second, "a holds every lane", func() bool { return balanced(lanes, a) })
	b := runLanes(t, js, "b", lanes, ttl)
	testkit.Eventually(t, 20*time.Second, "two and two", func() bool { return balanced(lanes, a, b) })
	aHeld := a.l.Held()
	time.Sleep(ttl / 2) // a renews its mark at least once more
	died := time.Now()
	a.die()
	testkit.Eventually(t, 10*time.Second, "b holds every lane", func() bool { return balanced(lanes, b) })
	took := time.Since(died)
	if took < ttl-ttl/5 {
		t.Errorf("taken over %s after the holder died, before its lease could have lapsed (%s)", took, ttl)
	}
	b.mu.Lock()
	for _, lane := range aHeld {
		to := b.takeovers[lane][len(b.takeovers[lane])-1]
		if !to.Existed || to.Replica != "a" || !to.Safe.Equal(mark) {
			t.Errorf("lane %d taken over with %+v, want a's mark %s", lane, to, mark)
		}
	}
	b.mu.Unlock()
	t.Logf("failover: lanes of a dead replica taken over %s after it died (TTL %s)", took.Round(time.Millisecond), ttl)
	b.stop()
}

// A replica that cannot reach NATS loses its leases before they can lapse
// on the server (the lanes stop reading), and takes them again once NATS
// is back.
func TestLeaseLostWhenUnproven(t *testing.T) {
	ns := testkit.StartNATS(t)
	js, _ := jetstream.New(ns.Connect(t))
	const lanes, ttl = 3, 2 * time.Second
	a := runLanes(t, js, "a", lanes, ttl)
	testkit.Eventually(t, 10*time.Second, "a holds every lane", func() bool { return balanced(lanes, a) })
	var mu sync.Mutex
	lost := map[int]error{}
	a.l.mu.Lock()
	a.l.onLost = func(lane int, err error) { mu.Lock(); lost[lane] = err; mu.Unlock() }
	a.l.mu.Unlock()
	stopped := time.Now()
	ns.Stop()
	testkit.Eventually(t, 10*time.Second, "every lease lost", func() bool { return len(a.l.Held()) == 0 })
	took := time.Since(stopped)
	mu.Lock()
	for lane, err := range maps.All(lost) {
		if !errors.Is(err, ErrLeaseUnproven) {
			t.Errorf("lane %d lost with %v, want ErrLeaseUnproven", lane, err)
		}
	}
	mu.Unlock()
	if took >= ttl {
		t.Errorf("leases lost %s after NATS went away: not before they could lapse (%s)", took, ttl)
	}
	ns.Start()
	testkit.Eventually(t, 30*time.Second, "a holds every lane again", func() bool { return balanced(lanes, a) })
	a.stop()
}
