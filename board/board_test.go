package board

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genesys-bridge/genesys-bridge/consume"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

var now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// ago is a time sec seconds before now.
func ago(sec int) time.Time { return now.Add(-time.Duration(sec) * time.Second) }

func tr(id, ch, queue, from, to string, at time.Time) consume.Transition {
	return consume.Transition{InteractionID: id, ChannelType: ch, QueueID: queue, FromStatus: from, ToStatus: to, OccurredAt: at}
}

func TestSnapshotFigures(t *testing.T) {
	b := New(Config{ServiceLevel: 20 * time.Second, Window: 15 * time.Minute})
	for _, x := range []consume.Transition{
		// a1: answered after 10s, talking now.
		tr("a1", "voice", "q1", "", "queued", ago(300)), tr("a1", "voice", "q1", "queued", "ringing", ago(295)),
		tr("a1", "voice", "q1", "ringing", "connected", ago(290)),
		// a2: answered after 60s (outside the service level), completed.
		tr("a2", "voice", "q1", "", "queued", ago(600)), tr("a2", "voice", "q1", "queued", "connected", ago(540)),
		tr("a2", "voice", "q1", "connected", "wrapup", ago(400)), tr("a2", "voice", "q1", "wrapup", "completed", ago(380)),
		// a3: waiting 120s now, after a ring nobody answered (one offer).
		tr("a3", "voice", "q1", "", "queued", ago(120)), tr("a3", "voice", "q1", "queued", "ringing", ago(100)),
		tr("a3", "voice", "q1", "ringing", "queued", ago(90)),
		// a4: abandoned in the queue.
		tr("a4", "voice", "q1", "", "queued", ago(200)), tr("a4", "voice", "q1", "queued", "completed", ago(150)),
		// c1: a chat on hold in q2; offered before the window (not counted).
		tr("c1", "chat", "q2", "", "queued", ago(3600)), tr("c1", "chat", "q2", "queued", "connected", ago(3500)),
		tr("c1", "chat", "q2", "connected", "held", ago(30)),
	} {
		b.Transition(x)
	}
	b.Timings(consume.Timings{InteractionID: "a2", ChannelType: "voice", QueueID: "q1", Answered: true, Handle: 160 * time.Second, CompletedAt: ago(380)})
	b.Timings(consume.Timings{InteractionID: "a4", ChannelType: "voice", QueueID: "q1", Abandoned: true, CompletedAt: ago(150)})

	s := b.Snapshot(now)
	if len(s.Rows) != 2 {
		t.Fatalf("rows %+v", s.Rows)
	}
	q1, q2 := s.Rows[0], s.Rows[1]
	check := func(name string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("q1 waiting", q1.Waiting, 1)
	check("q1 longest wait", q1.LongestWait, 90.0) // since it went back to the queue
	check("q1 connected", q1.Connected, 1)
	check("q1 offered", q1.Offered, 4)
	check("q1 answered", q1.Answered, 2)
	check("q1 abandoned", q1.Abandoned, 1)
	check("q1 service level", fmt.Sprintf("%.1f", q1.ServiceLevel), "33.3") // 1 of 2 answered + 1 abandoned
	check("q1 avg wait", q1.AvgWait, 35.0)
	check("q1 avg handle", q1.AvgHandle, 160.0)
	check("q2 held", q2.Held, 1)
	check("q2 offered", q2.Offered, 0)
	check("q2 service level", q2.ServiceLevel, -1.0)
	check("total offered", s.Total.Offered, 4)
	check("total held", s.Total.Held, 1)
	check("feed length", len(s.Feed), 15)
	check("feed newest first", s.Feed[0].Interaction+" "+s.Feed[0].To, "c1 held")
}

func TestWindowAndLookbackPrune(t *testing.T) {
	b := New(Config{Window: time.Minute, Lookback: time.Hour})
	b.Transition(tr("old", "email", "q", "", "queued", ago(2*3600)))
	b.Transition(tr("new", "email", "q", "", "queued", ago(120)))
	s := b.Snapshot(now)
	if s.Total.Waiting != 1 || s.Total.Offered != 0 {
		t.Fatalf("waiting %d (want the one within the lookback), offered %d (want none in the last minute)", s.Total.Waiting, s.Total.Offered)
	}
}

type fakeNamer struct {
	mu    sync.Mutex
	calls map[string]int
}

func (f *fakeNamer) count(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[id]
}

func (f *fakeNamer) QueueName(_ context.Context, id string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[id]++
	if id == "secret" {
		return "", fmt.Errorf("403: %w", ErrNoName)
	}
	return "Queue " + id, nil
}

func (f *fakeNamer) UserName(_ context.Context, id string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["user "+id]++
	return "Agent " + id, nil
}

// Names come in the background; a denied one shows the id and is not asked
// again at once.
func TestQueueNames(t *testing.T) {
	f := &fakeNamer{calls: map[string]int{}}
	b := New(Config{Names: f})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { b.names.run(ctx); close(done) }() // as Board.Run does
	defer func() { cancel(); <-done }()
	b.Transition(tr("i1", "voice", "q1", "", "queued", ago(5)))
	b.Transition(tr("i2", "voice", "secret", "", "queued", ago(5)))
	names := func() map[string]string {
		m := map[string]string{}
		for _, r := range b.Snapshot(now).Rows {
			m[r.QueueID] = r.QueueName
		}
		return m
	}
	testkit.Eventually(t, 5*time.Second, "the name of q1, and the denied one asked", func() bool {
		return names()["q1"] == "Queue q1" && f.count("secret") == 1
	})
	testkit.Eventually(t, 5*time.Second, "the denied lookup recorded", b.names.idle)
	if n := names()["secret"]; n != "secret" {
		t.Errorf("denied queue shown as %q, want its id", n)
	}
	for range 10 {
		names()
	}
	if f.count("secret") != 1 || f.count("q1") != 1 {
		t.Errorf("lookups q1 %d, secret %d: want one each", f.count("q1"), f.count("secret"))
	}
}

func agentTr(user, from, to, presence string, at time.Time, queues ...string) consume.AgentTransition {
	return consume.AgentTransition{UserID: user, FromRoutingStatus: from, ToRoutingStatus: to, ToPresence: presence, OccurredAt: at, ActiveQueueIDs: queues}
}

// Agents per queue by routing status now (an agent off queue still counts
// on the queues it was last active on), and each agent with its time in
// status; names come from the Namer.
func TestAgentFigures(t *testing.T) {
	b := New(Config{})
	for _, a := range []consume.AgentTransition{
		agentTr("u1", "", "idle", "on_queue", ago(600), "q1", "q2"),
		agentTr("u1", "idle", "interacting", "on_queue", ago(30), "q1", "q2"),
		agentTr("u2", "", "idle", "on_queue", ago(500), "q1"),
		agentTr("u2", "idle", "off_queue", "break", ago(100)),
		agentTr("u3", "", "not_responding", "on_queue", ago(5), "q2"),
		agentTr("u4", "", "off_queue", "offline", ago(50)),
	} {
		b.AgentTransition(a)
	}
	s := b.Snapshot(now)
	got := map[string]QueueAgents{}
	for _, q := range s.QueueAgents {
		got[q.QueueID] = q
	}
	want := map[string]QueueAgents{
		"q1": {QueueID: "q1", QueueName: "q1", OnQueue: 1, Interacting: 1, OffQueue: 1},
		"q2": {QueueID: "q2", QueueName: "q2", OnQueue: 2, Interacting: 1, NotResponding: 1},
		"":   {QueueID: "", QueueName: "(no queue)", OffQueue: 1},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("per queue\n got  %+v\n want %+v", got, want)
	}
	var list []string
	for _, a := range s.Agents {
		list = append(list, fmt.Sprintf("%s:%s/%s:%.0fs:%v", a.Name, a.Routing, a.Presence, a.InStatus, a.Queues))
	}
	if w := "u1:interacting/on_queue:30s:[q1 q2] u2:off_queue/break:100s:[q1] u3:not_responding/on_queue:5s:[q2] u4:off_queue/offline:50s:[]"; fmt.Sprint(strings.Join(list, " ")) != w {
		t.Errorf("agents\n got  %s\n want %s", strings.Join(list, " "), w)
	}
	// Names, looked up in the background.
	f := &fakeNamer{calls: map[string]int{}}
	b = New(Config{Names: f})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { b.users.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	b.AgentTransition(agentTr("u1", "", "idle", "on_queue", ago(1), "q1"))
	testkit.Eventually(t, 5*time.Second, "the agent's name", func() bool {
		a := b.Snapshot(now).Agents
		return len(a) == 1 && a[0].Name == "Agent u1"
	})
}

// The chart's points: waiting and service level over the window.
func TestSeries(t *testing.T) {
	b := New(Config{Window: time.Minute})
	b.Transition(tr("a1", "voice", "q1", "", "queued", ago(90)))
	b.Sample(ago(70))
	b.Transition(tr("a2", "voice", "q1", "", "queued", ago(40)))
	b.Sample(ago(30))
	b.Transition(tr("a1", "voice", "q1", "queued", "connected", ago(20)))
	b.Sample(ago(10))
	var got []string
	for _, p := range b.Snapshot(now).Series {
		got = append(got, fmt.Sprintf("%d/%.0f", p.Waiting, p.ServiceLevel))
	}
	// The first sample fell out of the window; a1 was answered after 70s,
	// outside the 20s service level.
	if strings.Join(got, " ") != "2/-1 1/0" {
		t.Errorf("series %v", got)
	}
}
