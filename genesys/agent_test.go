package genesys

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// activityFrame is a v2.users.{id}.activity notification with every field
// of AgentActivityChangedTopicAgentActivity, systemPresence in the
// presence-definition spelling ("On Queue") that a real org's presence
// list shows.
const activityFrame = `{"topicName":"v2.users.5ed4751e-aa5c-4398-98ac-fa1256eb020e.activity","version":"2","eventBody":{` +
	`"id":"5ed4751e-aa5c-4398-98ac-fa1256eb020e","routingStatus":{"status":"INTERACTING","startTime":"2026-12-03T10:05:00.120Z"},` +
	`"presence":{"presenceDefinition":{"id":"e08eaf1b-ee47-4fa9-a231-1200e284798f","systemPresence":"On Queue"},"presenceMessage":"","modifiedDate":"2026-12-03T09:59:00.000Z"},` +
	`"outOfOffice":{"active":false,"modifiedDate":"2026-12-03T09:59:00.000Z"},"activeQueueIds":["q2","q1"],"dateActiveQueuesChanged":"2026-12-03T09:59:00.000Z"},` +
	`"metadata":{"CorrelationId":"c-1"}}`

func TestDecodeActivity(t *testing.T) {
	fr, err := DecodeNotification([]byte(activityFrame), observed)
	if err != nil {
		t.Fatal(err)
	}
	ev := fr.Event
	if fr.Kind != FrameEvent || ev.Agent == nil || ev.InteractionID != "5ed4751e-aa5c-4398-98ac-fa1256eb020e" {
		t.Fatalf("frame %+v", fr)
	}
	a := ev.Agent
	want := []bridge.AgentStep{
		{At: time.Date(2026, 12, 3, 9, 59, 0, 0, time.UTC), Presence: bridge.PresenceOnQueue},
		{At: time.Date(2026, 12, 3, 10, 5, 0, 120e6, time.UTC), Routing: bridge.RoutingInteracting},
	}
	if len(a.Steps) != 2 || a.Steps[0] != want[0] || a.Steps[1] != want[1] {
		t.Errorf("steps %+v, want %+v", a.Steps, want)
	}
	if !a.QueuesKnown || strings.Join(a.Queues, ",") != "q1,q2" || a.PresenceID != "e08eaf1b-ee47-4fa9-a231-1200e284798f" {
		t.Errorf("queues %v (%v), presence id %q", a.Queues, a.QueuesKnown, a.PresenceID)
	}
	if err := ev.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, from, to, want string }{
		{"unknown routing status", `"INTERACTING"`, `"LUNCH"`, "unknown routing status"},
		{"unknown presence", `"On Queue"`, `"Lunch"`, "unknown system presence"},
		{"another user's body", `"id":"5ed4751e-aa5c-4398-98ac-fa1256eb020e"`, `"id":"someone-else"`, "not the topic's user"},
		{"bad time", `"2026-12-03T10:05:00.120Z"`, `"yesterday"`, "not RFC 3339"},
		{"neither part", `"routingStatus":{"status":"INTERACTING","startTime":"2026-12-03T10:05:00.120Z"},"presence":{"presenceDefinition":{"id":"e08eaf1b-ee47-4fa9-a231-1200e284798f","systemPresence":"On Queue"},"presenceMessage":"","modifiedDate":"2026-12-03T09:59:00.000Z"},`, ``, "neither routingStatus nor presence"},
		{"not JSON", `"activeQueueIds":["q2","q1"]`, `"activeQueueIds":"q1"`, "decode activity"},
	} {
		frame := strings.Replace(activityFrame, tc.from, tc.to, 1)
		if _, err := DecodeNotification([]byte(frame), observed); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}

// A users details query result: intervals of routing status and of
// presence (the enum spelling, ON_QUEUE) merged into one history.
func TestDeriveUserDetail(t *testing.T) {
	var ud UserDetail
	err := json.Unmarshal([]byte(`{"userId":"u1",
		"primaryPresence":[{"startTime":"2026-12-03T09:00:00.002Z","endTime":"2026-12-03T10:00:00.002Z","systemPresence":"ON_QUEUE","organizationPresenceId":"e08eaf1b"},
			{"startTime":"2026-12-03T10:00:00.002Z","systemPresence":"BREAK","organizationPresenceId":"227b37e2"}],
		"routingStatus":[{"startTime":"2026-12-03T09:00:00.002Z","endTime":"2026-12-03T09:30:00.000Z","routingStatus":"IDLE"},
			{"startTime":"2026-12-03T09:30:00.000Z","endTime":"2026-12-03T10:00:00.002Z","routingStatus":"INTERACTING"},
			{"startTime":"2026-12-03T10:00:00.002Z","routingStatus":"OFF_QUEUE"}]}`), &ud)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := DeriveUserDetail(&ud, observed)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range ev.Agent.Steps {
		got = append(got, s.At.Format("15:04:05.000")+" "+string(s.Routing)+"/"+string(s.Presence))
	}
	want := "09:00:00.002 idle/on_queue, 09:30:00.000 interacting/, 10:00:00.002 off_queue/break"
	if strings.Join(got, ", ") != want || !ev.Backfilled || ev.Agent.PresenceID != "227b37e2" {
		t.Errorf("steps %s (backfilled %v, presence id %q), want %s", strings.Join(got, ", "), ev.Backfilled, ev.Agent.PresenceID, want)
	}
	if err := ev.Validate(); err != nil {
		t.Fatal(err)
	}
	ud.RoutingStatus[0].RoutingStatus = "LUNCH"
	if _, err := DeriveUserDetail(&ud, observed); err == nil || !strings.Contains(err.Error(), "routingStatus 0") {
		t.Errorf("an unknown routing status: %v", err)
	}
}
