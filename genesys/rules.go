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
	switch strings.ToLower(purpose) {
	case "agent", "user":
		return roleAgent
	case "acd":
		return roleACD
	case "ivr", "workflow", "flow", "botflow", "digitalbotflow", "voicesurveyflow", "voicemail":
		return roleIVR
	}
	return roleOther
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

func phaseOf(c *Communication) phase {
	switch strings.ToLower(c.State) {
	case "disconnected", "terminated":
		return phaseEnded
	case "alerting", "offering", "contacting", "dialing":
		return phaseAlerting
	case "connected":
		if c.Held {
			return phaseHeld
		}
		return phaseConnected
	case "parked":
		return phaseHeld
	}
	return phaseActive
}

// sortedUnique sorts times and drops repeats.
func sortedUnique(ts []time.Time) []time.Time {
	slices.SortFunc(ts, time.Time.Compare)
	return slices.CompactFunc(ts, time.Time.Equal)
}

// finish is the end both derivations share: a step at each of the sorted
// points where the status (by statusAt) changes, the status now (the last
// step's when the rules give none now) and, for held, when the hold began.
func finish(ev *bridge.Event, points []time.Time, statusAt func(t time.Time, now bool) (bridge.Status, time.Time)) error {
	for _, t := range points {
		s, _ := statusAt(t, false)
		if s == "" || (len(ev.Steps) > 0 && ev.Steps[len(ev.Steps)-1].Status == s) {
			continue
		}
		ev.Steps = append(ev.Steps, bridge.Step{Status: s, At: t})
	}
	var holdStart time.Time
	ev.Status, holdStart = statusAt(time.Time{}, true)
	if ev.Status == "" {
		if len(ev.Steps) == 0 {
			return errNoStatus
		}
		ev.Status = ev.Steps[len(ev.Steps)-1].Status
	}
	if ev.Status == bridge.StatusHeld {
		ev.StatusAt = holdStart
	}
	return nil
}

var errNoStatus = fmt.Errorf("no canonical status can be derived")

func appendTime(ts []time.Time, t time.Time) []time.Time {
	if t.IsZero() {
		return ts
	}
	return append(ts, t)
}

// earliest is the earlier of two times, ignoring zero ones.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// signals are what the status rules look at, gathered from a snapshot or
// from analytics segments.
type signals struct {
	connected, held, ringing bool // an agent's communication
	queued, ivr              bool // an active acd / automated participant
	wrapup                   bool // an agent owes a wrap-up
	existed, active          bool // any communication started / still active
	holdStart                time.Time
}

// observe records one communication (or segment) of a participant with
// role r in phase ph.
func (s *signals) observe(r role, ph phase, holdStart time.Time) {
	s.existed = true
	if ph == phaseEnded {
		return
	}
	s.active = true
	switch r {
	case roleAgent:
		switch ph {
		case phaseConnected:
			s.connected = true
		case phaseHeld:
			s.held = true
			if holdStart.After(s.holdStart) {
				s.holdStart = holdStart
			}
		case phaseAlerting:
			s.ringing = true
		}
	case roleACD:
		s.queued = true
	case roleIVR:
		s.ivr = true
	}
}

// status applies the rules (see Derive), first match wins. For held it
// also returns the hold's start.
func (s signals) status() (bridge.Status, time.Time) {
	switch {
	case s.connected:
		return bridge.StatusConnected, time.Time{}
	case s.held:
		return bridge.StatusHeld, s.holdStart
	case s.ringing:
		return bridge.StatusRinging, time.Time{}
	case s.queued:
		return bridge.StatusQueued, time.Time{}
	case s.ivr:
		return bridge.StatusIVR, time.Time{}
	case s.wrapup:
		return bridge.StatusWrapup, time.Time{}
	case s.existed && !s.active:
		return bridge.StatusCompleted, time.Time{}
	}
	return "", time.Time{}
}
