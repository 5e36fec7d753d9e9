package bridge

import (
	"slices"
	"time"
)

// An agent's state lives in the same Machine as the interactions, apart
// (Machine.agents), so the engine owns, holds after a gap, restores,
// compare-and-sets and orders agents exactly as it does interactions. An
// agent never completes and is never swept: the configured agents are a
// bounded set (thousands), and each is always open, so it waits for the
// history of every gap.

// agent is a Machine's record of one agent.
type agent struct {
	state State // state.Agent is set
	owned bool
	// detached: the Machine no longer holds this record (replaced by
	// Restore).
	detached bool
}

// applyAgent applies an agent's observation (ev.Agent):
//  1. A live observation whose last step is before the last step applied
//     is stale.
//  2. Each step timed after the last step applied (by more than
//     CrossSourceTolerance for a back-filled one, whose clock differs)
//     sets the parts it times; when the pair of routing status and
//     presence it leaves differs from the applied pair, that is a
//     transition, stamped no earlier than the one before it (every step
//     but the observation's last is Reconstructed).
//  3. On the first observation of an agent, steps that leave a part
//     unknown (a live frame times its presence before its routing status)
//     only gather: the first transition is to the first complete pair.
//
// The presence definition and the active queues are the observation's
// "now": they go with its last step's transition, and into the state.
func (m *Machine) applyAgent(ev *Event, out []Transition) ([]Transition, Verdict) {
	id, obs := ev.InteractionID, ev.Agent
	rec := m.agents[id]
	if rec == nil {
		rec = &agent{state: State{Agent: &AgentState{}}}
		m.agents[id] = rec
	}
	st := &rec.state
	last := obs.Steps[len(obs.Steps)-1].At
	if !ev.Backfilled && last.Before(st.StepAt) {
		return out, VerdictStale
	}
	after := st.StepAt
	if ev.Backfilled && !after.IsZero() {
		after = after.Add(CrossSourceTolerance)
	}
	a := *st.Agent
	routing, presence := a.Routing, a.Presence
	n := len(out)
	for i, s := range obs.Steps {
		if !s.At.After(after) {
			continue
		}
		if s.Routing != "" {
			routing = s.Routing
		}
		if s.Presence != "" {
			presence = s.Presence
		}
		final := i == len(obs.Steps)-1
		if final {
			if obs.PresenceID != "" {
				a.PresenceID = obs.PresenceID
			}
			if obs.QueuesKnown {
				a.Queues = slices.Clone(obs.Queues)
			}
		}
		if routing == "" || presence == "" {
			continue // a first observation's part not known yet
		}
		st.StepAt = s.At
		if ev.Backfilled {
			st.StepAt = s.At.Add(CrossSourceTolerance)
		}
		if routing == a.Routing && presence == a.Presence {
			continue
		}
		out = m.emitAgent(out, st, &a, ev, routing, presence, s.At, !final)
	}
	if len(out) == n {
		if a.PresenceID != st.Agent.PresenceID || !slices.Equal(a.Queues, st.Agent.Queues) {
			// The queues or the organization presence changed, not the
			// pair: no transition; the next one carries them.
			st.Agent = &a
		}
		return out, VerdictUnchanged
	}
	return out, VerdictApplied
}

// emitAgent appends the agent's transition from a's pair to (routing,
// presence) at occurred, and makes it the state.
func (m *Machine) emitAgent(out []Transition, st *State, a *AgentState, ev *Event, routing RoutingStatus, presence Presence, occurred time.Time, reconstructed bool) []Transition {
	if occurred.Before(a.Since) {
		occurred = a.Since // never before the transition it follows
	}
	c := &AgentChange{FromRouting: a.Routing, FromPresence: a.Presence, ToRouting: routing, ToPresence: presence,
		PresenceID: a.PresenceID, Queues: a.Queues}
	if a.Routing != "" && !a.Since.IsZero() {
		c.InPrevious = occurred.Sub(a.Since)
	}
	st.Seq++
	a.Routing, a.Presence, a.Since = routing, presence, occurred
	next := *a
	st.Agent = &next
	return append(out, Transition{
		ID:            AgentTransitionID(ev.InteractionID, st.Seq, c),
		InteractionID: ev.InteractionID,
		OccurredAt:    occurred,
		ObservedAt:    ev.ObservedAt,
		Reconstructed: reconstructed,
		Backfilled:    ev.Backfilled,
		Agent:         c,
		State:         *st,
	})
}

// AgentIDs lists the agents held (every one is open: each may change in
// any gap).
func (m *Machine) AgentIDs() []string {
	ids := make([]string, 0, len(m.agents))
	for id := range m.agents {
		ids = append(ids, id)
	}
	return ids
}

func (m *Machine) restoreAgent(id string, s State) {
	a := *s.Agent
	s.Agent = &a
	if old := m.agents[id]; old != nil {
		old.detached = true
	}
	m.agents[id] = &agent{state: s}
}
