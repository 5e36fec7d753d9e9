package genesys_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/bridge/engine"
	"github.com/genesys-bridge/genesys-bridge/genesys"
	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// memPublisher stands in for JetStream inside the synctest bubble (a NATS
// server cannot run there): it stores messages in order and, like
// JetStream's duplicate window, acknowledges a repeated message id as a
// duplicate without storing it again. Like the stream, it is also the
// state store a restarted bridge preloads from.
type memPublisher struct {
	mu       sync.Mutex
	msgs     []bridge.Transition
	ids      map[string]bool
	dupIDs   int
	lastTime time.Time
}

func newMemPublisher() *memPublisher { return &memPublisher{ids: map[string]bool{}} }

func (p *memPublisher) Publish(_ context.Context, t *bridge.Transition, r bridge.Receipt) {
	p.mu.Lock()
	dup := p.ids[t.ID]
	if dup {
		p.dupIDs++
	} else {
		p.ids[t.ID] = true
		p.msgs = append(p.msgs, *t)
		p.lastTime = time.Now()
	}
	version := uint64(len(p.msgs))
	p.mu.Unlock()
	r.Complete(dup, version, nil)
}

// states is what publish.JetStream.States reads: the last state of every
// interaction, and when the last message was stored.
func (p *memPublisher) states() (map[string]bridge.State, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]bridge.State{}
	for i, t := range p.msgs {
		st := t.State
		st.Version = uint64(i + 1)
		out[t.InteractionID] = st
	}
	return out, p.lastTime
}

func (p *memPublisher) published() []bridge.Transition {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.msgs)
}

// heldStats collects how long frames held back after gaps waited.
type heldStats struct {
	mu         sync.Mutex
	waits      []time.Duration
	incomplete int
}

func (h *heldStats) add(w time.Duration, incomplete bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.waits = append(h.waits, w)
	if incomplete {
		h.incomplete++
	}
}

func (h *heldStats) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	w := slices.Clone(h.waits)
	slices.Sort(w)
	if len(w) == 0 {
		return "no frame held back"
	}
	return fmt.Sprintf("frames held back after gaps %d (median wait %s, longest %s), released without their history %d",
		len(w), w[len(w)/2].Round(time.Millisecond), w[len(w)-1].Round(time.Millisecond), h.incomplete)
}

// bubbleBridge is the Genesys side of the bridge and its pipeline, in a
// synctest bubble on an in-memory network.
type bubbleBridge struct {
	stream *genesys.Stream
	pipe   *engine.Pipeline
	cancel context.CancelFunc
	wg     sync.WaitGroup
	client *http.Transport
}

// startBubbleBridge starts a bridge on mem; with resume, it preloads the
// publisher's states and treats the time since its last message as a gap.
func startBubbleBridge(t *testing.T, sim *simulator.Server, mem *simulator.MemNet, pub *memPublisher, log *slog.Logger,
	resume bool, tweak func(*genesys.StreamConfig, *engine.Config)) *bubbleBridge {
	t.Helper()
	b := &bubbleBridge{client: &http.Transport{DialContext: mem.DialContext}}
	client := genesys.NewClient(genesys.ClientConfig{Endpoints: genesys.Endpoints{API: sim.URL, Login: sim.URL},
		ClientID: "sim-client", ClientSecret: "sim-secret", HTTPClient: &http.Client{Transport: b.client, Timeout: 30 * time.Second}, Logger: log})
	topics, _ := genesys.Topics(genesys.TopicSet{Queues: sim.Population().Queues})
	pc := engine.Config{Logger: log}
	sc := genesys.StreamConfig{Clients: []*genesys.Client{client}, Topics: topics, BackfillLag: time.Second,
		SocketConfig: genesys.SocketConfig{Dialer: &websocket.Dialer{NetDialContext: mem.DialContext, HandshakeTimeout: 15 * time.Second}, Logger: log}}
	if tweak != nil {
		tweak(&sc, &pc)
	}
	b.pipe = engine.New(pc)
	if resume {
		states, last := pub.states()
		b.pipe.Preload(states, last.Add(-4*time.Hour))
		sc.ResumeFrom = last
	}
	sc.OpenInteractions = b.pipe.OpenInteractions
	var err error
	if b.stream, err = genesys.NewStream(sc); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	b.cancel = cancel
	b.wg.Go(func() { _ = b.stream.Run(ctx) })
	b.wg.Go(func() { _ = b.pipe.Run(ctx, b.stream, pub) })
	return b
}

// stop stops the bridge, as a crash would: nothing waits.
func (b *bubbleBridge) stop() {
	b.cancel()
	b.wg.Wait()
	b.client.CloseIdleConnections()
}

type soakResult struct {
	expected, found, lost, duplicated, extra, outOfOrder int
}

