package genesys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

func startSim(t *testing.T, cfg simulator.Config) *simulator.Server {
	t.Helper()
	sim, err := simulator.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return sim
}

func newStream(t *testing.T, sim *simulator.Server, topics []string, tweak func(*StreamConfig)) (*Stream, *testkit.LogBuffer) {
	t.Helper()
	log, logs := testkit.Logger(t, slog.LevelDebug)
	c := NewClient(ClientConfig{Endpoints: Endpoints{API: sim.URL, Login: sim.URL}, ClientID: "sim-client", ClientSecret: "sim-secret", Logger: log})
	// Back-fill is not under test here: keep its lag short.
	cfg := StreamConfig{Clients: []*Client{c}, Topics: topics, BackfillLag: 50 * time.Millisecond,
		SocketConfig: SocketConfig{BackoffBase: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond, Logger: log}}
	if tweak != nil {
		tweak(&cfg)
	}
	s, err := NewStream(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, logs
}

func runStream(t *testing.T, s *Stream) (context.CancelFunc, <-chan error) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		done <- s.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-finished })
	return cancel, done
}

func queueTopics(sim *simulator.Server) []string {
	ts, _ := Topics(TopicSet{Queues: sim.Population().Queues})
	return ts
}

func readN(t *testing.T, s *Stream, n int) (events []bridge.Event, rejects []*bridge.RejectError) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for len(events)+len(rejects) < n {
		ev, err := s.Read(ctx)
		var rej *bridge.RejectError
		switch {
		case errors.As(err, &rej):
			rejects = append(rejects, rej)
		case err != nil:
			t.Fatalf("Read: %v (after %d events, %d rejects)", err, len(events), len(rejects))
		default:
			events = append(events, ev)
		}
	}
	return events, rejects
}

// Bad frames on a live socket are rejected one by one, with a specific
// reason, and the socket keeps delivering valid events.
func TestStreamRejectsBadFramesAndKeepsGoing(t *testing.T) {
	sim := startSim(t, simulator.Config{Conversations: -1})
	s, _ := newStream(t, sim, queueTopics(sim), func(c *StreamConfig) { c.MaxFrameSize = 4096 })
	runStream(t, s)
	testkit.Eventually(t, 45*time.Second, "socket", func() bool { return sim.Sockets() == 1 })

	good := fmt.Appendf(nil, `{"topicName":"v2.routing.queues.%s.conversations","eventBody":{"id":"3f2a1b4c-1111-4222-8333-444455556666","participants":[{"id":"p1","purpose":"customer","calls":[{"state":"connected","connectedTime":"2026-11-27T09:00:00.000Z"}]},{"id":"p2","purpose":"acd","calls":[{"state":"connected","connectedTime":"2026-11-27T09:00:00.000Z"}]}]}}`, sim.Population().Queues[0])
	frames := []struct {
		frame  []byte
		reason bridge.Reason
	}{
		{[]byte(`{not json`), bridge.ReasonMalformed},
		{[]byte(`{"topicName":"v2.routing.queues.q.conversations","eventBody":{"id":"not-a-uuid","participants":[]}}`), bridge.ReasonSchema},
		{[]byte(`{"topicName":"v2.routing.queues.q.conversations","eventBody":{"id":"3f2a1b4c-1111-4222-8333-444455556666","participants":[{"purpose":"customer","calls":[{"state":"connected","connectedTime":"yesterday"}]}]}}`), bridge.ReasonSchema},
		{[]byte(`{"topicName":"v2.routing.queues.q.conversations","eventBody":{"id":3}}`), bridge.ReasonMalformed},
		{append([]byte(`{"topicName":"x","pad":"`), append(bytes.Repeat([]byte("A"), 10000), `"}`...)...), bridge.ReasonOversize},
		{[]byte(`{"eventBody":{}}`), bridge.ReasonSchema},
		{[]byte(`{"result":"500","message":"undocumented"}`), bridge.ReasonUnknown},
	}
	for _, f := range frames {
		sim.Inject(f.frame)
	}
	sim.Inject([]byte(`{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}}`))
	sim.Inject([]byte(`{"topicName":"v2.analytics.something","eventBody":{}}`)) // ignored
	sim.Inject(good)
	events, rejects := readN(t, s, len(frames)+1)
	if len(events) != 1 || events[0].Status != bridge.StatusQueued {
		t.Fatalf("events %+v", events)
	}
	for i, f := range frames {
		if rejects[i].Reason != f.reason {
			t.Errorf("frame %d (%.40q): reason %s, want %s (%s)", i, f.frame, rejects[i].Reason, f.reason, rejects[i].Msg)
		}
	}
	if s.Reconnects() != 0 {
		t.Errorf("bad frames cost %d reconnects", s.Reconnects())
	}
}

