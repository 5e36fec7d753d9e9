package genesys

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// memLeases is a lease table in memory shared by replicas (package
// publish's leases on NATS are tested there): a replica takes a free lane
// up to its share; kick loses a replica's leases.
type memLeases struct {
	mu      sync.Mutex
	changed chan struct{}
	holders map[int]*memLease
	marks   map[int]time.Time
	was     map[int]string
}

type memLease struct {
	t       *memLeases
	lane    int
	replica string
	safe    func() time.Time
	lost    chan struct{}
	err     error
}

func newMemLeases() *memLeases {
	return &memLeases{changed: make(chan struct{}), holders: map[int]*memLease{}, marks: map[int]time.Time{}, was: map[int]string{}}
}

// replica is one replica's view, with its share of the lanes.
type memReplica struct {
	t     *memLeases
	name  string
	share int
}

func (r *memReplica) SetLanes(int)       {}
func (r *memReplica) TTL() time.Duration { return time.Second }

func (r *memReplica) Acquire(ctx context.Context, lane int, safe func() time.Time) (LaneLease, Predecessor, error) {
	t := r.t
	for {
		t.mu.Lock()
		held := 0
		for _, h := range t.holders {
			if h.replica == r.name {
				held++
			}
		}
		changed := t.changed
		if t.holders[lane] == nil && held < r.share { // share under t.mu
			l := &memLease{t: t, lane: lane, replica: r.name, safe: safe, lost: make(chan struct{})}
			t.holders[lane] = l
			before := Predecessor{Existed: t.was[lane] != "", Safe: t.marks[lane], Replica: t.was[lane]}
			t.mu.Unlock()
			return l, before, nil
		}
		t.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, Predecessor{}, ctx.Err()
		case <-changed:
		}
	}
}

func (l *memLease) Lost() <-chan struct{} { return l.lost }
func (l *memLease) Err() error {
	l.t.mu.Lock()
	defer l.t.mu.Unlock()
	return l.err
}

// Release records the lane's mark and frees it.
func (l *memLease) Release() {
	mark := l.safe()
	t := l.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.holders[l.lane] != l {
		return
	}
	delete(t.holders, l.lane)
	t.marks[l.lane], t.was[l.lane] = mark, l.replica
	close(t.changed)
	t.changed = make(chan struct{})
}

// kick makes replica lose every lease it holds.
func (t *memLeases) kick(replica string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range t.holders {
		if l.replica == replica && l.err == nil {
			l.err = errors.New("handed over")
			close(l.lost)
		}
	}
}

// held counts the lanes replica holds.
func (t *memLeases) held(replica string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, l := range t.holders {
		if l.replica == replica {
			n++
		}
	}
	return n
}

// Two replicas share three lanes: each lane is read by one of them (three
// sockets, not six). When one hands its lanes over, the other takes them
// after a gap from the lanes' marks, and every conversation that reached
// an agent arrives at one of them.
func TestStreamsShareLanesByLease(t *testing.T) {
	sim := startSim(t, simulator.Config{Agents: 2500, Queues: 1, Conversations: 600, Rate: 40, Speed: 1, StepScale: 0.02})
	topics, _ := Topics(TopicSet{Users: sim.Population().Agents}) // three lanes
	table := newMemLeases()
	a := &memReplica{t: table, name: "a", share: 2}
	b := &memReplica{t: table, name: "b", share: 1}
	sa, logsA := newStream(t, sim, topics, func(c *StreamConfig) { c.Leases = a })
	sb, logsB := newStream(t, sim, topics, func(c *StreamConfig) { c.Leases = b })
	runStream(t, sa)
	testkit.Eventually(t, 30*time.Second, "a holds two lanes", func() bool { return table.held("a") == 2 })
	runStream(t, sb)
	testkit.Eventually(t, 30*time.Second, "three sockets, one per lane", func() bool { return table.held("b") == 1 && sim.Sockets() == 3 })

	want := map[string]bool{}
	got := map[string]bool{}
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	for _, s := range []*Stream{sa, sb} {
		go func() {
			for {
				ev, err := s.Read(ctx)
				if err != nil && ctx.Err() != nil {
					return
				}
				if err == nil && ev.InteractionID != "" {
					mu.Lock()
					got[ev.InteractionID] = true
					mu.Unlock()
				}
			}
		}()
	}
	testkit.Eventually(t, time.Minute, "conversations under way", func() bool { return len(sim.Truth()) > 300 })
	table.mu.Lock()
	a.share, b.share = 0, 3 // a leaves, b takes everything
	table.mu.Unlock()
	table.kick("a")
	testkit.Eventually(t, 30*time.Second, "b holds every lane", func() bool { return table.held("b") == 3 && table.held("a") == 0 })
	<-sim.Done()
	for _, tr := range sim.Truth() {
		if tr.To == bridge.StatusRinging {
			want[tr.InteractionID] = true
		}
	}
	testkit.Eventually(t, time.Minute, "every conversation that reached an agent", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for id := range want {
			if !got[id] {
				return false
			}
		}
		return true
	})
	if l := logsB.String(); strings.Count(l, "lane lease taken") != 3 || !strings.Contains(l, "predecessor=a") || !strings.Contains(l, "back-fill done") {
		t.Errorf("b's takeovers are not in its log:\n%s", l)
	}
	if !strings.Contains(logsA.String(), "lane lease lost; the lane stopped reading") {
		t.Error("a's lanes did not stop")
	}
	testkit.Eventually(t, 10*time.Second, "three sockets", func() bool { return sim.Sockets() == 3 })
}