func compareTruth(truth []simulator.Truth, got []bridge.Transition) (r soakResult, examples []string) {
	type key struct{ id, from, to string }
	want := map[key]int{}
	order := map[string][]string{}
	for _, tr := range truth {
		want[key{tr.InteractionID, string(tr.From), string(tr.To)}]++
		order[tr.InteractionID] = append(order[tr.InteractionID], string(tr.To))
	}
	seen := map[key]int{}
	gotOrder := map[string][]string{}
	for _, t := range got {
		k := key{t.InteractionID, string(t.FromStatus), string(t.ToStatus)}
		seen[k]++
		gotOrder[k.id] = append(gotOrder[k.id], k.to)
		switch {
		case want[k] == 0:
			r.extra++
			examples = append(examples, fmt.Sprintf("extra %+v", k))
		case seen[k] > want[k]:
			r.duplicated++
			examples = append(examples, fmt.Sprintf("duplicated %+v", k))
		}
	}
	for k, n := range want {
		if seen[k] < n {
			r.lost += n - seen[k]
			examples = append(examples, fmt.Sprintf("lost %+v", k))
		}
	}
	for id, w := range order {
		if strings.Join(gotOrder[id], ",") != strings.Join(w, ",") {
			r.outOfOrder++
		}
	}
	r.expected, r.found = len(truth), len(got)
	return r, examples
}

// TestSoak runs the simulator at a steady rate for a long simulated time
// with a fault every few seconds, the whole Genesys side of the bridge
// (REST, channels, sockets, rollovers, back-fill) and the pipeline, inside
// a testing/synctest bubble on an in-memory network, and compares what was
// published with the simulator's ground truth. The suite runs 20 simulated
// minutes; GENESYS_SOAK=3h runs three hours.
func TestSoak(t *testing.T) {
	dur := 20 * time.Minute
	if v := os.Getenv("GENESYS_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("GENESYS_SOAK: %v", err)
		}
		dur = d
	}
	const rate, faultEvery, heartbeat, analyticsLag = 1.0, 8 * time.Second, 5 * time.Second, 30 * time.Second
	synctest.Test(t, func(t *testing.T) {
		mem := simulator.NewMemNet()
		sim, err := simulator.Start(simulator.Config{
			Listener: mem, Speed: 1, Rate: rate, Conversations: int(rate * dur.Seconds()), Seed: 11,
			DuplicateRate: 0.05, ReorderRate: 0.05, AnalyticsLag: analyticsLag, LongConversations: 0.02,
			TokenLifetime: 17 * time.Minute, ChannelLifetime: 41 * time.Minute, HeartbeatInterval: heartbeat,
		})
		if err != nil {
			t.Fatal(err)
		}
		logs := &testkit.LogBuffer{}
		log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: soakLevel}))
		pub := newMemPublisher()
		var held heldStats
		b := startBubbleBridge(t, sim, mem, pub, log, false, func(sc *genesys.StreamConfig, pc *engine.Config) {
			sc.HeartbeatInterval, sc.BackfillLag = heartbeat, analyticsLag
			pc.OnHeld = held.add
		})
		stream, pipe := b.stream, b.pipe

		rng := rand.New(rand.NewPCG(3, 4))
		faults := 0
		for done := false; !done; {
			select {
			case <-sim.Done():
				done = true
			case <-time.After(faultEvery):
				if err := sim.InjectFault(simulator.Faults[rng.IntN(len(simulator.Faults))]); err != nil {
					t.Fatal(err)
				}
				faults++
			}
		}
		// The last conversations end (a long one lasts hours); the last gap is back-filled.
		time.Sleep(6 * time.Hour)
		b.stop()
		sim.Close()
		mem.Close()

		r, examples := compareTruth(sim.Truth(), pub.published())
		st := pipe.Stats()
		t.Logf("soak %s simulated: conversations %d, frames %d, events %d, faults %d, reconnects %d, rollovers %d, back-filled %d; transitions expected %d, found %d, lost %d, duplicated %d, extra %d, out of order %d; repeated message ids absorbed %d",
			dur, int(rate*dur.Seconds()), sim.FramesSent(), st.Events.Load(), faults, stream.Reconnects(), stream.Rollovers(), stream.Backfilled(),
			r.expected, r.found, r.lost, r.duplicated, r.extra, r.outOfOrder, pub.dupIDs)
		t.Logf("marked incomplete %d; %s", st.Incomplete.Load(), held.String())
		if r.lost+r.duplicated+r.extra+r.outOfOrder > 0 {
			if len(examples) > 10 {
				examples = examples[:10]
			}
			t.Errorf("stream differs from the truth: %s", strings.Join(examples, "; "))
		}
		if faults < int(dur/faultEvery)/2 {
			t.Errorf("only %d faults injected", faults)
		}
		if strings.Contains(logs.String(), "sim-secret") {
			t.Error("the secret appears in the log")
		}
		for _, tok := range sim.IssuedTokens() {
			if strings.Contains(logs.String(), tok) {
				t.Error("an access token appears in the log")
			}
		}
		if t.Failed() {
			t.Logf("log (last 8 KiB):\n%s", tail(logs.String(), 8<<10))
			if f := os.Getenv("SOAK_LOG"); f != "" {
				os.WriteFile(f, []byte(logs.String()), 0o644)
			}
		}
	})
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// soakLevel is the soak's log level: SOAK_DEBUG=1 logs every transition
// (and SOAK_LOG=file keeps the whole log of a failed soak).
var soakLevel = func() slog.Level {
	if os.Getenv("SOAK_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}()
