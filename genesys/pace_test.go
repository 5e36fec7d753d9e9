package genesys

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
)

// The client paces its REST requests: ten seconds' worth at once, then
// RequestsPerMinute's rate (60 a minute: the 25th of a burst at 15 s).
func TestClientPacesRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := simulator.NewMemNet()
		sim, err := simulator.Start(simulator.Config{Listener: mem, Conversations: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer sim.Close()
		tr := &http.Transport{DialContext: mem.DialContext}
		defer tr.CloseIdleConnections()
		c := NewClient(ClientConfig{Endpoints: Endpoints{API: sim.URL, Login: sim.URL}, ClientID: "sim-client", ClientSecret: "sim-secret",
			RequestsPerMinute: 60, HTTPClient: &http.Client{Transport: tr}})
		defer c.Close()
		queue := sim.Population().Queues[0]
		start := time.Now()
		for i := range 25 {
			if _, err := c.QueueName(t.Context(), queue); err != nil {
				t.Fatalf("request %d: %v", i+1, err)
			}
		}
		if d := time.Since(start); d != 15*time.Second {
			t.Errorf("25 requests took %s; want 15s (10 at once, then one a second)", d)
		}
		if c.PacedFor() == 0 {
			t.Error("PacedFor is 0")
		}
	})
}