// A dropped socket, a socket_closing notice and a {"result":"404"} frame
// each lead to a new channel and socket; the log says why.
func TestStreamReconnects(t *testing.T) {
	sim := startSim(t, simulator.Config{Conversations: -1})
	s, logs := newStream(t, sim, queueTopics(sim), nil)
	runStream(t, s)
	testkit.Eventually(t, 45*time.Second, "socket", func() bool { return sim.Sockets() == 1 })

	steps := []struct {
		name                  string
		do                    func()
		reconnects, rollovers uint64
		inLog                 string
	}{
		{"drop", func() { sim.DropSockets() }, 1, 0, "read socket"},
		{"socket_closing", func() {
			sim.Inject([]byte(`{"topicName":"v2.system.socket_closing","eventBody":{"reason":"maintenance"}}`))
		}, 1, 1, `drained="ping answered, then quiet"`}, // no traffic: no frame proves the old socket drained
		{"404", func() { sim.Inject([]byte(`{"result":"404","message":"channel expired"}`)) }, 2, 1, "channel gone (result 404)"},
		{"no_longer_subscribed", func() {
			sim.Inject([]byte(`{"topicName":"v2.system.no_longer_subscribed.x","eventBody":{}}`))
		}, 3, 1, "channel gone (no_longer_subscribed.x)"},
	}
	for i, st := range steps {
		st.do()
		// Each step ends with a new socket, connected and logged: the next
		// step's frame reaches it.
		testkit.Eventually(t, 45*time.Second, st.name, func() bool {
			l := logs.String()
			return s.Reconnects() == st.reconnects && s.Rollovers() == st.rollovers &&
				strings.Count(l, "genesys stream connected") == i+2 && strings.Contains(l, st.inLog)
		})
	}
	if strings.Contains(logs.String(), "sim-secret") {
		t.Error("secret in the log")
	}
}

// A rollover loses no frame still in flight to the old socket. Genesys
// promises no order between a ping's answer and notifications, so the
// pong may come back before frames sent to the old socket ahead of the new
// one's subscription: the old socket is read until it delivers a frame the
// new one also received, and every frame arrives exactly once.
func TestRolloverLosesNoFrameInFlight(t *testing.T) {
	// Under and over rolloverSettle: a lag longer than the settle must not
	// end the drain while the new socket holds frames the old one has not
	// delivered.
	for _, lag := range []time.Duration{300 * time.Millisecond, rolloverSettle + 500*time.Millisecond} {
		t.Run(lag.String(), func(t *testing.T) { rolloverInFlight(t, lag) })
	}
}

