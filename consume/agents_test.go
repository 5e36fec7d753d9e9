package consume_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/consume"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// agentStep is one pair an agent enters at a second after t0.
type agentStep struct {
	routing  bridge.RoutingStatus
	presence bridge.Presence
	sec      int
	queues   []string
}

// publishAgent derives an agent's transitions with the bridge's machine
// and publishes them as the bridge does.
func (e *embedded) publishAgent(t *testing.T, user string, steps ...agentStep) {
	t.Helper()
	m := bridge.NewMachine(bridge.MachineConfig{})
	for _, st := range steps {
		at := t0.Add(time.Duration(st.sec) * time.Second)
		ev := bridge.Event{InteractionID: user, ObservedAt: at, Agent: &bridge.AgentObservation{
			Steps: []bridge.AgentStep{{At: at, Routing: st.routing, Presence: st.presence}}, Queues: st.queues, QueuesKnown: true}}
		out, _ := m.Apply(&ev, nil)
		for i := range out {
			r := testkit.NewReceipt()
			e.pub.Publish(context.Background(), &out[i], r)
			if err := r.Wait(10 * time.Second); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// Agents' transitions read with their own filters (agent, routing status
// entered, active queue), and never among the interactions'.
func TestAgentTransitions(t *testing.T) {
	e := setup(t)
	e.publishAgent(t, "agent-7",
		agentStep{bridge.RoutingIdle, bridge.PresenceOnQueue, 0, []string{"q-sales"}},
		agentStep{bridge.RoutingInteracting, bridge.PresenceOnQueue, 12, []string{"q-sales"}},
		agentStep{bridge.RoutingIdle, bridge.PresenceOnQueue, 230, []string{"q-sales"}})
	e.publishAgent(t, "agent-3",
		agentStep{bridge.RoutingIdle, bridge.PresenceOnQueue, 0, []string{"q-support"}},
		agentStep{bridge.RoutingOffQueue, bridge.PresenceBreak, 60, nil})
	read := func(cfg consume.Config, n int) (string, []consume.AgentTransition) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var got []string
		var all []consume.AgentTransition
		for a, err := range consume.AgentTransitions(ctx, e.js, cfg) {
			if err != nil {
				t.Fatal(err)
			}
			got, all = append(got, a.UserID+":"+a.FromRoutingStatus+">"+a.ToRoutingStatus), append(all, a)
			if len(got) == n {
				break
			}
		}
		return strings.Join(got, " "), all
	}
	for _, tt := range []struct {
		name string
		cfg  consume.Config
		want string
	}{
		{"all", consume.Config{Start: consume.All},
			"agent-7:>idle agent-7:idle>interacting agent-7:interacting>idle agent-3:>idle agent-3:idle>off_queue"},
		{"one agent", consume.Config{Agent: "agent-3", Start: consume.All}, "agent-3:>idle agent-3:idle>off_queue"},
		{"into interacting or off queue", consume.Config{RoutingStatuses: []string{"interacting", "off_queue"}, Start: consume.All},
			"agent-7:idle>interacting agent-3:idle>off_queue"},
		{"one queue", consume.Config{Queue: "q-support", Start: consume.All}, "agent-3:>idle"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := read(tt.cfg, len(strings.Fields(tt.want))); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	_, all := read(consume.Config{Agent: "agent-7", Start: consume.All}, 3)
	if a := all[2]; a.InPrevious != 218*time.Second || a.FromPresence != "on_queue" || a.ToPresence != "on_queue" ||
		a.OccurredAt != t0.Add(230*time.Second) || a.Subject != "genesys.interactions.agents.idle.agent-7" || a.Sequence == 0 || a.ID == "" {
		t.Errorf("payload read as %+v", a)
	}
	for _, bad := range []consume.Config{{Agent: "a.b"}, {RoutingStatuses: []string{"idle.x"}}, {RoutingStatuses: []string{">"}}} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		for _, err := range consume.AgentTransitions(ctx, e.js, bad) {
			if err == nil {
				t.Errorf("%+v accepted", bad)
			}
			break
		}
		cancel()
	}
}
