package publish

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// Two replicas place agents: the first placement of each wins, and each
// replica learns every placement, those made before it opened the roster
// and those made after.
func TestRosterFirstPlacementWins(t *testing.T) {
	ns := testkit.StartNATS(t)
	js, _ := jetstream.New(ns.Connect(t))
	a, err := OpenRoster(t.Context(), js, "TEST", RosterConfig{Scope: "plan-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	since := time.Now().UTC().Truncate(time.Millisecond)
	if p, err := a.Place(t.Context(), "agent-1", 2, since); err != nil || p.Lane != 2 {
		t.Fatalf("place: %+v %v", p, err)
	}
	b, err := OpenRoster(t.Context(), js, "TEST", RosterConfig{Scope: "plan-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	now, later := b.Placements(t.Context())
	if len(now) != 1 || now[0].Agent != "agent-1" || now[0].Lane != 2 || !now[0].Since.Equal(since) {
		t.Fatalf("b knows %+v", now)
	}
	// b places the same agent elsewhere: a's placement stands.
	if p, err := b.Place(t.Context(), "agent-1", 5, time.Now()); err != nil || p.Lane != 2 {
		t.Fatalf("second placement: %+v %v", p, err)
	}
	if _, err := a.Place(t.Context(), "agent-2", 1, since); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-later:
		if p.Agent != "agent-2" || p.Lane != 1 {
			t.Fatalf("b learnt %+v", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b did not learn a's later placement")
	}
	// Another scope (another configuration) sees none of them.
	c, err := OpenRoster(t.Context(), js, "TEST", RosterConfig{Scope: "plan-2"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if now, _ := c.Placements(context.Background()); len(now) != 0 {
		t.Fatalf("another scope knows %+v", now)
	}
}