func rolloverInFlight(t *testing.T, lag time.Duration) {
	sim := startSim(t, simulator.Config{Conversations: -1, EventLag: lag})
	s, logs := newStream(t, sim, queueTopics(sim), nil)
	runStream(t, s)
	testkit.Eventually(t, 45*time.Second, "socket", func() bool { return sim.Sockets() == 1 })

	var (
		mu   sync.Mutex
		seen = map[string]int{}
	)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		for {
			ev, err := s.Read(ctx)
			if err != nil {
				return
			}
			mu.Lock()
			seen[ev.InteractionID]++
			mu.Unlock()
		}
	}()
	queue := sim.Population().Queues[0]
	sent := 0
	send := func(n int) {
		for range n {
			sent++
			sim.Inject(fmt.Appendf(nil, `{"topicName":"v2.routing.queues.%s.conversations","eventBody":{"id":"3f2a1b4c-1111-4222-8333-%012d","participants":[{"id":"p1","purpose":"customer","calls":[{"state":"connected","connectedTime":"2026-11-27T09:00:00.000Z"}]},{"id":"p2","purpose":"acd","calls":[{"state":"connected","connectedTime":"2026-11-27T09:00:00.000Z"}]}]}}`, queue, sent))
			time.Sleep(2 * time.Millisecond) // a steady flow, not a measure of anything
		}
	}
	send(50)
	sim.Inject([]byte(`{"topicName":"v2.system.socket_closing","eventBody":{"reason":"maintenance"}}`))
	// Frames keep flowing through the rollover until the old socket is
	// closed and a few more after.
	for s.Rollovers() == 0 && !t.Failed() {
		send(10)
	}
	send(200)
	testkit.Poll(20*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == sent
	})
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != sent {
		t.Errorf("%d of %d frames lost in the rollover", sent-len(seen), sent)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	if l := logs.String(); !strings.Contains(l, "make-before-break; no gap") || !strings.Contains(l, `drained="common frame"`) {
		t.Errorf("no gapless rollover ended by a common frame in the log:\n%s", l)
	}
}

// Permanent failures end Run with a clear error instead of a loop.
func TestStreamPermanentErrors(t *testing.T) {
	sim := startSim(t, simulator.Config{Conversations: -1})
	t.Run("bad credentials", func(t *testing.T) {
		s, _ := newStream(t, sim, queueTopics(sim), func(c *StreamConfig) {
			c.Clients = []*Client{NewClient(ClientConfig{Endpoints: Endpoints{API: sim.URL, Login: sim.URL}, ClientID: "sim-client", ClientSecret: "nope"})}
		})
		_, done := runStream(t, s)
		if err := <-done; !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("Run = %v, want ErrBadCredentials", err)
		}
		if _, err := s.Read(t.Context()); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("Read after Run = %v", err)
		}
	})
	t.Run("every topic rejected", func(t *testing.T) {
		s, _ := newStream(t, sim, []string{"v2.routing.queues.unknown.conversations"}, nil)
		_, done := runStream(t, s)
		if err := <-done; !errors.Is(err, ErrNoTopicPermitted) {
			t.Fatalf("Run = %v, want ErrNoTopicPermitted", err)
		}
	})
	t.Run("one topic rejected", func(t *testing.T) {
		topics := append(queueTopics(sim), "v2.routing.queues.unknown.conversations")
		s, logs := newStream(t, sim, topics, nil)
		runStream(t, s)
		testkit.Eventually(t, 45*time.Second, "socket", func() bool {
			return sim.Sockets() >= 1 && s.Healthy() || strings.Contains(logs.String(), "genesys stream connected")
		})
		if !strings.Contains(logs.String(), "topic rejected by Genesys") || !strings.Contains(logs.String(), "unknown") {
			t.Fatalf("the rejected topic is not reported:\n%s", logs.String())
		}
	})
}

func TestNewStreamValidates(t *testing.T) {
	c := NewClient(ClientConfig{})
	if _, err := NewStream(StreamConfig{Clients: []*Client{c}}); err == nil {
		t.Error("no topics accepted")
	}
	topics := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("v2.users.u%d.conversations", i)
		}
		return out
	}
	s, err := NewStream(StreamConfig{Clients: []*Client{c}, Topics: topics(2001)})
	if err != nil || s.Lanes() != 3 {
		t.Fatalf("2001 topics: %d lanes, %v; want 3 channels", s.Lanes(), err)
	}
	_, err = NewStream(StreamConfig{Clients: []*Client{c}, Topics: topics(MaxTopics + 1)})
	if err == nil || !strings.Contains(err.Error(), "at most 19000 topics a client") {
		t.Fatalf("%d topics: %v", MaxTopics+1, err)
	}
	if s, err := NewStream(StreamConfig{Clients: []*Client{c, c}, Topics: topics(MaxTopics + 1)}); err != nil || s.Lanes() != 20 {
		t.Fatalf("%d topics on two clients: %v", MaxTopics+1, err)
	}
}

