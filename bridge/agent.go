package bridge

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// RoutingStatus is an agent's ACD routing status: Genesys's value in lower
// case (OFF_QUEUE is off_queue). The set is closed and every value is a
// safe NATS subject token, so it can go into an agent transition's subject
// as is (issue 24; docs/agents.md).
type RoutingStatus string

// The routing statuses Genesys defines (AgentActivityChangedTopicRoutingStatus).
const (
	RoutingOffQueue      RoutingStatus = "off_queue"      // not on queue: no interaction is routed to the agent
	RoutingIdle          RoutingStatus = "idle"           // on queue, free for the next interaction
	RoutingInteracting   RoutingStatus = "interacting"    // on queue, handling a routed interaction
	RoutingNotResponding RoutingStatus = "not_responding" // an offer timed out; nothing is routed until the agent is back
	RoutingCommunicating RoutingStatus = "communicating"  // on queue, busy with a non-routed interaction
)

// RoutingStatuses lists every routing status.
var RoutingStatuses = []RoutingStatus{RoutingOffQueue, RoutingIdle, RoutingInteracting, RoutingNotResponding, RoutingCommunicating}

// LookupRoutingStatus accepts Genesys's spelling (OFF_QUEUE) or the
// bridge's (off_queue), case-insensitively.
func LookupRoutingStatus(s string) (RoutingStatus, bool) { return lookup(RoutingStatuses, s) }

// ParseRoutingStatus is LookupRoutingStatus with an error that names the
// values it accepts.
func ParseRoutingStatus(s string) (RoutingStatus, error) {
	if v, ok := LookupRoutingStatus(s); ok {
		return v, nil
	}
	return "", fmt.Errorf("unknown routing status %q (want one of %s)", text.Truncate(s, 64), strings.ToUpper(joinValues(RoutingStatuses)))
}

// OnQueue reports whether an agent in routing status r is on queue (every
// status but off_queue).
func (r RoutingStatus) OnQueue() bool { return r != RoutingOffQueue && r != "" }

// Presence is an agent's system presence, Genesys's value in lower case
// (ON_QUEUE is on_queue). An organization's own presences each map to one
// of these; the set is closed, and every value a safe subject token.
type Presence string

// The system presences Genesys defines.
const (
	PresenceAvailable Presence = "available"
	PresenceAway      Presence = "away"
	PresenceBusy      Presence = "busy"
	PresenceBreak     Presence = "break"
	PresenceMeal      Presence = "meal"
	PresenceMeeting   Presence = "meeting"
	PresenceTraining  Presence = "training"
	PresenceOnQueue   Presence = "on_queue"
	PresenceOffline   Presence = "offline"
	PresenceIdle      Presence = "idle"
)

// Presences lists every system presence.
var Presences = []Presence{PresenceAvailable, PresenceAway, PresenceBusy, PresenceBreak, PresenceMeal, PresenceMeeting,
	PresenceTraining, PresenceOnQueue, PresenceOffline, PresenceIdle}

// LookupPresence accepts Genesys's spellings (ON_QUEUE in analytics; "On
// Queue" in presence definitions, as an organization's presence list
// recorded from a real org shows) or the bridge's (on_queue),
// case-insensitively.
func LookupPresence(s string) (Presence, bool) {
	if v, ok := lookup(Presences, s); ok || !strings.Contains(s, " ") {
		return v, ok
	}
	return lookup(Presences, strings.ReplaceAll(s, " ", "_"))
}

// ParsePresence is LookupPresence with an error that names the values it
// accepts.
func ParsePresence(s string) (Presence, error) {
	if v, ok := LookupPresence(s); ok {
		return v, nil
	}
	return "", fmt.Errorf("unknown system presence %q (want one of %s)", text.Truncate(s, 64), strings.ToUpper(joinValues(Presences)))
}

// AgentStep is an agent's routing status and presence from At on, as one
// observation proves them; "" for a part the observation does not time at
// At (it is unchanged there).
type AgentStep struct {
	At       time.Time
	Routing  RoutingStatus
	Presence Presence
}

// AgentObservation is what an Event about an agent carries (Event.Agent;
// the Event's InteractionID is then the agent's user id). A live
// activity frame times its routing status and its presence separately
// (one or two steps); a back-filled history has a step at every boundary
// of its routing and presence intervals.
type AgentObservation struct {
	// Steps are in time order.
	Steps []AgentStep
	// PresenceID is the organization presence definition now ("" if the
	// source does not say: analytics names only the system presence).
	PresenceID string
	// Queues are the ids of the queues the agent is active on now, when
	// QueuesKnown (the live frame's activeQueueIds; analytics has none).
	Queues      []string
	QueuesKnown bool
}

// AgentState is the part of State an agent has (State.Agent).
type AgentState struct {
	Routing  RoutingStatus
	Presence Presence
	// Since is when the agent entered the current pair of routing status
	// and presence: the last transition's time.
	Since      time.Time
	PresenceID string
	Queues     []string
}

