package bridge

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

var agentT0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func agentAt(min, sec int) time.Time {
	return agentT0.Add(time.Duration(min)*time.Minute + time.Duration(sec)*time.Second)
}

// liveActivity is the Event a live v2.users.{id}.activity frame gives:
// the routing status timed by its startTime, the presence by its
// modifiedDate.
func liveActivity(user string, r RoutingStatus, rAt time.Time, p Presence, pAt time.Time, queues ...string) Event {
	steps := []AgentStep{{At: rAt, Routing: r}, {At: pAt, Presence: p}}
	switch {
	case rAt.Equal(pAt):
		steps = []AgentStep{{At: rAt, Routing: r, Presence: p}}
	case pAt.Before(rAt):
		steps[0], steps[1] = steps[1], steps[0]
	}
	return Event{InteractionID: user, ObservedAt: later(rAt, pAt).Add(40 * time.Millisecond),
		Agent: &AgentObservation{Steps: steps, PresenceID: "pd-" + string(p), Queues: queues, QueuesKnown: true}}
}

func history(user string, steps ...AgentStep) Event {
	return Event{InteractionID: user, ObservedAt: agentAt(30, 0), Backfilled: true, Agent: &AgentObservation{Steps: steps}}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// pairs renders transitions as "from>to@mm:ss[r][b]".
func pairs(ts []Transition) string {
	var out []string
	for _, t := range ts {
		c := t.Agent
		s := fmt.Sprintf("%s/%s>%s/%s@%s", c.FromRouting, c.FromPresence, c.ToRouting, c.ToPresence, t.OccurredAt.Format("04:05"))
		if t.Reconstructed {
			s += "r"
		}
		if t.Backfilled {
			s += "b"
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func TestAgentMachine(t *testing.T) {
	const u = "user-1"
	for _, tc := range []struct {
		name   string
		events []Event
		want   []string // per event
	}{{
		name: "first frame gathers presence timed before routing into one transition",
		events: []Event{
			liveActivity(u, RoutingIdle, agentAt(0, 0), PresenceOnQueue, agentAt(-1, 0), "q1"),
			liveActivity(u, RoutingInteracting, agentAt(5, 0), PresenceOnQueue, agentAt(-1, 0), "q1"),
			liveActivity(u, RoutingInteracting, agentAt(5, 0), PresenceOnQueue, agentAt(-1, 0), "q1"), // repeated
			liveActivity(u, RoutingIdle, agentAt(0, 0), PresenceOnQueue, agentAt(-1, 0), "q1"),        // reordered, older
		},
		want: []string{"/>idle/on_queue@00:00", "idle/on_queue>interacting/on_queue@05:00", "", ""},
	}, {
		name: "a frame that proves two changes reconstructs the earlier",
		events: []Event{
			liveActivity(u, RoutingInteracting, agentAt(0, 0), PresenceOnQueue, agentAt(-1, 0)),
			liveActivity(u, RoutingOffQueue, agentAt(10, 0), PresenceBreak, agentAt(9, 0)),
		},
		want: []string{"/>interacting/on_queue@00:00", "interacting/on_queue>interacting/break@09:00r interacting/break>off_queue/break@10:00"},
	}, {
		name: "a gap's history goes before what follows, and its steps already applied are skipped",
		events: []Event{
			liveActivity(u, RoutingIdle, agentAt(0, 0), PresenceOnQueue, agentAt(-1, 0)),
			history(u, AgentStep{At: agentAt(-1, 0).Add(3 * time.Millisecond), Routing: RoutingIdle, Presence: PresenceOnQueue},
				AgentStep{At: agentAt(2, 0).Add(2 * time.Millisecond), Routing: RoutingInteracting},
				AgentStep{At: agentAt(4, 0), Routing: RoutingNotResponding},
				AgentStep{At: agentAt(5, 0), Routing: RoutingIdle}),
			liveActivity(u, RoutingIdle, agentAt(5, 0), PresenceOnQueue, agentAt(-1, 0)),
		},
		want: []string{"/>idle/on_queue@00:00",
			"idle/on_queue>interacting/on_queue@02:00rb interacting/on_queue>not_responding/on_queue@04:00rb not_responding/on_queue>idle/on_queue@05:00b", ""},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMachine(MachineConfig{})
			for i := range tc.events {
				ev := tc.events[i]
				if err := ev.Validate(); err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				ts, _ := m.Apply(&ev, nil)
				if got := pairs(ts); got != tc.want[i] {
					t.Errorf("event %d:\n got %s\nwant %s", i, got, tc.want[i])
				}
			}
		})
	}
}

// The same history revealed by live frames or by a back-fill gets the
// same ids; a machine restored from the persisted state of the first
// transition continues the series; the payload is JSON with the fields
// docs/messages.md names.
func TestAgentIdentityAndPayload(t *testing.T) {
	const u = "user-2"
	live := []Event{
		liveActivity(u, RoutingIdle, agentAt(0, 0), PresenceOnQueue, agentAt(0, 0), "q1", "q2"),
		liveActivity(u, RoutingInteracting, agentAt(1, 0), PresenceOnQueue, agentAt(0, 0), "q1", "q2"),
		liveActivity(u, RoutingOffQueue, agentAt(3, 0), PresenceMeal, agentAt(3, 0), "q1", "q2"),
	}
	m := NewMachine(MachineConfig{})
	var all []Transition
	for i := range live {
		all, _ = m.Apply(&live[i], all)
	}
	if len(all) != 3 {
		t.Fatalf("live: %s", pairs(all))
	}
	// A replica that restored the first transition's state and then read
	// the rest from a back-fill (another clock, 2 ms off).
	r := NewMachine(MachineConfig{})
	r.Restore(u, all[0].State, time.Now())
	h := history(u, AgentStep{At: agentAt(0, 0), Routing: RoutingIdle, Presence: PresenceOnQueue},
		AgentStep{At: agentAt(1, 0).Add(2 * time.Millisecond), Routing: RoutingInteracting},
		AgentStep{At: agentAt(3, 0).Add(2 * time.Millisecond), Routing: RoutingOffQueue, Presence: PresenceMeal})
	rest, _ := r.Apply(&h, nil)
	if len(rest) != 2 {
		t.Fatalf("restored: %s", pairs(rest))
	}
	for i, tr := range rest {
		if tr.ID != all[i+1].ID {
			t.Errorf("transition %d: id %s from history, %s live", i+1, tr.ID, all[i+1].ID)
		}
	}
	var got map[string]any
	b := all[1].AppendJSON(nil)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	want := map[string]any{"id": all[1].ID, "userId": u, "fromRoutingStatus": "idle", "toRoutingStatus": "interacting",
		"fromPresence": "on_queue", "toPresence": "on_queue", "presenceDefinitionId": "pd-on_queue",
		"activeQueueIds": []any{"q1", "q2"}, "occurredAt": "2026-12-03T10:01:00Z", "observedAt": "2026-12-03T10:01:00.04Z",
		"inPreviousMs": float64(60000), "reconstructed": false, "backfilled": false, "incomplete": false}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("payload\n got %v\nwant %v", got, want)
	}
	if all[0].Agent.FromRouting != "" || !strings.Contains(string(all[0].AppendJSON(nil)), `"fromRoutingStatus":null`) {
		t.Errorf("first transition: %s", all[0].AppendJSON(nil))
	}
}

func TestAgentEventValidate(t *testing.T) {
	ok := liveActivity("u", RoutingIdle, agentAt(0, 0), PresenceOnQueue, agentAt(0, 0))
	for _, tc := range []struct {
		name string
		mut  func(e *Event)
		want string
	}{
		{"no steps", func(e *Event) { e.Agent.Steps = nil }, "no routing status"},
		{"unknown routing", func(e *Event) { e.Agent.Steps[0].Routing = "LUNCH" }, "unknown routing status"},
		{"unknown presence", func(e *Event) { e.Agent.Steps[0].Presence = "Lunch" }, "unknown system presence"},
		{"no time", func(e *Event) { e.Agent.Steps[0].At = time.Time{} }, "out of range"},
		{"bad queue", func(e *Event) { e.Agent.Queues = []string{"a b"} }, "queue id"},
		{"bad user", func(e *Event) { e.InteractionID = "" }, "empty"},
		{"empty step", func(e *Event) { e.Agent.Steps[0] = AgentStep{At: agentAt(0, 0)} }, "changes nothing"},
	} {
		e := ok
		a := *ok.Agent
		a.Steps = append([]AgentStep(nil), a.Steps...)
		e.Agent = &a
		tc.mut(&e)
		if err := e.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
}