// More than 1,000 topics are split over several channels, each with its
// own socket, and events from every channel arrive.
func TestStreamSplitsTopicsOverChannels(t *testing.T) {
	sim := startSim(t, simulator.Config{Agents: 1500, Queues: 1, Conversations: 200, Rate: 50})
	topics, _ := Topics(TopicSet{Users: sim.Population().Agents}) // user topics only
	s, _ := newStream(t, sim, topics, nil)
	if s.Lanes() != 2 {
		t.Fatalf("%d lanes for 1500 topics", s.Lanes())
	}
	runStream(t, s)
	testkit.Eventually(t, 45*time.Second, "two sockets", func() bool { return sim.Sockets() == 2 })
	<-sim.Done()
	// Every conversation that reached an agent arrives on some channel.
	want := map[string]bool{}
	for _, tr := range sim.Truth() {
		if tr.To == bridge.StatusRinging {
			want[tr.InteractionID] = true
		}
	}
	got := map[string]bool{}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for len(got) < len(want) {
		ev, err := s.Read(ctx)
		if err != nil {
			t.Fatalf("Read: %v (%d of %d conversations seen)", err, len(got), len(want))
		}
		if want[ev.InteractionID] {
			got[ev.InteractionID] = true
		}
	}
}

// The analytics details query follows every page and returns each
// conversation once, although the service repeats one across pages.
func TestQueryConversationDetailsPaging(t *testing.T) {
	sim := startSim(t, simulator.Config{Conversations: 250, Rate: 100})
	s, _ := newStream(t, sim, queueTopics(sim), nil)
	runStream(t, s) // conversations start once a socket subscribes
	<-sim.Done()
	c := NewClient(ClientConfig{Endpoints: Endpoints{API: sim.URL, Login: sim.URL}, ClientID: "sim-client", ClientSecret: "sim-secret"})
	from, to := time.Now().Add(-24*time.Hour), time.Now().Add(24*time.Hour)
	all, err := c.QueryConversationDetails(t.Context(), from, to, DetailsFilter{QueueIDs: sim.Population().Queues})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, dc := range all {
		if ids[dc.ConversationID] {
			t.Fatalf("conversation %s returned twice", dc.ConversationID)
		}
		ids[dc.ConversationID] = true
	}
	if len(ids) != 250 {
		t.Fatalf("%d conversations over all pages, want 250", len(ids))
	}
	one, err := c.QueryConversationDetails(t.Context(), from, to, DetailsFilter{ConversationIDs: []string{all[7].ConversationID}})
	if err != nil || len(one) != 1 || one[0].ConversationID != all[7].ConversationID {
		t.Fatalf("by conversation id: %d results, %v", len(one), err)
	}
}

// The details query keeps to the API's limits: an interval of ten days is
// asked seven days at a time (the simulator refuses more, as Genesys
// does), and one with more results than the API pages through is split
// until each part fits.
func TestQueryConversationDetailsLimits(t *testing.T) {
	// One conversation every 100 simulated seconds (as fast as the client
	// reads): a few at a time, spread over hours.
	sim := startSim(t, simulator.Config{Conversations: 250, Rate: 0.01, AnalyticsMaxResults: 60})
	s, _ := newStream(t, sim, queueTopics(sim), nil)
	runStream(t, s)
	<-sim.Done()
	c := NewClient(ClientConfig{Endpoints: Endpoints{API: sim.URL, Login: sim.URL}, ClientID: "sim-client", ClientSecret: "sim-secret",
		AnalyticsMaxResults: 60})
	before := sim.AnalyticsQueries()
	all, err := c.QueryConversationDetails(t.Context(), time.Now().Add(-9*24*time.Hour), time.Now().Add(24*time.Hour),
		DetailsFilter{QueueIDs: sim.Population().Queues})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 250 {
		t.Fatalf("%d conversations, want 250", len(all))
	}
	queries := sim.AnalyticsQueries() - before
	t.Logf("250 conversations over a 10-day interval, at most 60 results a query: %d queries", queries)
	if queries > 200 {
		t.Errorf("%d queries for 250 conversations", queries)
	}
}
