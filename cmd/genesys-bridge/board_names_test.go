package main

import (
	"errors"
	"testing"

	"github.com/genesys-bridge/genesys-bridge/board"
	"github.com/genesys-bridge/genesys-bridge/genesys"
	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
)

// Queue names for the board come from the routing API; a client without
// routing:queue:view (403) or an unknown queue (404) is board.ErrNoName,
// which the board answers with the id and asks again only much later.
func TestBoardQueueNames(t *testing.T) {
	for _, denied := range []bool{false, true} {
		sim, err := simulator.Start(simulator.Config{Conversations: -1, RoutingDenied: denied})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sim.Close)
		c := genesys.NewClient(genesys.ClientConfig{Endpoints: genesys.Endpoints{API: sim.URL, Login: sim.URL},
			ClientID: "sim-client", ClientSecret: "sim-secret"})
		names := queueNames{[]*genesys.Client{c}}
		q := sim.Population().Queues[1]
		name, err := names.QueueName(t.Context(), q)
		switch {
		case denied && !errors.Is(err, board.ErrNoName):
			t.Errorf("denied: %q, %v; want board.ErrNoName", name, err)
		case !denied && (err != nil || name != "Queue 2"):
			t.Errorf("queue %s: %q, %v; want Queue 2", q, name, err)
		}
		if _, err := names.QueueName(t.Context(), "00000000-0000-4000-8000-000000000000"); !errors.Is(err, board.ErrNoName) {
			t.Errorf("unknown queue (denied %v): %v; want board.ErrNoName", denied, err)
		}
	}
}
