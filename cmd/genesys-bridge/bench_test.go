package main

// Benchmarks of speed and memory. They measure; they never assert a
// wall-clock limit. Run them with (see README.md, "Benchmarks"):
//
//	go install github.com/nats-io/natscli/nats@v0.5.0
//	go test ./cmd/genesys-bridge -run '^$' -bench . -benchtime 1x -count 5 | tee bench.txt
//	go run golang.org/x/perf/cmd/benchstat@latest bench.txt
//
// benchstat reports the median of each metric over the -count rounds.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/bridge/engine"
	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
	"github.com/genesys-bridge/genesys-bridge/publish"
)

// natsCLI finds the nats command (natscli v0.5.0).
func natsCLI(b *testing.B) string {
	if p, err := exec.LookPath("nats"); err == nil {
		return p
	}
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "nats")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	b.Skip("natscli not found: go install github.com/nats-io/natscli/nats@v0.5.0")
	return ""
}

var pubStats = regexp.MustCompile(`publisher stats: ([\d,]+) msgs/sec`)

// natsBench runs the reference: nats bench js pub async --dedup.
func natsBench(b *testing.B, cli, url string, msgs, size int) float64 {
	rate, _ := natsBenchCPU(b, cli, url, msgs, size)
	return rate
}

// eventSource yields prebuilt events, then io.EOF.
type eventSource struct {
	events []bridge.Event
	i      atomic.Int64
}

func (s *eventSource) Read(context.Context) (bridge.Event, error) {
	i := s.i.Add(1) - 1
	if int(i) >= len(s.events) {
		return bridge.Event{}, io.EOF
	}
	return s.events[i], nil
}

// benchEvents builds n events over n/6 interactions, each event moving its
// interaction one status further, interleaved across interactions as a
// contact centre's traffic is.
func benchEvents(n int) []bridge.Event {
	statuses := []bridge.Status{bridge.StatusIVR, bridge.StatusQueued, bridge.StatusRinging, bridge.StatusConnected, bridge.StatusWrapup, bridge.StatusCompleted}
	convs := n / len(statuses)
	base := time.Now()
	steps := make([]bridge.Step, len(statuses))
	for i, s := range statuses {
		steps[i] = bridge.Step{Status: s, At: base.Add(time.Duration(i) * time.Second)}
	}
	out := make([]bridge.Event, 0, convs*len(statuses))
	for k := range statuses {
		for c := range convs {
			id := fmt.Sprintf("%08x-0000-4000-8000-%012x", c, base.UnixNano()&0xffffffffffff)
			out = append(out, bridge.Event{InteractionID: id, ChannelType: bridge.ChannelVoice, Steps: steps[:k+1],
				Status: statuses[k], Horizon: steps[k].At, ObservedAt: base,
				Detail: []string{"customer:connected", "agent:connected"}})
		}
	}
	return out
}

