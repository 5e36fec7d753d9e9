package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// replica is the bridge binary running as a child process.
type replica struct {
	t    *testing.T
	name string
	bin  string
	env  []string
	log  string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has exited
	err     error         // its exit status, valid after exited
	logFrom int64         // the log's size when cmd started
}

func (r *replica) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return // already running (a restart scheduled twice)
	}
	f, err := os.OpenFile(r.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		r.t.Fatal(err)
	}
	if fi, err := f.Stat(); err == nil {
		r.logFrom = fi.Size()
	}
	cmd := exec.Command(r.bin)
	cmd.Env, cmd.Stdout, cmd.Stderr = r.env, f, f
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	exited := make(chan struct{})
	r.cmd, r.exited = cmd, exited
	go func() {
		err := cmd.Wait()
		f.Close()
		r.mu.Lock()
		if r.exited == exited {
			r.err = err
		}
		r.mu.Unlock()
		close(exited)
	}()
}

func (r *replica) running() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cmd != nil
}

// kill sends SIGKILL (kill -9): no drain, no cleanup.
func (r *replica) kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		_ = r.cmd.Process.Kill()
		r.cmd = nil
	}
}

// running says whether the current process got as far as running (its
// signal handling is in place).
func (r *replica) up() bool {
	r.mu.Lock()
	from := r.logFrom
	r.mu.Unlock()
	b, _ := os.ReadFile(r.log)
	return int64(len(b)) > from && strings.Contains(string(b[from:]), "genesys-bridge running")
}

// stop sends SIGTERM, once the process is up, and waits for a graceful
// exit.
func (r *replica) stop() error {
	if !testkit.Poll(time.Minute, r.up) {
		return fmt.Errorf("%s did not start within a minute", r.name)
	}
	r.mu.Lock()
	cmd, exited := r.cmd, r.exited
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("%s did not stop within 30s of SIGTERM", r.name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return fmt.Errorf("%s exited with %v after SIGTERM", r.name, r.err)
	}
	return nil
}

func (r *replica) tail(n int) string {
	b, _ := os.ReadFile(r.log)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// heldWaits reads from a replica's log how long each frame held back after
// a gap waited, and how many were released without the gap's history.
func heldWaits(log string) (waits []time.Duration, incomplete int) {
	b, _ := os.ReadFile(log)
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, "released after waiting for a gap's history") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "waited="); ok {
				if d, err := time.ParseDuration(v); err == nil {
					waits = append(waits, d)
				}
			}
			if f == "incomplete=true" {
				incomplete++
			}
		}
	}
	return waits, incomplete
}

// simEnv is a bridge process's environment against sim and the cluster
// at natsURLs (its stream on three replicas), with extra settings last.
func simEnv(sim *simulator.Server, natsURLs string, extra ...string) []string {
	pop := sim.Population()
	env := append(os.Environ(),
		"GENESYS_CLIENT_ID=sim-client", "GENESYS_CLIENT_SECRET=sim-secret",
		"GENESYS_API_URL="+sim.URL, "GENESYS_LOGIN_URL="+sim.URL,
		"GENESYS_QUEUE_IDS="+strings.Join(pop.Queues, ","), "GENESYS_USER_IDS="+strings.Join(pop.Agents[:3], ","),
		"GENESYS_HEARTBEAT_INTERVAL=1s", "GENESYS_BACKFILL_LAG=100ms",
		"NATS_URL="+natsURLs, "NATS_STREAM_REPLICAS=3", "HTTP_ADDR=", "BRIDGE_SHUTDOWN_TIMEOUT=20s")
	return append(env, extra...)
}

// startReplicas starts n bridge processes (the binary built from this
// package) with env, logging into the test's directory; they are killed
// when the test ends, and their logs' tails logged if it failed.
func startReplicas(t *testing.T, n int, env []string) []*replica {
	t.Helper()
	bin, dir := bridgeBinary(t), t.TempDir()
	var rs []*replica
	for i := range n {
		name := string(rune('a' + i))
		rs = append(rs, &replica{t: t, name: "bridge-" + name, bin: bin, env: env, log: filepath.Join(dir, name+".log")})
	}
	for _, r := range rs {
		r.start()
	}
	t.Cleanup(func() {
		for _, r := range rs {
			r.kill()
		}
		if t.Failed() {
			for _, r := range rs {
				t.Logf("%s log (tail):\n%s", r.name, r.tail(6000))
			}
		}
	})
	return rs
}

