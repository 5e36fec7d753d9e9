package bridge

import (
	"fmt"
	"strings"

	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// Status is the canonical status of an interaction. The set is closed: every
// value is a safe NATS subject token, so a Status can go into a subject as is.
type Status string

// The canonical statuses, in the order an interaction usually passes them.
const (
	StatusIVR       Status = "ivr"       // the customer is in an IVR or flow before any queue
	StatusQueued    Status = "queued"    // the customer waits on a queue (acd participant)
	StatusRinging   Status = "ringing"   // an agent is being alerted or is dialling
	StatusConnected Status = "connected" // an agent is connected
	StatusHeld      Status = "held"      // the connected agent has the customer on hold
	StatusWrapup    Status = "wrapup"    // the interaction ended; an agent's wrap-up is pending
	StatusCompleted Status = "completed" // everything ended, no wrap-up pending
)

// Statuses lists every canonical status.
var Statuses = []Status{StatusIVR, StatusQueued, StatusRinging, StatusConnected, StatusHeld, StatusWrapup, StatusCompleted}

// ParseStatus accepts a canonical status name, case-insensitively.
func ParseStatus(s string) (Status, error) {
	if v, ok := LookupStatus(s); ok {
		return v, nil
	}
	return "", fmt.Errorf("unknown status %q (want one of %s)", text.Truncate(s, 64), joinValues(Statuses))
}

// ChannelType is the medium of an interaction. Like Status, the set is closed
// and every value is a safe subject token.
type ChannelType string

// The channel types.
const (
	ChannelVoice       ChannelType = "voice"
	ChannelChat        ChannelType = "chat"
	ChannelEmail       ChannelType = "email"
	ChannelMessage     ChannelType = "message"
	ChannelCallback    ChannelType = "callback"
	ChannelVideo       ChannelType = "video"
	ChannelCobrowse    ChannelType = "cobrowse"
	ChannelScreenshare ChannelType = "screenshare"
	ChannelSocial      ChannelType = "social"
)

// ChannelTypes lists every channel type.
var ChannelTypes = []ChannelType{ChannelVoice, ChannelChat, ChannelEmail, ChannelMessage, ChannelCallback, ChannelVideo, ChannelCobrowse, ChannelScreenshare, ChannelSocial}

// ParseChannelType accepts a channel type name, case-insensitively.
func ParseChannelType(s string) (ChannelType, error) {
	if v, ok := LookupChannelType(s); ok {
		return v, nil
	}
	return "", fmt.Errorf("unknown channel type %q (want one of %s)", text.Truncate(s, 64), joinValues(ChannelTypes))
}

func joinValues[T ~string](vs []T) string {
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(v))
	}
	return b.String()
}

// Filter selects which transitions are published. An empty set selects all.
type Filter struct {
	ChannelTypes []ChannelType
	Statuses     []Status
}

// Match reports whether a transition on channel c into status s passes.
func (f Filter) Match(c ChannelType, s Status) bool {
	return (len(f.ChannelTypes) == 0 || contains(f.ChannelTypes, c)) &&
		(len(f.Statuses) == 0 || contains(f.Statuses, s))
}

func contains[T comparable](vs []T, v T) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

// LookupStatus is ParseStatus without the error: s does not escape, so a
// caller may pass string(b) of a byte slice without allocating.
func LookupStatus(s string) (Status, bool) { return lookup(Statuses, s) }

// LookupChannelType is ParseChannelType without the error, like LookupStatus.
func LookupChannelType(s string) (ChannelType, bool) { return lookup(ChannelTypes, s) }

func lookup[T ~string](set []T, s string) (T, bool) {
	for _, v := range set {
		if string(v) == s {
			return v, true
		}
	}
	for _, v := range set {
		if strings.EqualFold(s, string(v)) {
			return v, true
		}
	}
	return "", false
}

// HasAgent reports whether an agent handles an interaction in status s
// (ringing, connected, held, wrapup): the statuses a transition names the
// agent of.
func (s Status) HasAgent() bool {
	switch s {
	case StatusRinging, StatusConnected, StatusHeld, StatusWrapup:
		return true
	}
	return false
}
