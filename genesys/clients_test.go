package genesys

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

func TestAssignClients(t *testing.T) {
	rep := func(v, n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = v
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		lanes    int
		eligible []bool
		want     []int
	}{
		{"one client", 3, []bool{true}, []int{0, 0, 0}},
		{"one client, full", 19, []bool{true}, rep(0, 19)},
		{"one client, one lane too many", 20, []bool{true}, append(rep(0, 19), -1)},
		{"spread", 5, []bool{true, true, true}, []int{0, 1, 2, 0, 1}},
		{"a refused client's lanes go to the fewest held", 6, []bool{true, false, true}, []int{0, 0, 2, 0, 2, 2}},
		{"two clients alternate", 4, []bool{true, true}, []int{0, 1, 0, 1}},
		{"every client refused", 2, []bool{false, false}, []int{-1, -1}},
		// 40 lanes on three clients: 14, 13, 13 at home; the second
		// refused: its 13 fill the others' 5 and 6 free channels, 2 left.
		{"more than fits", 40, []bool{true, false, true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := assignClients(tc.lanes, tc.eligible)
			if tc.want != nil && !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			held := map[int]int{}
			for i, c := range got {
				held[c]++
				if c >= 0 && !tc.eligible[c] {
					t.Errorf("lane %d on refused client %d", i, c)
				}
				if c >= 0 && c == i%len(tc.eligible) {
					continue
				}
				if home := i % len(tc.eligible); c != home && tc.eligible[home] && held[home] < lanesPerClient {
					t.Errorf("lane %d moved from its eligible home %d", i, home)
				}
			}
			for c, n := range held {
				if c >= 0 && n > lanesPerClient {
					t.Errorf("client %d holds %d lanes", c, n)
				}
			}
			if tc.name == "more than fits" && (held[-1] != 2 || held[0] != 19 || held[2] != 19) {
				t.Errorf("held %v, want 19, 19 and 2 uncovered", held)
			}
		})
	}
}

// clientsFor returns a stream tweak with the simulator's default client
// and n-1 further ones (named "client-2"...), and their ids.
func clientsFor(sim *simulator.Server, n int) (func(*StreamConfig), []string) {
	ids := []string{"sim-client"}
	for i := 2; i <= n; i++ {
		ids = append(ids, fmt.Sprintf("client-%d", i))
	}
	return func(c *StreamConfig) {
		c.Clients = nil
		for i, id := range ids {
			secret := "sim-secret"
			if i > 0 {
				secret = "secret-of-" + id
			}
			c.Clients = append(c.Clients, NewClient(ClientConfig{Endpoints: Endpoints{API: sim.URL, Login: sim.URL}, ClientID: id, ClientSecret: Secret(secret),
				Logger: c.Logger}))
		}
	}, ids
}

func simClients(n int) map[string]string {
	out := map[string]string{}
	for i := 2; i <= n; i++ {
		id := fmt.Sprintf("client-%d", i)
		out[id] = "secret-of-" + id
	}
	return out
}

// Lanes spread over the OAuth clients; a client refused by Genesys hands
// its lanes to the others (the switch a gap, back-filled), and says so in
// the log and in ClientStatus; no client ever holds more than its
// channels, and none is paced beyond Genesys's rate.
func TestStreamSpreadsLanesOverClientsAndMovesARefusedOnes(t *testing.T) {
	sim := startSim(t, simulator.Config{Agents: 2500, Queues: 1, Conversations: -1, Clients: simClients(3), RequestsPerMinute: 300})
	topics, _ := Topics(TopicSet{Users: sim.Population().Agents}) // 2,500 user topics: three lanes
	tweak, ids := clientsFor(sim, 3)
	s, logs := newStream(t, sim, topics, tweak)
	if s.Lanes() != 3 {
		t.Fatalf("%d lanes", s.Lanes())
	}
	runStream(t, s)
	testkit.Eventually(t, 45*time.Second, "a socket per client", func() bool {
		u := sim.Usage()
		return u[ids[0]].Sockets == 1 && u[ids[1]].Sockets == 1 && u[ids[2]].Sockets == 1
	})
	if ok, detail := s.Readiness(); !ok || detail != "" {
		t.Fatalf("readiness %v %q", ok, detail)
	}

	sim.RefuseClient(ids[1])
	testkit.Eventually(t, 45*time.Second, "the refused client's lane on another", func() bool {
		u := sim.Usage()
		return u[ids[0]].Sockets+u[ids[2]].Sockets == 3 && s.Reconnects() == 1
	})
	clients, uncovered := s.ClientStatus()
	if uncovered != 0 || clients[1].Refused == nil || clients[1].Lanes != 0 || clients[0].Lanes+clients[2].Lanes != 3 {
		t.Fatalf("status %+v, %d uncovered", clients, uncovered)
	}
	ok, detail := s.Readiness()
	if !ok || !strings.Contains(detail, "OAuth client client-2: login refused") {
		t.Fatalf("readiness %v %q", ok, detail)
	}
	l := logs.String()
	if !strings.Contains(l, "Genesys refused an OAuth client's login") || !strings.Contains(l, "client_id=client-2") {
		t.Errorf("the refusal is not named in the log:\n%s", l)
	}
	if strings.Contains(l, "secret-of-") || strings.Contains(l, "sim-secret") {
		t.Error("a secret in the log")
	}

	// Each lane's rollover takes its client's spare channel, one at a
	// time per client: no client holds more than 20, none is throttled.
	sim.Inject([]byte(`{"topicName":"v2.system.socket_closing","eventBody":{"reason":"maintenance"}}`))
	testkit.Eventually(t, 45*time.Second, "rollovers", func() bool { return s.Rollovers() >= 3 })
	for id, u := range sim.Usage() {
		if u.PeakChannels > lanesPerClient+1 || u.Throttled > 0 {
			t.Errorf("client %s: %+v", id, u)
		}
	}
	if sim.Evictions() != 0 {
		t.Errorf("%d channels evicted", sim.Evictions())
	}
}

// A lane that fits on no client is said plainly and /readyz is not
// ready; it is covered once the refused client logs in again.
func TestLaneWithoutRoomIsSaid(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 topics")
	}
	const agents = MaxTopics + MaxTopicsPerChannel // 20 lanes
	sim := startSim(t, simulator.Config{Agents: agents, Queues: 1, Conversations: -1, Clients: simClients(2)})
	topics, _ := Topics(TopicSet{Users: sim.Population().Agents})
	tweak, ids := clientsFor(sim, 2)
	s, logs := newStream(t, sim, topics, tweak)
	runStream(t, s)
	testkit.Eventually(t, 60*time.Second, "20 sockets", func() bool { return sim.Sockets() == 20 })
	sim.RefuseClient(ids[1])
	// Its 10 lanes: 9 fit on the first client (19 at most), one does not.
	testkit.Eventually(t, 60*time.Second, "19 sockets on the first client, one lane uncovered", func() bool {
		_, uncovered := s.ClientStatus()
		return sim.Usage()[ids[0]].Sockets == lanesPerClient && uncovered == 1
	})
	ok, detail := s.Readiness()
	if ok || !strings.Contains(detail, "1 lanes (channels of up to 1000 topics) have no OAuth client with a free channel") {
		t.Fatalf("readiness %v %q", ok, detail)
	}
	if !strings.Contains(logs.String(), "a lane fits on no OAuth client") {
		t.Error("the uncovered lane is not said in the log")
	}
	if u := sim.Usage()[ids[0]]; u.PeakChannels > MaxChannels || sim.Evictions() != 0 {
		t.Errorf("first client %+v, %d evictions", u, sim.Evictions())
	}
}
