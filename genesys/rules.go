package genesys

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// The status rules both derivations share (Derive for snapshots, DeriveDetails
// for analytics segments): roles, phases, the signals a moment shows and the
// status they make, and the builder of steps.

// role is how the status rules see a participant.
type role int

const (
	roleOther role = iota
	roleAgent      // agent, user
	roleACD        // acd
	roleIVR        // an automated participant: ivr, flows, bots, surveys, voicemail
)

func roleOf(purpose string) role {
	switch purpose { // as Genesys spells them; any case below
	case "agent", "user":
		return roleAgent
	case "acd":
		return roleACD
	case "ivr", "workflow", "flow", "botflow", "digitalbotflow", "voicesurveyflow", "voicemail":
		return roleIVR
	}
	if lower := strings.ToLower(purpose); lower != purpose {
		return roleOf(lower)
	}
	return roleOther
}

// originator returns the index of the user who placed the conversation,
// -1 if none: a conversation without a customer whose first participant
// (in joining order) is a user. Its dialing is never ringing (no agent is
// alerted: the call is being placed). And when the conversation reaches an
// IVR or a queue (routed), that user called an IVR number and waits like a
// customer (ivr, queued, ringing, ...): it is no agent. A user's own
// outbound or direct call reaches neither, so that user stays the agent.
func originator(n int, purpose func(i int) string) (index int, routed bool) {
	if n == 0 || !strings.EqualFold(purpose(0), "user") {
		return -1, false
	}
	for i := range n {
		switch r := strings.ToLower(purpose(i)); {
		case r == "customer":
			return -1, false
		case roleOf(r) == roleACD || roleOf(r) == roleIVR:
			routed = true
		}
	}
	return 0, routed
}

// phase is a communication's state reduced to what the rules need.
type phase int

const (
	phaseAbsent    phase = iota // not yet started
	phaseActive                 // any state the rules do not single out
	phaseAlerting               // alerting, offering, contacting, dialing
	phaseConnected              // connected
	phaseHeld                   // connected and held, or parked
	phaseEnded                  // disconnected, terminated
)

func phaseOf(c *Communication) phase { return phaseOfState(c.State, c.Held) }

// phaseOfState is the phase of a communication state (its state now, or
// its initialState), held or not.
func phaseOfState(state string, held bool) phase {
	switch state { // as Genesys spells them; any case below
	case "disconnected", "terminated":
		return phaseEnded
	case "alerting", "offering", "contacting", "dialing":
		return phaseAlerting
	case "connected":
		if held {
			return phaseHeld
		}
		return phaseConnected
	case "parked":
		return phaseHeld
	}
	if lower := strings.ToLower(state); lower != state {
		return phaseOfState(lower, held)
	}
	return phaseActive
}

// instant is a moment as the derivations hold it: Unix nanoseconds, 0
// for none. Comparing and copying it costs a fraction of a time.Time's
// (every rule compares times, at every point of a snapshot), and every
// time parseTime accepts (1970 to 2262, bridge.CheckTime) is one.
type instant int64

// instantOf is t as an instant (the zero time is none).
func instantOf(t time.Time) instant {
	if t.IsZero() {
		return 0
	}
	return instant(t.UnixNano())
}

// time is i as a time.Time in UTC (none is the zero time), as parseTime
// returns it.
func (i instant) time() time.Time {
	if i == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(i)).UTC()
}

// sortedUnique sorts instants and drops repeats.
func sortedUnique(ts []instant) []instant {
	if len(ts) > 32 {
		slices.Sort(ts)
		return slices.Compact(ts)
	}
	// A snapshot's few points: insertion sort, dropping repeats as it goes.
	n := 0
	for _, t := range ts {
		i := n
		for i > 0 && t < ts[i-1] {
			i--
		}
		if i > 0 && t == ts[i-1] {
			continue
		}
		copy(ts[i+1:n+1], ts[i:n])
		ts[i] = t
		n++
	}
	return ts[:n]
}