// BenchmarkPublishPath compares the bridge's publish path (pipeline: state
// machine, per-interaction ordering, async JetStream publishing with
// Nats-Msg-Id, acks) with `nats bench js pub async --dedup` on the same
// embedded server, in the same round. Metric ratio = bridge / reference.
func BenchmarkPublishPath(b *testing.B) {
	cli := natsCLI(b)
	const msgs = 200_000
	url := testkit.StartNATS(b).URL
	events := benchEvents(msgs)
	sample := bridge.Transition{ID: strings.Repeat("f", 32), InteractionID: events[0].InteractionID, ChannelType: bridge.ChannelVoice,
		FromStatus: bridge.StatusRinging, ToStatus: bridge.StatusConnected, OccurredAt: time.Now(), ObservedAt: time.Now(), Detail: events[0].Detail}
	size := len(sample.AppendJSON(nil))

	var ref, ours []float64
	for range b.N {
		ref = append(ref, natsBench(b, cli, url, msgs, size))

		nc, err := nats.Connect(url)
		if err != nil {
			b.Fatal(err)
		}
		pub, err := publish.New(b.Context(), nc, publish.Config{Stream: "GENESYS_BENCH", SubjectPrefix: "bench.gb"})
		if err != nil {
			b.Fatal(err)
		}
		js, _ := jetstream.New(nc)
		if s, err := js.Stream(b.Context(), "GENESYS_BENCH"); err == nil {
			_ = s.Purge(b.Context())
		}
		// Fresh interaction ids each round, so nothing is a duplicate.
		events = benchEvents(msgs)
		pipe := engine.New(engine.Config{})
		start := time.Now()
		err = pipe.Run(context.Background(), &eventSource{events: events}, pub)
		elapsed := time.Since(start)
		if !errors.Is(err, io.EOF) {
			b.Fatalf("pipeline: %v", err)
		}
		if got := pipe.Stats().Published.Load(); got != uint64(len(events)) || pipe.Stats().Duplicates.Load() != 0 {
			b.Fatalf("published %d of %d (%d duplicates)", got, len(events), pipe.Stats().Duplicates.Load())
		}
		ours = append(ours, float64(len(events))/elapsed.Seconds())
		pub.Close()
		nc.Close()
	}
	r, o := median(ref), median(ours)
	b.ReportMetric(r, "natsbench-msgs/s")
	b.ReportMetric(o, "bridge-msgs/s")
	b.ReportMetric(o/r, "ratio")
	b.ReportMetric(float64(size), "payload-bytes")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkFrameToAck runs the whole bridge (simulator over real HTTP and
// WebSocket, decoding, state machine, JetStream) at about 5,000 frames a
// second for 20 seconds and reports the frame-to-ack latency of the
// transitions and the frame rate achieved.
func BenchmarkFrameToAck(b *testing.B) {
	const target, window = 5000.0, 20 * time.Second
	for range b.N {
		// About 9.5 frames per conversation (most of them also arrive a
		// second time on an agent topic, counted separately as frames).
		sim, err := simulator.Start(simulator.Config{Rate: target / 9.5 / 20, Speed: 20, Seed: uint64(time.Now().UnixNano()),
			DuplicateRate: 0.05, ReorderRate: 0.05})
		if err != nil {
			b.Fatal(err)
		}
		ns := testkit.StartNATS(b)
		cfg := benchConfig(b, sim, ns.URL)
		var mu sync.Mutex
		var lat []time.Duration
		var recording atomic.Bool
		statsCh := make(chan *engine.Stats, 1)
		h := hooks{
			stats: func(s *engine.Stats, _ source) { statsCh <- s },
			published: func(t *bridge.Transition, ackedAt time.Time) {
				if recording.Load() {
					mu.Lock()
					lat = append(lat, ackedAt.Sub(t.ObservedAt))
					mu.Unlock()
				}
			},
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- runWith(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard, h) }()
		stats := <-statsCh
		time.Sleep(5 * time.Second) // warm up to a steady state
		ev0 := stats.Events.Load()
		recording.Store(true)
		time.Sleep(window)
		recording.Store(false)
		ev1 := stats.Events.Load()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		sim.Close()
		ns.Stop()
		slices.Sort(lat)
		q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
		b.ReportMetric(float64(ev1-ev0)/window.Seconds(), "frames/s")
		b.ReportMetric(q(0.50), "p50-ms")
		b.ReportMetric(q(0.99), "p99-ms")
		b.ReportMetric(q(0.999), "p999-ms")
		b.ReportMetric(float64(len(lat)), "transitions")
	}
}

// BenchmarkMemory pushes conversations through the whole bridge as fast as
// it goes and reports the live heap and open interactions after 5,000 and
// after 20,000 conversations: with state released after completion the two
// stay close however many conversations pass.
func BenchmarkMemory(b *testing.B) {
	for range b.N {
		// The simulator keeps conversations for its analytics endpoint only a
		// second, so the heap measured is the bridge's, not the simulator's.
		sim, err := simulator.Start(simulator.Config{Rate: 20, Speed: 0, Conversations: 20000, Seed: uint64(time.Now().UnixNano()),
			AnalyticsRetention: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		ns := testkit.StartNATS(b)
		cfg := benchConfig(b, sim, ns.URL, "BRIDGE_COMPLETED_GRACE", "1s")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		statsCh := make(chan *engine.Stats, 1)
		go func() {
			done <- runWith(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard, hooks{stats: func(s *engine.Stats, _ source) { statsCh <- s }})
		}()
		stats := <-statsCh
		heapAt := func(convs int) (float64, int64) {
			for len(sim.Truth()) == 0 || countCompleted(sim) < convs {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(1500 * time.Millisecond) // one grace period and a sweep
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			return float64(ms.HeapInuse) / (1 << 20), stats.Open.Load()
		}
		h1, o1 := heapAt(5000)
		h2, o2 := heapAt(19000)
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		sim.Close()
		ns.Stop()
		b.ReportMetric(h1, "heap-MiB@5k")
		b.ReportMetric(h2, "heap-MiB@19k")
		b.ReportMetric(float64(o1), "open@5k")
		b.ReportMetric(float64(o2), "open@19k")
	}
}

func countCompleted(sim *simulator.Server) int {
	n := 0
	for _, t := range sim.Truth() {
		if t.To == bridge.StatusCompleted {
			n++
		}
	}
	return n
}

func benchConfig(b *testing.B, sim *simulator.Server, natsURL string, more ...string) *Config {
	pop := sim.Population()
	vars := map[string]string{
		"GENESYS_CLIENT_ID": "sim-client", "GENESYS_CLIENT_SECRET": "sim-secret",
		"GENESYS_API_URL": sim.URL, "GENESYS_LOGIN_URL": sim.URL,
		"GENESYS_QUEUE_IDS": strings.Join(pop.Queues, ","), "GENESYS_USER_IDS": strings.Join(pop.Agents[:4], ","),
		"NATS_URL": natsURL, "HTTP_ADDR": "",
	}
	for i := 0; i+1 < len(more); i += 2 {
		vars[more[i]] = more[i+1]
	}
	cfg, err := configFrom(vars)
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}
