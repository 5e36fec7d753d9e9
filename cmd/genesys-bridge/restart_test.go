package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/bridge/engine"
	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// A bridge stopped with conversations mid-flight, and a new one (no memory)
// started on the same stream after the duplicate window has passed, which
// receives every frame again from the start: the stream ends up with each
// transition once, in order, with the right fromStatus. The state comes
// from the stream itself (the last message per interaction), not from the
// duplicate window, read in one pass when the bridge starts: no
// interaction is loaded one by one. In both dialects.
func TestRestartContinuesFromTheStream(t *testing.T) {
	for _, dialect := range []string{"notifications", "interactions"} {
		t.Run(dialect, func(t *testing.T) { testRestart(t, dialect) })
	}
}

func testRestart(t *testing.T, dialect string) {
	natsURL := testkit.StartNATS(t).URL
	start := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	simCfg := simulator.Config{Seed: 99, Start: start, Conversations: 200, Rate: 2, DuplicateRate: 0.1, ReorderRate: 0.1,
		AnalyticsLag: 100 * time.Millisecond}

	if dialect == "interactions" {
		// The tutorial's stream numbers its events: one that arrives after a
		// later one is dropped as a regression (TestInteractionsDialect), so
		// a reordering server would lose transitions by design.
		simCfg.ReorderRate = 0
	}
	var loads uint64 // interactions of the last run loaded one by one
	runOnce := func(until time.Duration) *simulator.Server {
		cfg := simCfg
		cfg.Until = until
		sim, err := simulator.Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer sim.Close()
		pop := sim.Population()
		env := map[string]string{
			"GENESYS_CLIENT_ID": "sim-client", "GENESYS_CLIENT_SECRET": "sim-secret",
			"GENESYS_API_URL": sim.URL, "GENESYS_LOGIN_URL": sim.URL,
			"GENESYS_QUEUE_IDS": strings.Join(pop.Queues, ","), "NATS_URL": natsURL, "HTTP_ADDR": "",
			"NATS_DUPLICATE_WINDOW": "100ms", "GENESYS_BACKFILL_LAG": "100ms", "GENESYS_DIALECT": dialect,
		}
		if dialect == "interactions" {
			delete(env, "GENESYS_QUEUE_IDS")
		}
		bcfg, err := configFrom(env)
		if err != nil {
			t.Fatal(err)
		}
		log, _ := testkit.Logger(t, slog.LevelDebug)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		stats := make(chan *engine.Stats, 1)
		go func() {
			done <- runWith(ctx, bcfg, log, io.Discard, hooks{stats: func(s *engine.Stats, _ source) { stats <- s }})
		}()
		st := <-stats
		<-sim.Done()
		// Let the bridge publish everything the simulator caused, then stop.
		nc, err := nats.Connect(natsURL)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		if until == 0 {
			want := len(sim.Truth())
			if dialect == "notifications" {
				want += len(sim.AgentTruth())
			}
			testkit.Poll(60*time.Second, func() bool { return streamMsgs(t, js, "GENESYS_INTERACTIONS") >= want })
		} else {
			// Cut short, the simulator may have recorded a change whose
			// frame it never sent: wait until the stream stops growing.
			last, since := -1, time.Now()
			testkit.Poll(60*time.Second, func() bool {
				if n := streamMsgs(t, js, "GENESYS_INTERACTIONS"); n != last {
					last, since = n, time.Now()
				}
				return time.Since(since) >= 1500*time.Millisecond
			})
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("run: %v", err)
		}
		loads = st.Loads.Load()
		return sim
	}

	// First bridge: stopped 60 simulated seconds in, conversations mid-flight.
	first := runOnce(60 * time.Second)
	firstCount := len(first.Truth())
	if loads != 0 {
		t.Errorf("the first run, on an empty stream, loaded %d interactions one by one; want none", loads)
	}
	time.Sleep(300 * time.Millisecond) // past the 100ms duplicate window
	// Second bridge: fresh memory, every frame again from the beginning.
	second := runOnce(0)
	truth := second.Truth()
	if firstCount == 0 || firstCount >= len(truth) {
		t.Fatalf("the first run caused %d of %d transitions; want a part", firstCount, len(truth))
	}
	got := readStream(t, natsURL, "GENESYS_INTERACTIONS")
	compare(t, truth, got, "genesys.interactions")
	if dialect == "notifications" {
		compareAgents(t, second.AgentTruth(), got, "genesys.interactions")
	}
	if loads != 0 {
		t.Errorf("the second run loaded %d interactions one by one; want all of them from the one pass at start", loads)
	}
}
