package bridge

import (
	"fmt"
	"strings"

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

// LookupPresence accepts Genesys's spelling (ON_QUEUE) or the bridge's
// (on_queue), case-insensitively.
func LookupPresence(s string) (Presence, bool) { return lookup(Presences, s) }

// ParsePresence is LookupPresence with an error that names the values it
// accepts.
func ParsePresence(s string) (Presence, error) {
	if v, ok := LookupPresence(s); ok {
		return v, nil
	}
	return "", fmt.Errorf("unknown system presence %q (want one of %s)", text.Truncate(s, 64), strings.ToUpper(joinValues(Presences)))
}