// AgentChange is the part of a Transition an agent's has
// (Transition.Agent): from and to, each a routing status and a presence
// (from empty on the first transition the bridge sees).
type AgentChange struct {
	FromRouting  RoutingStatus
	FromPresence Presence
	ToRouting    RoutingStatus
	ToPresence   Presence
	PresenceID   string
	Queues       []string
	// InPrevious is how long the agent was in the previous pair (0 when
	// the bridge did not see it begin).
	InPrevious time.Duration
}

// AgentTransitionID is TransitionID for an agent: a hash of the user id,
// the transition's position in the agent's history and its from and to
// pairs, in a namespace of its own.
func AgentTransitionID(userID string, seq uint64, c *AgentChange) string {
	var in [256]byte
	b := append(in[:0], "gba\x00"...)
	b = append(b, userID...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint64(b, seq)
	for _, s := range [...]string{string(c.FromRouting), string(c.FromPresence), string(c.ToRouting), string(c.ToPresence)} {
		b = append(b, s...)
		b = append(b, 0)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

func (o *AgentObservation) validate(id string) error {
	if len(o.Steps) == 0 {
		return reject(ReasonSchema, "agent %s: no routing status or presence", id)
	}
	for i, s := range o.Steps {
		if s.At.IsZero() || !representable(s.At) {
			return reject(ReasonSchema, "agent %s: step %d: %v", id, i, CheckTime(s.At))
		}
		if i > 0 && s.At.Before(o.Steps[i-1].At) {
			return reject(ReasonSchema, "agent %s: steps out of time order", id)
		}
		if s.Routing != "" {
			if _, err := ParseRoutingStatus(string(s.Routing)); err != nil {
				return reject(ReasonSchema, "agent %s: step %d: %v", id, i, err)
			}
		}
		if s.Presence != "" {
			if _, err := ParsePresence(string(s.Presence)); err != nil {
				return reject(ReasonSchema, "agent %s: step %d: %v", id, i, err)
			}
		}
		if s.Routing == "" && s.Presence == "" {
			return reject(ReasonSchema, "agent %s: step %d changes nothing", id, i)
		}
	}
	if o.PresenceID != "" && !ValidRef(o.PresenceID) {
		return reject(ReasonSchema, "agent %s: presence definition id is not a valid id", id)
	}
	for _, q := range o.Queues {
		if !ValidRef(q) {
			return reject(ReasonSchema, "agent %s: active queue id is not a valid id", id)
		}
	}
	return nil
}

// truncated returns the observation's steps at or before t.
func (o *AgentObservation) truncated(t time.Time) (*AgentObservation, bool) {
	out := *o
	out.Steps = nil
	for _, s := range o.Steps {
		if s.At.After(t) {
			break
		}
		out.Steps = append(out.Steps, s)
	}
	return &out, len(out.Steps) > 0
}

// appendAgentJSON is AppendJSON for an agent's transition. Field names are
// stable:
//
//	{"id":"…","userId":"…","fromRoutingStatus":null,"toRoutingStatus":"idle",
//	 "fromPresence":null,"toPresence":"on_queue","presenceDefinitionId":"…",
//	 "activeQueueIds":["…"],"occurredAt":"…","observedAt":"…",
//	 "inPreviousMs":0,"reconstructed":false,"backfilled":false,
//	 "incomplete":false}
//
// presenceDefinitionId is left out when unknown; activeQueueIds is [] when
// none (or not known yet).
func (t *Transition) appendAgentJSON(b []byte) []byte {
	c := t.Agent
	b = append(b, `{"id":`...)
	b = appendString(b, t.ID)
	b = append(b, `,"userId":`...)
	b = appendString(b, t.InteractionID)
	for _, f := range [...]struct{ name, v string }{
		{`,"fromRoutingStatus":`, string(c.FromRouting)}, {`,"toRoutingStatus":`, string(c.ToRouting)},
		{`,"fromPresence":`, string(c.FromPresence)}, {`,"toPresence":`, string(c.ToPresence)},
	} {
		b = append(b, f.name...)
		if f.v == "" {
			b = append(b, "null"...)
		} else {
			b = appendString(b, f.v)
		}
	}
	if c.PresenceID != "" {
		b = append(b, `,"presenceDefinitionId":`...)
		b = appendString(b, c.PresenceID)
	}
	b = append(b, `,"activeQueueIds":`...)
	b = appendStrings(b, c.Queues)
	b = append(b, `,"occurredAt":`...)
	b = appendTime(b, t.OccurredAt)
	b = append(b, `,"observedAt":`...)
	b = appendTime(b, t.ObservedAt)
	b = append(b, `,"inPreviousMs":`...)
	b = strconv.AppendInt(b, c.InPrevious.Milliseconds(), 10)
	b = t.appendMarks(b)
	return append(b, '}')
}
