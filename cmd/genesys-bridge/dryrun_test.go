package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
	"github.com/genesys-bridge/genesys-bridge/publish"
)

// BRIDGE_DRY_RUN: the whole path but publishing, with NATS_URL pointing at
// nothing. Every transition of the ground truth is derived once, in order,
// counted in the metrics, and /readyz is ready on Genesys alone.
func TestDryRun(t *testing.T) {
	sim, err := simulator.Start(simulator.Config{Conversations: 150, Rate: 5, Seed: testSeed(t), DuplicateRate: 0.1, ReorderRate: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	cfg, err := configFrom(map[string]string{
		"GENESYS_CLIENT_ID": "sim-client", "GENESYS_CLIENT_SECRET": "sim-secret",
		"GENESYS_API_URL": sim.URL, "GENESYS_LOGIN_URL": sim.URL,
		"GENESYS_QUEUE_IDS": strings.Join(sim.Population().Queues, ","),
		"NATS_URL":          "nats://127.0.0.1:1", // nothing listens: a dry run must not need it
		"BRIDGE_DRY_RUN":    "true", "HTTP_ADDR": "127.0.0.1:0", "PPROF_ADDR": "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []published
	h := hooks{published: func(tr *bridge.Transition, _ time.Time) {
		var p published
		if err := json.Unmarshal(tr.AppendJSON(nil), &p.Body); err != nil {
			t.Error(err)
		}
		p.Subject, p.MsgID = publish.Subject(cfg.NATSPrefix, tr), tr.ID
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
	}}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	log, logs := testkit.Logger(t, slog.LevelDebug)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- runWith(ctx, cfg, log, io.Discard, h) }()
	waitSimulator(t, sim, done)
	truth := sim.Truth()
	testkit.Eventually(t, time.Minute, "every transition derived", func() bool { return count() >= len(truth) })

	addr := logValue(t, logs, "serving /healthz", "addr")
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz %d in a dry run with Genesys healthy", resp.StatusCode)
	}
	// The profiler, opt in, on its own listener only.
	profiler := logValue(t, logs, "serving Go's profiler", "url")
	for _, tc := range []struct {
		url  string
		want int
	}{
		{profiler + "goroutine?debug=1", http.StatusOK},
		{profiler + "profile?seconds=1", http.StatusOK},
		{"http://" + addr + "/debug/pprof/goroutine?debug=1", http.StatusNotFound},
	} {
		resp, err := http.Get(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || (tc.want == http.StatusOK && len(body) == 0) {
			t.Errorf("GET %s: %d (%d bytes), want %d", tc.url, resp.StatusCode, len(body), tc.want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	compare(t, truth, got, cfg.NATSPrefix)
	if strings.Contains(logs.String(), "NATS disconnected") || strings.Contains(logs.String(), "JetStream not ready") {
		t.Error("a dry run touched NATS")
	}
	if !strings.Contains(logs.String(), "dry run: transition not published") {
		t.Error("no transition logged at debug level")
	}
}
