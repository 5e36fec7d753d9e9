package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/bridge/engine"
	"github.com/genesys-bridge/genesys-bridge/genesys/interactions"
	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// harness runs the whole bridge against a real-time simulator whose
// conversations last a second or two, and an embedded JetStream.
type harness struct {
	t          *testing.T
	sim        *simulator.Server
	natsServer *testkit.NATS
	nats       string
	cfg        *Config
	logs       *testkit.LogBuffer
	cancel     context.CancelFunc
	done       chan error
	stats      *engine.Stats
	src        source
	// replicas are further bridges: finish stops them before comparing.
	replicas []func() error
}

func startHarness(t *testing.T, simCfg simulator.Config, env map[string]string) *harness {
	t.Helper()
	if simCfg.Conversations == 0 {
		simCfg.Conversations = 120
	}
	if simCfg.Rate == 0 {
		simCfg.Rate = 15
	}
	simCfg.Speed, simCfg.StepScale = 1, 0.03
	if simCfg.LateJoiners == 0 {
		// Two agents join the queues mid-run (agents are the queues'
		// members by default): the bridge must follow them from their
		// first status.
		simCfg.LateJoiners = 2
	}
	if simCfg.HeartbeatInterval == 0 {
		simCfg.HeartbeatInterval = 300 * time.Millisecond
	}
	if simCfg.Seed == 0 {
		simCfg.Seed = testSeed(t)
	}
	// Analytics lags as much as the bridge is told to expect, so back-fill
	// runs both passes.
	simCfg.AnalyticsLag = 100 * time.Millisecond
	simCfg.DuplicateRate = 0.1
	if simCfg.ReorderRate == 0 && env["GENESYS_DIALECT"] != "interactions" {
		// The interactions dialect drops sequence regressions by design, so
		// its tests reorder only where they say so.
		simCfg.ReorderRate = 0.1
	}
	sim, err := simulator.Start(simCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	h := &harness{t: t, sim: sim, natsServer: testkit.StartNATS(t), done: make(chan error, 1)}
	h.nats = h.natsServer.URL
	pop := sim.Population()
	vars := map[string]string{
		"GENESYS_CLIENT_ID": "sim-client", "GENESYS_CLIENT_SECRET": "sim-secret",
		"GENESYS_API_URL": sim.URL, "GENESYS_LOGIN_URL": sim.URL,
		"GENESYS_QUEUE_IDS": strings.Join(pop.Queues, ","), "GENESYS_USER_IDS": strings.Join(pop.Agents[:3], ","),
		"GENESYS_HEARTBEAT_INTERVAL": "1s", "GENESYS_BACKFILL_LAG": "100ms",
		"NATS_URL": h.nats, "HTTP_ADDR": "",
	}
	for k, v := range env {
		vars[k] = v
		if v == unset {
			delete(vars, k)
		}
	}
	if h.cfg, err = configFrom(vars); err != nil {
		t.Fatal(err)
	}
	h.start()
	return h
}

// start runs the bridge (again) with h's configuration and a fresh log,
// and waits until its pipeline runs: h.stats and h.src are then this
// run's.
func (h *harness) start() {
	t := h.t
	t.Helper()
	log, logs := testkit.Logger(t, slog.LevelDebug)
	h.logs = logs
	ctx, cancel := context.WithCancel(t.Context())
	h.cancel, h.done = cancel, make(chan error, 1)
	type started struct {
		stats *engine.Stats
		src   source
	}
	startedCh := make(chan started, 1)
	go func() {
		h.done <- runWith(ctx, h.cfg, log, io.Discard, hooks{stats: func(s *engine.Stats, src source) { startedCh <- started{s, src} }})
	}()
	select {
	case st := <-startedCh:
		h.stats, h.src = st.stats, st.src
	case err := <-h.done:
		t.Fatalf("run ended at start: %v", err)
	case <-time.After(2 * time.Minute):
		// (Provisioning retries while JetStream is not ready.)
		t.Fatalf("the bridge did not start in 2 minutes:\n%s", logs.String())
	}
}

// waitTransitions waits until the simulator caused at least n transitions.
func (h *harness) waitTransitions(n int) {
	h.t.Helper()
	testkit.Eventually(h.t, time.Minute, fmt.Sprintf("%d transitions from the simulator", n), func() bool { return len(h.sim.Truth()) >= n })
}

// waitIdle waits until the bridge has nothing in hand: nothing held for a
// gap's history, no gap open, nothing unacknowledged.
func (h *harness) waitIdle() {
	h.t.Helper()
	testkit.Eventually(h.t, time.Minute, "the bridge to be idle", func() bool {
		return h.stats.Waiting.Load() == 0 && h.stats.GapsOpen.Load() == 0 && h.stats.Outstanding.Load() == 0
	})
}

// finish waits for the simulator to end and the stream to hold the truth,
// stops the bridge and compares the stream with the truth.
func (h *harness) finish() {
	t := h.t
	t.Helper()
	select {
	case <-h.sim.Done():
	case err := <-h.done:
		t.Fatalf("run returned early: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("simulator did not finish")
	}
	truth := h.sim.Truth()
	var agentTruth []simulator.AgentTruth
	if h.cfg.GenesysDialect == "notifications" && h.cfg.GenesysAgents != "none" {
		agentTruth = h.sim.AgentTruth()
	}
	nc, err := nats.Connect(h.nats)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	// The stream reaches the truth (or the comparison shows what is
	// missing), and the bridge has finished with everything it read.
	testkit.Poll(time.Minute, func() bool { return streamMsgs(t, js, h.cfg.NATSStream) >= len(truth)+len(agentTruth) })
	h.waitIdle()
	h.cancel()
	if err := <-h.done; err != nil {
		t.Fatalf("run: %v", err)
	}
	for i, stop := range h.replicas {
		if err := stop(); err != nil {
			t.Fatalf("replica %d: %v", i+2, err)
		}
	}
	got := readStream(t, h.nats, h.cfg.NATSStream)
	compare(t, truth, got, h.cfg.NATSPrefix)
	if agentTruth != nil {
		compareAgents(t, agentTruth, got, h.cfg.NATSPrefix)
	}
	h.checkNoSecrets()
}

// checkNoSecrets fails if the client secret or any access token the
// simulator issued appears in the log.
func (h *harness) checkNoSecrets() {
	logs := h.logs.String()
	if strings.Contains(logs, "sim-secret") {
		h.t.Error("the client secret appears in the log")
	}
	for _, tok := range h.sim.IssuedTokens() {
		if strings.Contains(logs, tok) {
			h.t.Errorf("access token %s... appears in the log", tok[:6])
		}
	}
}

func (h *harness) logHas(s string) bool { return strings.Contains(h.logs.String(), s) }

// Each test injects one fault mid-stream; each ends with the same check:
// the stream holds every transition the simulator caused, once, in order,
// with the right statuses, and nothing else.
func TestFaults(t *testing.T) {
	// A second OAuth client, for the case that refuses the first.
	secondSecret := t.TempDir() + "/client-2"
	if err := os.WriteFile(secondSecret, []byte("secret-of-client-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		sim    simulator.Config
		env    map[string]string
		inject func(h *harness)
		check  func(h *harness)
	}{
		{name: "abrupt drop", inject: func(h *harness) { h.sim.DropSockets() },
			check: func(h *harness) {
				if !h.logHas("genesys socket lost") || !h.logHas("back-fill done") {
					h.t.Error("no reconnect or back-fill in the log")
				}
			}},
		{name: "silent socket", inject: func(h *harness) { h.sim.SilenceSockets() },
			check: func(h *harness) {
				if !h.logHas("missed heartbeats") {
					h.t.Error("the silent socket was not declared dead for missed heartbeats")
				}
			}},
		// Notifications in flight lag behind pongs (EventLag): the
		// rollovers must not take a pong for the end of the old socket.
		{name: "socket_closing", sim: simulator.Config{EventLag: 200 * time.Millisecond}, inject: func(h *harness) { h.sim.AnnounceClosing(time.Second) },
			check: func(h *harness) {
				if !h.logHas("make-before-break; no gap") || h.logHas("genesys socket lost") {
					h.t.Error("socket_closing did not lead to a gapless rollover")
				}
			}},
		{name: "channel expiry ahead of time", sim: simulator.Config{ChannelLifetime: 3 * time.Second, EventLag: 200 * time.Millisecond}, inject: func(*harness) {},
			check: func(h *harness) {
				if !h.logHas("channel expiry approaching") || h.logHas("genesys socket lost") {
					h.t.Error("channels were not replaced before expiry without a gap")
				}
			}},
		{name: "channel expired (404 frame)", inject: func(h *harness) { h.sim.ExpireChannels() },
			check: func(h *harness) {
				if !h.logHas("channel gone (result 404)") {
					h.t.Error("the 404 frame was not reported")
				}
			}},
		{name: "token rotation", sim: simulator.Config{TokenLifetime: 4 * time.Second, EventLag: 200 * time.Millisecond}, inject: func(*harness) {},
			check: func(h *harness) {
				if h.sim.TokensIssued() < 3 || !h.logHas("access token due for rotation") || h.logHas("genesys socket lost") {
					h.t.Errorf("tokens issued %d; want rotations make-before-break without a gap", h.sim.TokensIssued())
				}
			}},
		{name: "token revoked", inject: func(h *harness) { h.sim.RevokeTokens() },
			check: func(h *harness) {
				if h.sim.TokensIssued() < 2 {
					h.t.Error("no new token after revocation")
				}
			}},
		{name: "429 then 503 on REST during a reconnect", inject: func(h *harness) {
			h.sim.FailREST(429, 2)
			h.sim.DropSockets()
			testkit.Eventually(h.t, time.Minute, "the socket restored", func() bool { return strings.Count(h.logs.String(), "genesys socket restored") >= 1 })
			h.sim.FailREST(503, 2)
			h.sim.DropSockets()
		}, check: func(h *harness) {
			if !h.logHas("retrying Genesys API call") {
				h.t.Error("REST failures were not retried")
			}
		}},
		{name: "401 on REST", inject: func(h *harness) { h.sim.FailREST(401, 1); h.sim.DropSockets() }},
		{name: "NATS restarted on the same store", env: map[string]string{"HTTP_ADDR": "127.0.0.1:0"}, inject: func(h *harness) {
			h.natsServer.Stop()
			addr := logValue(h.t, h.logs, "serving /healthz", "addr")
			testkit.Eventually(h.t, time.Minute, "/readyz 503 while NATS is down", func() bool { return readyz(addr) == http.StatusServiceUnavailable })
			// Traffic goes on while NATS is down.
			sent := h.sim.FramesSent()
			testkit.Eventually(h.t, time.Minute, "frames while NATS is down", func() bool { return h.sim.FramesSent() >= sent+100 })
			h.natsServer.Start()
		}, check: func(h *harness) {
			if !h.logHas("NATS disconnected") || !h.logHas("NATS reconnected") {
				h.t.Error("the outage is not in the log")
			}
		}},
		{name: "NATS outage beyond the buffer", env: map[string]string{"NATS_MAX_PENDING": "32"}, inject: func(h *harness) {
			h.natsServer.Stop()
			// Reading from Genesys pauses (a shard reaches its share of the
			// 32 outstanding transitions, or waits for a state it cannot
			// load): the frames sent pile up unread.
			testkit.Eventually(h.t, time.Minute, "reading paused", func() bool { return h.sim.FramesSent() > h.stats.Events.Load()+200 })
			h.natsServer.Start()
		}, check: func(h *harness) {
			if !h.logHas("NATS disconnected") {
				h.t.Error("the outage is not in the log")
			}
		}},
		// An administrator disables the OAuth client that holds the
		// channel: its socket closes and its login is refused; the channel
		// moves to the second client and the gap is back-filled.
		{name: "OAuth client refused", sim: simulator.Config{Clients: map[string]string{"client-2": "secret-of-client-2"}},
			env: map[string]string{"GENESYS_CLIENTS": "client-2:" + secondSecret, "HTTP_ADDR": "127.0.0.1:0"},
			inject: func(h *harness) {
				h.sim.RefuseClient("sim-client")
				addr := logValue(h.t, h.logs, "serving /healthz", "addr")
				testkit.Eventually(h.t, time.Minute, "the channel on the second client, /readyz naming the refused one", func() bool {
					body, code := readyzBody(addr)
					return h.sim.Usage()["client-2"].Sockets == 1 && code == http.StatusOK &&
						strings.Contains(body, "OAuth client sim-client: login refused")
				})
			}, check: func(h *harness) {
				if !h.logHas("Genesys refused an OAuth client's login") || !h.logHas("client_id=client-2") || h.logHas("secret-of-client-2") {
					h.t.Error("the refusal and the move are not in the log, or a secret is")
				}
			}},
		{name: "burst while disconnected", inject: func(h *harness) { h.sim.Blackout(2 * time.Second) },
			check: func(h *harness) {
				if !h.logHas("back-fill done") {
					h.t.Error("no back-fill after the blackout")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each run is mostly waiting on simulated time
			h := startHarness(t, tt.sim, tt.env)
			h.waitTransitions(60)
			tt.inject(h)
			h.finish()
			if tt.check != nil {
				tt.check(h)
			}
		})
	}
}

// testSeed is the seed of a test's simulator: fixed per test, so a run
// can be repeated exactly, or GENESYS_TEST_SEED (plus the test's own
// share) to explore others. It is logged.
func testSeed(t *testing.T) uint64 {
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	seed := h.Sum64()
	if v := os.Getenv("GENESYS_TEST_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("GENESYS_TEST_SEED: %v", err)
		}
		seed ^= n
	}
	t.Logf("simulator seed %d (GENESYS_TEST_SEED explores others)", seed)
	return seed
}

// unset, as a value in startHarness's env, removes the variable.
const unset = "<unset>"

// configFrom loads the configuration from exactly vars.
func configFrom(vars map[string]string) (*Config, error) {
	return loadConfig(lookupIn(environ(vars)), false)
}

// The tutorial's dialect, end to end: token in the query, the filter
// message, flat events, duplicated frames; every status change is a
// transition (the tutorial kept only the first per interaction).
func TestInteractionsDialect(t *testing.T) {
	tutorial := map[string]string{"GENESYS_DIALECT": "interactions", "GENESYS_QUEUE_IDS": unset, "GENESYS_USER_IDS": unset, "GENESYS_AGENT_IDS": unset}
	t.Run("every transition once", func(t *testing.T) {
		t.Parallel()
		h := startHarness(t, simulator.Config{}, tutorial)
		h.finish()
		if !h.logHas("interactions stream connected") || h.logHas("access_token=") {
			t.Error("not connected over the interactions dialect, or the token URL was logged")
		}
	})
	t.Run("in-band token refresh", func(t *testing.T) {
		t.Parallel()
		h := startHarness(t, simulator.Config{TokenLifetime: 3 * time.Second}, tutorial)
		h.finish()
		if h.sim.TokensIssued() < 3 || !h.logHas("access token refreshed in-band") || h.logHas("interactions stream lost") {
			t.Errorf("tokens issued %d; want in-band refreshes and no reconnect", h.sim.TokensIssued())
		}
	})
	t.Run("close 4001 reconnects with a new token", func(t *testing.T) {
		t.Parallel()
		h := startHarness(t, simulator.Config{Conversations: 200}, tutorial)
		h.waitTransitions(60)
		h.sim.RevokeTokens()
		published := h.stats.Published.Load()
		testkit.Poll(20*time.Second, func() bool { return h.stats.Published.Load() >= published+50 })
		h.cancel()
		if err := <-h.done; err != nil {
			t.Fatal(err)
		}
		h.checkNoSecrets()
		if !h.logHas("4001") || h.sim.TokensIssued() < 2 || h.stats.Published.Load() < published+50 {
			t.Errorf("after a 4001 close: tokens %d, published %d then %d", h.sim.TokensIssued(), published, h.stats.Published.Load())
		}
	})
	t.Run("filter message and sequence regressions", func(t *testing.T) {
		t.Parallel()
		env := map[string]string{"BRIDGE_CHANNEL_TYPES": "chat", "BRIDGE_STATUSES": "queued,connected,completed"}
		for k, v := range tutorial {
			env[k] = v
		}
		h := startHarness(t, simulator.Config{ReorderRate: 0.3}, env)
		<-h.sim.Done()
		// Every frame sent was read (as an event, or dropped as a
		// sequence regression) and acknowledged.
		testkit.Eventually(t, time.Minute, "every frame read", func() bool {
			return h.stats.Events.Load()+h.src.(*interactions.Stream).SequenceRegressions() >= h.sim.FramesSent()
		})
		h.waitIdle()
		h.cancel()
		if err := <-h.done; err != nil {
			t.Fatal(err)
		}
		got := readStream(t, h.nats, h.cfg.NATSStream)
		if len(got) == 0 {
			t.Fatal("nothing published")
		}
		for _, p := range got {
			if p.Body.ChannelType != "chat" || !strings.Contains("queued,connected,completed", p.Body.ToStatus) {
				t.Fatalf("published %s %s, outside the filter", p.Body.ChannelType, p.Body.ToStatus)
			}
		}
		if !h.logHas(`types=[chat]`) {
			t.Error("the filter message did not carry the channel types")
		}
		if !h.logHas("sequence regression dropped") {
			t.Error("reordered and duplicated events were not dropped as sequence regressions")
		}
	})
}

func readyz(addr string) int {
	_, code := readyzBody(addr)
	return code
}

// readyzBody is /readyz's body and status (0 when unreachable).
func readyzBody(addr string) (string, int) {
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return "", 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body), resp.StatusCode
}

// Two bridges with the same configuration run at once. Sharing the lanes
// (the default), one reads the lane and the other stands by; when the
// reader restarts (a rolling restart), the other takes the lane over after
// a gap from the reader's mark, and the stream holds each transition once.
// Active-active (BRIDGE_SHARE_LANES=false), both receive every frame, both
// publish, and the stream holds each transition once: message ids agree,
// and the first transition of each interaction is a compare-and-set; a
// fault on the way makes them diverge for a while (one back-fills while
// the other streams).
func TestTwoReplicas(t *testing.T) {
	t.Parallel()
	second := func(h *harness) *testkit.LogBuffer {
		cfg2 := *h.cfg
		log2, logs2 := testkit.Logger(t, slog.LevelDebug)
		ctx2, cancel2 := context.WithCancel(t.Context())
		done2 := make(chan error, 1)
		go func() { done2 <- serve(ctx2, &cfg2, log2, io.Discard) }()
		h.replicas = append(h.replicas, func() error { cancel2(); return <-done2 })
		return logs2
	}
	t.Run("sharing the lanes", func(t *testing.T) {
		t.Parallel()
		h := startHarness(t, simulator.Config{}, map[string]string{"NATS_DUPLICATE_WINDOW": "10m", "BRIDGE_LEASE_TTL": "2s"})
		testkit.Eventually(t, time.Minute, "the first replica reads the lane", func() bool { return h.logHas("genesys stream connected") })
		logs2 := second(h)
		testkit.Eventually(t, time.Minute, "the second replica stands by", func() bool { return strings.Contains(logs2.String(), "replicas share the Genesys channels") })
		h.waitTransitions(100)
		if n := h.sim.Sockets(); n != 1 {
			t.Errorf("%d sockets: the lane is read by more than one replica", n)
		}
		// A rolling restart of the reader: the other takes the lane over.
		h.cancel()
		if err := <-h.done; err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, time.Minute, "the second replica took the lane over", func() bool {
			return strings.Contains(logs2.String(), "lane lease taken over") && strings.Contains(logs2.String(), "genesys stream connected")
		})
		h.start()
		h.finish()
		if !strings.Contains(logs2.String(), "back-fill done") {
			t.Error("the takeover was not back-filled")
		}
		if h.sim.Sockets() > 1 {
			t.Errorf("%d sockets after the restart", h.sim.Sockets())
		}
	})
	t.Run("every replica reads every lane", func(t *testing.T) {
		t.Parallel()
		h := startHarness(t, simulator.Config{}, map[string]string{"NATS_DUPLICATE_WINDOW": "10m", "BRIDGE_SHARE_LANES": "false"})
		logs2 := second(h)
		h.waitTransitions(100)
		h.sim.DropSockets() // both replicas lose their socket and back-fill
		h.finish()
		if strings.Count(logs2.String(), "genesys stream connected") < 2 {
			t.Error("the second replica did not run alongside the first")
		}
	})
}

// A bridge stops while Genesys goes on; a new one (no memory) starts after
// a downtime: it finds in the stream where the first one stopped and
// back-fills from there, so the stream ends up with every transition once.
func TestResumeAfterDowntime(t *testing.T) {
	t.Parallel()
	h := startHarness(t, simulator.Config{Conversations: 150}, map[string]string{"GENESYS_RESUME_LOOKBACK": "10m"})
	h.waitTransitions(150)
	h.cancel()
	if err := <-h.done; err != nil {
		t.Fatalf("first run: %v", err)
	}
	// Transitions happen while no bridge runs: their frames reach nobody.
	down := len(h.sim.Truth())
	testkit.Eventually(t, time.Minute, "transitions during the downtime", func() bool { return len(h.sim.Truth()) >= down+60 })
	h.start() // (its stats are the new run's: the first one's may hold gaps it never closed)
	h.finish()
	// Without shared lanes the stream's last message tells where to resume;
	// sharing them, the lane's lease tells where its last reader stopped.
	if !h.logHas("resuming after an earlier run") && !h.logHas("back-filling since it stopped") {
		t.Error("the second run did not resume from the stream")
	}
}

// The bridge on a three-node JetStream cluster with the stream on three
// replicas (NATS_STREAM_REPLICAS=3) keeps publishing, losing nothing, while
// one node is stopped and started again.
func TestClusterNodeRestart(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, 3)
	h := startHarness(t, simulator.Config{}, map[string]string{"NATS_URL": cl.urls(), "NATS_STREAM_REPLICAS": "3"})
	h.nats = cl.urls()
	h.waitTransitions(100)
	cl.stop(1)
	// Publishing goes on with a node down.
	published := h.stats.Published.Load()
	testkit.Eventually(t, time.Minute, "publishing with a node down", func() bool { return h.stats.Published.Load() >= published+100 })
	cl.start(1)
	h.finish()
	info := streamInfoOf(t, cl.urls(), h.cfg.NATSStream)
	if info.Config.Replicas != 3 {
		t.Errorf("stream has %d replicas, want 3", info.Config.Replicas)
	}
}

func streamInfoOf(t *testing.T, urls, name string) *jetstream.StreamInfo {
	nc, err := nats.Connect(urls)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	// After a node restart the cluster may still be electing a leader.
	var info *jetstream.StreamInfo
	testkit.Eventually(t, time.Minute, "the stream's info", func() bool {
		s, err := js.Stream(t.Context(), name)
		if err != nil {
			return false
		}
		info, err = s.Info(t.Context())
		return err == nil
	})
	return info
}
