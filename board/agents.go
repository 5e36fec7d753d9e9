package board

import (
	"cmp"
	"slices"
	"time"

	"github.com/genesys-bridge/genesys-bridge/consume"
)

// agentNow is an agent as its last transition says.
type agentNow struct {
	routing, presence string
	since             time.Time // the pair began (the transition's occurredAt)
	// queues are the agent's active queues, or the last ones it had (an
	// agent off queue has none active, yet belongs to them).
	queues []string
}

// AgentTransition applies one agent's published transition.
func (b *Board) AgentTransition(a consume.AgentTransition) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.agents[a.UserID]
	if n == nil {
		n = &agentNow{}
		b.agents[a.UserID] = n
	}
	n.routing, n.presence, n.since = a.ToRoutingStatus, a.ToPresence, a.OccurredAt
	if len(a.ActiveQueueIDs) > 0 {
		n.queues = slices.Clone(a.ActiveQueueIDs)
	}
}

// AgentRow is one agent in the page's list.
type AgentRow struct {
	UserID   string `json:"userId"`
	Name     string `json:"name"`
	Routing  string `json:"routingStatus"`
	Presence string `json:"presence"`
	// InStatus is how long the agent has been in this routing status and
	// presence.
	InStatus float64  `json:"inStatusSeconds"`
	Queues   []string `json:"queueNames"`
}

// QueueAgents counts one queue's agents by routing status now. OnQueue
// is every agent not off queue.
type QueueAgents struct {
	QueueID       string `json:"queueId"`
	QueueName     string `json:"queueName"`
	OnQueue       int    `json:"onQueue"`
	Idle          int    `json:"idle"`
	Interacting   int    `json:"interacting"`
	Communicating int    `json:"communicating"`
	NotResponding int    `json:"notResponding"`
	OffQueue      int    `json:"offQueue"`
}

// agentsSnapshot lists the agents and counts them per queue at now;
// b.mu is held.
func (b *Board) agentsSnapshot(now time.Time) ([]AgentRow, []QueueAgents) {
	var rows []AgentRow
	counts := map[string]*QueueAgents{}
	for id, a := range b.agents {
		rows = append(rows, AgentRow{UserID: id, Routing: a.routing, Presence: a.presence, InStatus: max(0, now.Sub(a.since).Seconds()), Queues: a.queues})
		queues := a.queues
		if len(queues) == 0 {
			queues = []string{""}
		}
		for _, q := range queues {
			c := counts[q]
			if c == nil {
				c = &QueueAgents{QueueID: q}
				counts[q] = c
			}
			switch a.routing {
			case "off_queue":
				c.OffQueue++
				continue
			case "idle":
				c.Idle++
			case "interacting":
				c.Interacting++
			case "communicating":
				c.Communicating++
			case "not_responding":
				c.NotResponding++
			}
			c.OnQueue++
		}
	}
	var out []QueueAgents
	for _, c := range counts {
		out = append(out, *c)
	}
	return rows, out
}

// nameAgents fills in names (outside b.mu: a lookup may be started) and
// sorts, agents by name and queues by name.
func (b *Board) nameAgents(rows []AgentRow, counts []QueueAgents) {
	for i := range rows {
		r := &rows[i]
		r.Name = b.users.name(r.UserID)
		names := make([]string, len(r.Queues))
		for j, q := range r.Queues {
			names[j] = b.names.name(q)
		}
		r.Queues = names
	}
	slices.SortFunc(rows, func(a, b AgentRow) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.UserID, b.UserID)) })
	for i := range counts {
		counts[i].QueueName = b.names.name(counts[i].QueueID)
	}
	slices.SortFunc(counts, func(a, b QueueAgents) int {
		return cmp.Or(cmp.Compare(a.QueueName, b.QueueName), cmp.Compare(a.QueueID, b.QueueID))
	})
}
