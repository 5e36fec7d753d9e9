package main

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// agentMetrics are the agents' series (issue 24): transitions published
// by routing status, agents now by routing status and queue (an agent on
// no queue counts under queue_id=""), and time in a routing status as a
// histogram, from each acknowledged agent transition.
type agentMetrics struct {
	published *prometheus.CounterVec
	now       *prometheus.GaugeVec
	inStatus  *prometheus.HistogramVec

	mu     sync.Mutex // shards call in concurrently
	agents map[string]agentNow
}

type agentNow struct {
	routing bridge.RoutingStatus
	queues  []string
}

func newAgentMetrics(reg *prometheus.Registry) *agentMetrics {
	a := &agentMetrics{agents: map[string]agentNow{}}
	a.published = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "genesys_bridge_agent_transitions_published_total",
		Help: "Agent transitions acknowledged by JetStream, by the routing status they go to.",
	}, []string{"routing_status"})
	a.now = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "genesys_bridge_agents",
		Help: "Agents by routing status now and by active queue (queue_id empty: on no queue), as of their last published transition.",
	}, []string{"routing_status", "queue_id"})
	a.inStatus = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "genesys_bridge_agent_status_seconds",
		Help:    "How long agents stayed in a routing status and presence pair before a transition, by the routing status they left.",
		Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600},
	}, []string{"routing_status"})
	for _, r := range bridge.RoutingStatuses {
		a.published.WithLabelValues(string(r))
	}
	reg.MustRegister(a.published, a.now, a.inStatus)
	return a
}

func (a *agentMetrics) transition(t *bridge.Transition) {
	c := t.Agent
	a.published.WithLabelValues(string(c.ToRouting)).Inc()
	if c.FromRouting != "" && c.InPrevious > 0 {
		a.inStatus.WithLabelValues(string(c.FromRouting)).Observe(c.InPrevious.Seconds())
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if was, ok := a.agents[t.InteractionID]; ok {
		a.count(was, -1)
	}
	now := agentNow{routing: c.ToRouting, queues: c.Queues}
	a.agents[t.InteractionID] = now
	a.count(now, 1)
}

func (a *agentMetrics) count(n agentNow, d float64) {
	if len(n.queues) == 0 {
		a.now.WithLabelValues(string(n.routing), "").Add(d)
		return
	}
	for _, q := range n.queues {
		a.now.WithLabelValues(string(n.routing), q).Add(d)
	}
}