// TestChaos drives the simulator through many conversations while it
// kills bridges with SIGKILL and restarts them, runs three replicas at
// once (sharing the lanes), rolls them one by one (SIGTERM, restart),
// stops and restarts nodes of a three-node JetStream cluster (their stores
// kept), and injects Genesys faults; then it compares the stream with the
// ground truth. CHAOS_CONVERSATIONS sets the length (default 300: about
// 40 s).
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos test builds and runs the bridge binary")
	}
	conversations := 300
	if v := os.Getenv("CHAOS_CONVERSATIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("CHAOS_CONVERSATIONS: %v", err)
		}
		conversations = n
	}
	cl := startCluster(t, 3)
	sim, err := simulator.Start(simulator.Config{Conversations: conversations, Rate: 8, Speed: 1, StepScale: 0.03,
		HeartbeatInterval: 300 * time.Millisecond, DuplicateRate: 0.1, ReorderRate: 0.1, AnalyticsLag: 100 * time.Millisecond,
		EventLag: 50 * time.Millisecond, Seed: testSeed(t), LateJoiners: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	replicas := startReplicas(t, 3, simEnv(sim, cl.urls(), "LOG_LEVEL=debug", "BRIDGE_LEASE_TTL=3s",
		"NATS_DUPLICATE_WINDOW=10m", "NATS_ACK_TIMEOUT=2s", "GENESYS_RESUME_LOOKBACK=10m"))

	// Chaos, one action every 2.5 s until the simulator is done. Restarts
	// scheduled by an action are waited for before the end.
	rng := rand.New(rand.NewPCG(testSeed(t), 1))
	var pending sync.WaitGroup
	later := func(d time.Duration, f func()) {
		pending.Add(1)
		time.AfterFunc(d, func() { defer pending.Done(); f() })
	}
	counts := map[string]int{}
	actions := []struct {
		name string
		do   func()
	}{
		{"kill -9 one bridge, restart it 1s later", func() {
			r := replicas[rng.IntN(len(replicas))]
			r.kill()
			later(time.Second, r.start)
		}},
		{"roll every bridge (SIGTERM, restart) one by one", func() {
			pending.Go(func() {
				for _, r := range replicas {
					if r.running() {
						_ = r.stop() // (another action may kill it meanwhile)
						r.start()
					}
				}
			})
		}},
		{"kill -9 every bridge, restart them 2s later", func() {
			for _, r := range replicas {
				r.kill()
			}
			later(2*time.Second, func() {
				for _, r := range replicas {
					r.start()
				}
			})
		}},
		{"stop a NATS node, restart it on its store 2s later", func() {
			i := rng.IntN(3)
			cl.stop(i)
			later(2*time.Second, func() { cl.start(i) })
		}},
		{"Genesys fault", func() {
			_ = sim.InjectFault([]string{"drop", "silence", "closing", "expire-channel", "revoke-token", "rest-503", "blackout"}[rng.IntN(7)])
		}},
	}
	nc, err := nats.Connect(cl.urls())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	// The cluster elects, a bridge creates the stream: then the chaos.
	testkit.Eventually(t, time.Minute, "the stream on the cluster", func() bool { _, err := js.Stream(t.Context(), "GENESYS_INTERACTIONS"); return err == nil })
	for done := false; !done; {
		select {
		case <-sim.Done():
			done = true
		case <-time.After(2500 * time.Millisecond):
			a := actions[rng.IntN(len(actions))]
			a.do()
			counts[a.name]++
		}
	}
	// Everything back up; wait for the stream to hold the truth.
	pending.Wait()
	for i := range 3 {
		if !cl.running(i) {
			cl.start(i)
		}
	}
	for _, r := range replicas {
		if !r.running() {
			r.start()
		}
	}
	truth, agentTruth := sim.Truth(), sim.AgentTruth()
	// Past this, the comparison shows what is missing.
	testkit.Poll(2*time.Minute, func() bool { return streamMsgs(t, js, "GENESYS_INTERACTIONS") >= len(truth)+len(agentTruth) })
	for _, r := range replicas {
		if err := r.stop(); err != nil {
			t.Error(err)
		}
	}
	got := readStream(t, cl.urls(), "GENESYS_INTERACTIONS")
	wrongFrom := 0
	type key struct{ id, to string }
	froms := map[key]map[string]bool{}
	for _, tr := range truth {
		k := key{tr.InteractionID, string(tr.To)}
		if froms[k] == nil {
			froms[k] = map[string]bool{}
		}
		froms[k][string(tr.From)] = true
	}
	for _, p := range got {
		from := ""
		if p.Body.FromStatus != nil {
			from = *p.Body.FromStatus
		}
		if f := froms[key{p.Body.InteractionID, p.Body.ToStatus}]; f != nil && !f[from] {
			wrongFrom++
		}
	}
	t.Logf("chaos: conversations %d, actions %v", conversations, counts)
	t.Logf("wrong fromStatus %d", wrongFrom)
	var waits []time.Duration
	incomplete := 0
	for _, r := range replicas {
		w, inc := heldWaits(r.log)
		waits, incomplete = append(waits, w...), incomplete+inc
	}
	slices.Sort(waits)
	if len(waits) > 0 {
		t.Logf("frames held back after gaps: %d (median wait %s, longest %s), released without their history %d",
			len(waits), waits[len(waits)/2].Round(time.Millisecond), waits[len(waits)-1].Round(time.Millisecond), incomplete)
	}
	compare(t, truth, got, "genesys.interactions")
	compareAgents(t, agentTruth, got, "genesys.interactions")
	if wrongFrom > 0 {
		t.Errorf("%d transitions with a wrong fromStatus", wrongFrom)
	}
}