// finish is the end both derivations share: a step at each of the sorted
// points where the status (by statusAt) changes, the status now (the last
// step's when the rules give none now) and, for held, when the hold began.
func finish(ev *bridge.Event, points []instant, statusAt func(t instant, now bool) (bridge.Status, instant, Who)) error {
	ev.Steps = make([]bridge.Step, 0, min(len(points), 8)) // one allocation for most
	for _, t := range points {
		s, _, who := statusAt(t, false)
		if s == "" || (len(ev.Steps) > 0 && ev.Steps[len(ev.Steps)-1].Status == s) {
			continue
		}
		ev.Steps = append(ev.Steps, bridge.Step{Status: s, At: t.time(), Who: who})
	}
	var holdStart instant
	ev.Status, holdStart, ev.Who = statusAt(0, true)
	if ev.Status == "" {
		if len(ev.Steps) == 0 {
			return errNoStatus
		}
		last := ev.Steps[len(ev.Steps)-1]
		ev.Status, ev.Who = last.Status, last.Who
	}
	if ev.Status == bridge.StatusHeld {
		ev.StatusAt = holdStart.time()
	}
	return nil
}

var errNoStatus = fmt.Errorf("no canonical status can be derived")

func appendTime(ts []instant, t instant) []instant {
	if t == 0 {
		return ts
	}
	return append(ts, t)
}

// earliest is the earlier of two instants, ignoring none.
func earliest(a, b instant) instant {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}

// signals are what the status rules look at, gathered from a snapshot or
// from analytics segments, with who and where each status would be.
type signals struct {
	connected, held, ringing bool // an agent's communication
	queued, ivr              bool // an active acd / automated participant
	wrapup                   bool // an agent owes a wrap-up
	existed, active          bool // any communication started / still active
	holdStart                instant
	// The first agent found connected, held, ringing and owing a wrap-up,
	// the queue of the first active acd participant, and the queue of the
	// last participant (in Genesys's order, which is joining order) that
	// had begun and named one: where the interaction was last.
	connectedWho, heldWho, ringingWho, wrapupWho Who
	queuedIn, lastQueue                          string
}

// Who is bridge.Who: the queue and the agent of a status.
type Who = bridge.Who

// whoOf returns the queue and user ids a source gave, each only if it is
// a valid id (otherwise unknown, never a rejection).
func whoOf(queueID, userID string) Who {
	var w Who
	if bridge.ValidRef(queueID) {
		w.QueueID = queueID
	}
	if bridge.ValidRef(userID) {
		w.UserID = userID
	}
	return w
}

// observe records one communication (or segment) of a participant with
// role r in phase ph; w is the participant's queue and user.
func (s *signals) observe(r role, ph phase, holdStart instant, w Who) {
	s.existed = true
	if w.QueueID != "" {
		s.lastQueue = w.QueueID
	}
	if ph == phaseEnded {
		return
	}
	s.active = true
	switch r {
	case roleAgent:
		switch ph {
		case phaseConnected:
			s.connected = true
			first(&s.connectedWho, w)
		case phaseHeld:
			s.held = true
			first(&s.heldWho, w)
			if holdStart > s.holdStart {
				s.holdStart = holdStart
			}
		case phaseAlerting:
			s.ringing = true
			first(&s.ringingWho, w)
		}
	case roleACD:
		s.queued = true
		if s.queuedIn == "" {
			s.queuedIn = w.QueueID
		}
	case roleIVR:
		s.ivr = true
	}
}

// owesWrapup records an agent w that owes a wrap-up.
func (s *signals) owesWrapup(w Who) {
	s.wrapup = true
	first(&s.wrapupWho, w)
}

// first keeps the first agent (with a user id) seen.
func first(dst *Who, w Who) {
	if dst.UserID == "" && w.UserID != "" {
		*dst = w
	}
}

// status applies the rules (see Derive), first match wins. For held it
// also returns the hold's start; and who and where the status is.
func (s signals) status() (bridge.Status, instant, Who) {
	agent := func(w Who) Who {
		if w.QueueID == "" {
			w.QueueID = s.lastQueue
		}
		return w
	}
	where := Who{QueueID: s.lastQueue}
	switch {
	case s.connected:
		return bridge.StatusConnected, 0, agent(s.connectedWho)
	case s.held:
		return bridge.StatusHeld, s.holdStart, agent(s.heldWho)
	case s.ringing:
		return bridge.StatusRinging, 0, agent(s.ringingWho)
	case s.queued:
		if s.queuedIn != "" {
			where.QueueID = s.queuedIn
		}
		return bridge.StatusQueued, 0, where
	case s.ivr:
		return bridge.StatusIVR, 0, where
	case s.wrapup:
		return bridge.StatusWrapup, 0, agent(s.wrapupWho)
	case s.existed && !s.active:
		return bridge.StatusCompleted, 0, where
	}
	return "", 0, Who{}
}
