package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// TestFailover runs three bridge processes sharing the lanes on the
// three-node cluster and kills the lane's reader with SIGKILL again and
// again (GENESYS_FAILOVER kills, at least 20 for the figures), each time
// measuring how long until another replica holds the lease and until it
// reads the lane again; the killed one is restarted as a standby. Then
// the stream must hold every transition once, in order.
//
//	GENESYS_FAILOVER=20 go test -run TestFailover -v -timeout 30m ./cmd/genesys-bridge
func TestFailover(t *testing.T) {
	kills, _ := strconv.Atoi(os.Getenv("GENESYS_FAILOVER"))
	if kills <= 0 {
		t.Skip("set GENESYS_FAILOVER=20: kills a lane's reader 20 times (about two minutes)")
	}
	const ttl = 2 * time.Second
	cl := startCluster(t, 3)
	sim, err := simulator.Start(simulator.Config{Conversations: 30 * kills, Rate: 6, Speed: 1, StepScale: 0.03,
		HeartbeatInterval: 300 * time.Millisecond, AnalyticsLag: 100 * time.Millisecond, Seed: testSeed(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	replicas := startReplicas(t, 3, simEnv(sim, cl.urls(), "BRIDGE_LEASE_TTL="+ttl.String(), "LOG_LEVEL=debug",
		"NATS_DUPLICATE_WINDOW=10m", "NATS_ACK_TIMEOUT=2s", "GENESYS_RESUME_LOOKBACK=10m"))
	nc, err := nats.Connect(cl.urls())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	var kv jetstream.KeyValue
	testkit.Eventually(t, time.Minute, "the lease bucket", func() bool {
		kv, err = js.KeyValue(t.Context(), "GENESYS_INTERACTIONS_LANES")
		return err == nil
	})
	// holder is the replica whose lease of lane 0 is current, and since
	// when (its key's revision changes with every renewal).
	holder := func() (string, bool) {
		keys, err := kv.ListKeys(t.Context())
		if err != nil {
			return "", false
		}
		for k := range keys.Keys() {
			if !strings.HasPrefix(k, "lease.") || !strings.HasSuffix(k, ".0") {
				continue
			}
			e, err := kv.Get(t.Context(), k)
			if err != nil {
				return "", false
			}
			var v struct {
				Replica string `json:"replica"`
			}
			if json.Unmarshal(e.Value(), &v) == nil && v.Replica != "" {
				return v.Replica, true
			}
		}
		return "", false
	}
	// byID maps a replica id (from its log) to its process.
	idOf := regexp.MustCompile(`msg="replicas share the Genesys channels through leases" replica=(\S+)`)
	processOf := func(id string) *replica {
		for _, r := range replicas {
			b, _ := os.ReadFile(r.log)
			for _, m := range idOf.FindAllStringSubmatch(string(b), -1) {
				if m[1] == id {
					return r
				}
			}
		}
		return nil
	}
	readingSince := func(r *replica, after time.Time) (time.Time, bool) {
		b, _ := os.ReadFile(r.log)
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.Contains(line, `msg="genesys stream connected"`) {
				continue
			}
			if at, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(strings.Fields(line)[0], "time=")); err == nil && at.After(after) {
				return at, true
			}
		}
		return time.Time{}, false
	}
	var leaseTimes, readTimes []time.Duration
	for i := range kills {
		var id string
		testkit.Eventually(t, time.Minute, "a reader of the lane", func() bool {
			var ok bool
			id, ok = holder()
			return ok && processOf(id) != nil && processOf(id).up()
		})
		victim := processOf(id)
		// The others are up (standbys), the victim has read for a while.
		testkit.Eventually(t, time.Minute, "three replicas up", func() bool {
			for _, r := range replicas {
				if !r.running() || !r.up() {
					return false
				}
			}
			return true
		})
		time.Sleep(ttl / 2) // (traffic flows on the victim before the kill; not a wait for a condition)
		killed := time.Now()
		victim.kill()
		var next string
		testkit.Eventually(t, time.Minute, "another replica holds the lane", func() bool {
			var ok bool
			next, ok = holder()
			return ok && next != id
		})
		leaseTimes = append(leaseTimes, time.Since(killed))
		r := processOf(next)
		var at time.Time
		testkit.Eventually(t, time.Minute, "the new holder reads the lane", func() bool {
			var ok bool
			at, ok = readingSince(r, killed)
			return ok
		})
		readTimes = append(readTimes, at.Sub(killed))
		victim.start()
		t.Logf("kill %d: %s killed; %s holds the lane %s later, reads it %s later", i+1, victim.name, r.name,
			leaseTimes[len(leaseTimes)-1].Round(time.Millisecond), readTimes[len(readTimes)-1].Round(time.Millisecond))
	}
	select {
	case <-sim.Done():
	case <-time.After(5 * time.Minute):
		t.Fatal("the simulator did not finish")
	}
	truth, agentTruth := sim.Truth(), sim.AgentTruth()
	testkit.Poll(2*time.Minute, func() bool { return streamMsgs(t, js, "GENESYS_INTERACTIONS") >= len(truth)+len(agentTruth) })
	for _, r := range replicas {
		if err := r.stop(); err != nil {
			t.Error(err)
		}
	}
	slices.Sort(leaseTimes)
	slices.Sort(readTimes)
	t.Logf("failover over %d SIGKILLs of the lane's reader (lease TTL %s): lease taken over after median %s, longest %s; lane read again after median %s, longest %s",
		kills, ttl, leaseTimes[len(leaseTimes)/2].Round(time.Millisecond), leaseTimes[len(leaseTimes)-1].Round(time.Millisecond),
		readTimes[len(readTimes)/2].Round(time.Millisecond), readTimes[len(readTimes)-1].Round(time.Millisecond))
	got := readStream(t, cl.urls(), "GENESYS_INTERACTIONS")
	compare(t, truth, got, "genesys.interactions")
	compareAgents(t, agentTruth, got, "genesys.interactions")
}

// TestReplicasShareTheWork runs the same traffic through one, two and
// three bridge processes sharing three lanes (2,500 users' conversation
// topics and three queues) and reports, per replica, the frames it read
// and the messages it published: one set of work between them, not one
// each. Each run has its own simulator and stream.
//
//	GENESYS_FAILOVER=1 go test -run TestReplicasShareTheWork -v -timeout 30m ./cmd/genesys-bridge
func TestReplicasShareTheWork(t *testing.T) {
	if os.Getenv("GENESYS_FAILOVER") == "" {
		t.Skip("set GENESYS_FAILOVER=1: three runs of bridge processes")
	}
	cl := startCluster(t, 3)
	stopped := regexp.MustCompile(`msg="genesys-bridge stopped reading" events=(\d+) published=(\d+)`)
	for n := 1; n <= 3; n++ {
		sim, err := simulator.Start(simulator.Config{Agents: 2500, Queues: 3, Conversations: 600, Rate: 20, Speed: 1, StepScale: 0.03,
			HeartbeatInterval: 300 * time.Millisecond, AnalyticsLag: 100 * time.Millisecond, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		const stream = "GENESYS_INTERACTIONS" // each run's own: removed after it, with the lanes' buckets
		rs := startReplicas(t, n, simEnv(sim, cl.urls(), "GENESYS_USER_IDS="+strings.Join(sim.Population().Agents, ","), "GENESYS_AGENTS=none",
			"NATS_DEAD_LETTERS=false", "BRIDGE_LEASE_TTL=2s", "LOG_LEVEL=info"))
		select {
		case <-sim.Done():
		case <-time.After(5 * time.Minute):
			t.Fatal("the simulator did not finish")
		}
		nc, err := nats.Connect(cl.urls())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		truth := sim.Truth()
		testkit.Poll(2*time.Minute, func() bool { return streamMsgs(t, js, stream) >= len(truth) })
		var line []string
		var events, published int
		for _, r := range rs {
			if err := r.stop(); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(r.log)
			m := stopped.FindStringSubmatch(string(b))
			if m == nil {
				t.Fatalf("%s logged no totals", r.name)
			}
			e, _ := strconv.Atoi(m[1])
			p, _ := strconv.Atoi(m[2])
			events, published = events+e, published+p
			line = append(line, fmt.Sprintf("%s read %d frames, published %d", r.name, e, p))
		}
		sim.Close()
		got := readStream(t, cl.urls(), stream)
		compare(t, truth, got, "genesys.interactions")
		for _, err := range []error{js.DeleteStream(t.Context(), stream), js.DeleteKeyValue(t.Context(), stream+"_LANES"),
			js.DeleteKeyValue(t.Context(), stream+"_LANES_MARKS")} {
			if err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("%d replicas, %d transitions in the truth: %s; together %d frames read, %d published", n, len(truth), strings.Join(line, "; "), events, published)
	}
}
