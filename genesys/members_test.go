package genesys

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// memberFrame is a v2.routing.queues.{id}.users notification with every
// field of QueueUserEventTopicQueueMember.
const memberFrame = `{"topicName":"v2.routing.queues.2bcb1e9b-6f79-4b2a-a8a3-3a2b1e0a7c11.users","version":"2","eventBody":{` +
	`"id":"5ed4751e-aa5c-4398-98ac-fa1256eb020e","user":{"id":"5ed4751e-aa5c-4398-98ac-fa1256eb020e"},` +
	`"queueId":"2bcb1e9b-6f79-4b2a-a8a3-3a2b1e0a7c11","joined":true,"additionalProperties":{}},"metadata":{"CorrelationId":"c1"}}`

func TestDecodeMembership(t *testing.T) {
	f, err := DecodeNotification([]byte(memberFrame), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := Membership{QueueID: "2bcb1e9b-6f79-4b2a-a8a3-3a2b1e0a7c11", UserID: "5ed4751e-aa5c-4398-98ac-fa1256eb020e", Joined: true}
	if f.Kind != FrameMembership || f.Member != want {
		t.Fatalf("decoded %v %+v, want membership %+v", f.Kind, f.Member, want)
	}
	for name, tc := range map[string]struct {
		frame  string
		reason bridge.Reason
		say    string
	}{
		"another queue": {strings.Replace(memberFrame, `"queueId":"2bcb`, `"queueId":"9bcb`, 1), bridge.ReasonSchema, "not the topic's queue"},
		"no user":       {strings.NewReplacer(`"id":"5ed4751e-aa5c-4398-98ac-fa1256eb020e",`, ``, `"user":{"id":"5ed4751e-aa5c-4398-98ac-fa1256eb020e"},`, ``).Replace(memberFrame), bridge.ReasonSchema, "not a valid id"},
		"not JSON":      {strings.Replace(memberFrame, `"joined":true`, `"joined":yes`, 1), bridge.ReasonMalformed, "invalid JSON"},
		"wrong type":    {strings.Replace(memberFrame, `"joined":true`, `"joined":"true"`, 1), bridge.ReasonMalformed, "decode queue member"},
	} {
		_, err := DecodeNotification([]byte(tc.frame), time.Now())
		var rej *bridge.RejectError
		if !errors.As(err, &rej) || rej.Reason != tc.reason || !strings.Contains(rej.Msg, tc.say) {
			t.Errorf("%s: %v, want a %s rejection saying %q", name, err, tc.reason, tc.say)
		}
	}
}

// The budget, told with its numbers: 5,000 agents on 200 queues fit six
// channels; one more topic than 19 channels hold is refused.
func TestTopicBudget(t *testing.T) {
	c := TopicCount{Conversations: 200, Memberships: 200, Agents: 5000}
	if c.Total() != 5400 || c.Channels() != 6 || c.ClientsNeeded() != 1 || c.Fit(1) != nil {
		t.Errorf("5,000 agents on 200 queues: %v, fit %v", c, c.Fit(1))
	}
	if want := "5400 topics (200 conversation, 200 queue membership, 5000 agent activity, 0 other) in 6 channels of 1000"; c.String() != want {
		t.Errorf("%q\nwant %q", c.String(), want)
	}
	over := TopicCount{Conversations: 2, Memberships: 2, Agents: MaxTopics - 3}
	if err := over.Fit(1); err == nil || !strings.Contains(err.Error(), "19001 topics") || !strings.Contains(err.Error(), "need 2 OAuth clients, and 1 are configured") ||
		!strings.Contains(err.Error(), "at most 19000 topics a client") {
		t.Errorf("one topic too many: %v", err)
	}
	if err := over.Fit(2); err != nil {
		t.Errorf("two clients: %v", err)
	}
	// 15,000 agents on 2,000 queues: 19,000 topics and one membership
	// topic per queue: 21 channels, two clients.
	big := TopicCount{Conversations: 2000, Memberships: 2000, Agents: 15000}
	if big.Channels() != 19 || big.ClientsNeeded() != 1 {
		t.Errorf("%v: %d clients needed", big, big.ClientsNeeded())
	}
	big.Agents++
	if big.Channels() != 20 || big.ClientsNeeded() != 2 || big.Fit(1) == nil || big.Fit(2) != nil {
		t.Errorf("%v: %d clients needed", big, big.ClientsNeeded())
	}
	if got := CountTopics([]string{"v2.routing.queues.q.conversations", "v2.routing.queues.q.users", "v2.users.u.activity", "v2.users.u.conversations"}); got != (TopicCount{Conversations: 2, Memberships: 1, Agents: 1}) {
		t.Errorf("countTopics = %+v", got)
	}
}

// The members listing follows every page; an agent's status now comes
// from the routing status and presence endpoints, like an activity frame.
func TestQueueMembersAndAgentNow(t *testing.T) {
	sim := startSim(t, simulator.Config{Agents: 230, Queues: 1, Conversations: -1, LateJoiners: 5})
	c := NewClient(ClientConfig{Endpoints: Endpoints{API: sim.URL, Login: sim.URL}, ClientID: "sim-client", ClientSecret: "sim-secret"})
	ctx := context.Background()
	ids, err := c.QueueMembers(ctx, sim.Population().Queues[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 225 { // three pages; the late joiners are no members yet
		t.Errorf("%d members, want 225", len(ids))
	}
	if _, err := c.QueueMembers(ctx, "no-such-queue"); !IsNotFound(err) {
		t.Errorf("unknown queue: %v, want a 404", err)
	}
	ev, err := c.AgentNow(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	// Nobody logged in (no socket subscribed): off queue, offline.
	if a := ev.Agent; a == nil || !ev.Backfilled || a.Steps[len(a.Steps)-1].Routing != bridge.RoutingOffQueue || a.Steps[len(a.Steps)-1].Presence != bridge.PresenceOffline {
		t.Errorf("AgentNow = %+v", ev.Agent)
	}
}

// Agents as the members of a queue: listed at start, each subscribed;
// more than one client holds is refused at start, with the numbers.
func TestStreamFollowsQueueMembers(t *testing.T) {
	t.Run("listed", func(t *testing.T) {
		sim := startSim(t, simulator.Config{Agents: 7, Queues: 2, Conversations: -1})
		topics, _ := Topics(TopicSet{Queues: sim.Population().Queues, MembersOf: sim.Population().Queues})
		s, logs := newStream(t, sim, topics, nil)
		runStream(t, s)
		testkit.Eventually(t, 10*time.Second, "the members followed and the stream connected", func() bool {
			return s.Agents() == 7 && strings.Contains(logs.String(), "genesys stream connected")
		})
		if !strings.Contains(logs.String(), "11 topics (2 conversation, 2 queue membership, 7 agent activity, 0 other) in 1 channels") {
			t.Errorf("the start does not tell the budget:\n%s", logs.String())
		}
	})
	t.Run("an unknown queue", func(t *testing.T) {
		sim := startSim(t, simulator.Config{Agents: 3, Queues: 1, Conversations: -1})
		topics, _ := Topics(TopicSet{Queues: sim.Population().Queues, MembersOf: append(sim.Population().Queues, "no-such-queue")})
		s, logs := newStream(t, sim, topics, nil)
		runStream(t, s)
		testkit.Eventually(t, 10*time.Second, "the known queue's members followed", func() bool {
			return s.Agents() == 3 && strings.Contains(logs.String(), "genesys stream connected")
		})
		if !strings.Contains(logs.String(), "no such queue; its members are not followed") {
			t.Error("the unknown queue is not in the log")
		}
	})
	t.Run("too many", func(t *testing.T) {
		sim := startSim(t, simulator.Config{Agents: MaxTopics, Queues: 1, Conversations: -1})
		topics, _ := Topics(TopicSet{Queues: sim.Population().Queues, MembersOf: sim.Population().Queues})
		s, _ := newStream(t, sim, topics, unpaced(sim))
		_, done := runStream(t, s)
		err := <-done
		if !errors.Is(err, ErrTooManyTopics) || !strings.Contains(err.Error(), "19002 topics (1 conversation, 1 queue membership, 19000 agent activity, 0 other) in 20 channels") {
			t.Fatalf("Run = %v, want ErrTooManyTopics with the numbers", err)
		}
	})
}

// The sizing: 5,000 agents, members of 200 queues, followed by one
// stream: 5,400 topics in 6 channels, every one subscribed and connected.
// Run on demand (every simulated agent is a member of every queue: 10,000
// pages to list, about 20 s): GENESYS_SIZING=1 go test -run TestSizing -v ./genesys
func TestSizingFiveThousandAgents(t *testing.T) {
	if os.Getenv("GENESYS_SIZING") == "" {
		t.Skip("set GENESYS_SIZING=1: lists 5,000 members of 200 queues")
	}
	sim := startSim(t, simulator.Config{Agents: 5000, Queues: 200, Conversations: -1})
	topics, _ := Topics(TopicSet{Queues: sim.Population().Queues, MembersOf: sim.Population().Queues})
	// The simulator has no rate limit; at Genesys's 300 requests a minute
	// these 10,000 pages would take 33 minutes.
	s, logs := newStream(t, sim, topics, unpaced(sim))
	began := time.Now()
	runStream(t, s)
	testkit.Eventually(t, 2*time.Minute, "six channels connected", func() bool {
		return strings.Count(logs.String(), "genesys stream connected") >= 6
	})
	if s.Agents() != 5000 || s.Lanes() != 6 || sim.Sockets() != 6 {
		t.Errorf("agents %d, lanes %d, sockets %d; want 5000, 6, 6", s.Agents(), s.Lanes(), sim.Sockets())
	}
	if !strings.Contains(logs.String(), "5400 topics (200 conversation, 200 queue membership, 5000 agent activity, 0 other) in 6 channels of 1000") {
		t.Error("the start does not tell the budget")
	}
	t.Logf("5,000 agents on 200 queues: 5,400 topics, %d channels, connected in %s", s.Lanes(), time.Since(began).Round(time.Millisecond))
}

// unpaced gives a stream a client without the request pace: the simulator
// has no rate limit, and listing thousands of members at Genesys's pace
// would only make a test slow (TestClientPacesRequests holds the pace).
func unpaced(sim *simulator.Server) func(*StreamConfig) {
	return func(c *StreamConfig) {
		c.Clients = []*Client{NewClient(ClientConfig{Endpoints: Endpoints{API: sim.URL, Login: sim.URL}, ClientID: "sim-client", ClientSecret: "sim-secret",
			RequestsPerMinute: 1_000_000})}
	}
}

// A large org on several OAuth clients: 15,000 agents, each a member of
// four of 2,000 queues, and 100 users' conversations: 19,100 topics, 20
// channels, more than one client holds. Both clients hold channels, the
// members are listed, and the stream reads what the simulator sends as
// fast as it can: the figures are logged (topics, channels per client,
// requests, heap, events per second). The simulator shares the process:
// the heap and the rate are the pair's, not the bridge's alone.
func TestSizingFifteenThousandAgentsOnTwoClients(t *testing.T) {
	if os.Getenv("GENESYS_SIZING") == "" {
		t.Skip("set GENESYS_SIZING=1: lists 15,000 agents' memberships of 2,000 queues and reads 20 channels")
	}
	const agents, queues, users, conversations = 15000, 2000, 100, 6000
	sim := startSim(t, simulator.Config{Agents: agents, Queues: queues, QueuesPerAgent: 4, Clients: simClients(2),
		Conversations: conversations, Rate: 1e6})
	pop := sim.Population()
	topics, _ := Topics(TopicSet{Queues: pop.Queues, MembersOf: pop.Queues, Users: pop.Agents[:users]})
	s, logs := newStream(t, sim, topics, func(c *StreamConfig) {
		c.Clients = nil
		for _, id := range []string{"sim-client", "client-2"} {
			secret := Secret("sim-secret")
			if id != "sim-client" {
				secret = Secret("secret-of-" + id)
			}
			// Unpaced: at Genesys's 300 a minute per client the listing's
			// pages take minutes (reported below from the count).
			c.Clients = append(c.Clients, NewClient(ClientConfig{Endpoints: Endpoints{API: sim.URL, Login: sim.URL}, ClientID: id, ClientSecret: secret,
				RequestsPerMinute: 1_000_000}))
		}
	})
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	began := time.Now()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var events atomic.Uint64
	var firstAt, lastAt atomic.Int64
	go func() {
		for {
			ev, err := s.Read(ctx)
			if ctx.Err() != nil {
				return
			}
			if err == nil && ev.Kind == bridge.KindObservation {
				now := time.Now().UnixNano()
				firstAt.CompareAndSwap(0, now)
				lastAt.Store(now)
				events.Add(1)
			}
		}
	}()
	runStream(t, s)
	testkit.Eventually(t, 5*time.Minute, "20 channels connected", func() bool {
		return strings.Count(logs.String(), "genesys stream connected") >= 20
	})
	connected := time.Since(began)
	u := sim.Usage()
	if s.Agents() != agents || s.Lanes() != 20 || sim.Sockets() != 20 || u["sim-client"].Sockets != 10 || u["client-2"].Sockets != 10 {
		t.Fatalf("agents %d, lanes %d, sockets %d, usage %+v", s.Agents(), s.Lanes(), sim.Sockets(), u)
	}
	if !strings.Contains(logs.String(), "19100 topics (2000 conversation, 2000 queue membership, 15000 agent activity, 100 other)") &&
		!strings.Contains(logs.String(), "19100 topics (2100 conversation, 2000 queue membership, 15000 agent activity, 0 other)") {
		t.Error("the start does not tell the budget")
	}
	select {
	case <-sim.Done():
	case <-time.After(5 * time.Minute):
		t.Fatal("the simulator did not finish")
	}
	testkit.Eventually(t, time.Minute, "the stream caught up", func() bool {
		n := events.Load()
		time.Sleep(200 * time.Millisecond) // (a quiet spell: nothing more to read)
		return n > 0 && events.Load() == n
	})
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	span := time.Duration(lastAt.Load() - firstAt.Load())
	requests := u["sim-client"].Requests + u["client-2"].Requests
	t.Logf("15,000 agents (4 queues each) on 2,000 queues and 100 users, 2 OAuth clients: %d topics in %d channels (10 per client), %d REST requests to start (%.1f min at 300 a minute per client), connected in %s unpaced; heap in use of the test process (the simulator with its truth and analytics included) %.1f MiB after the start and the traffic, %.1f MiB before; %d events from %d conversations read in %s: %.0f events/s (as fast as the simulator, in the same process, sent them)",
		len(topics)+agents, s.Lanes(), requests, float64(requests)/600, connected.Round(time.Millisecond),
		float64(after.HeapInuse)/(1<<20), float64(before.HeapInuse)/(1<<20), events.Load(), conversations, span.Round(time.Millisecond),
		float64(events.Load())/span.Seconds())
}
