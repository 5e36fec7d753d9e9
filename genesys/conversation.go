package genesys

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// Conversation is the conversation snapshot Genesys sends in the eventBody of
// a conversation topic, and returns from GET /api/v2/conversations/{id}.
// Only the fields the bridge uses are decoded; states are open strings.
type Conversation struct {
	ID           string        `json:"id"`
	Participants []Participant `json:"participants"`
}

// Participant is one party of a conversation. Purpose is a free string
// (customer, external, agent, user, acd, ivr, workflow, voicemail, ...).
type Participant struct {
	ID             string          `json:"id"`
	Purpose        string          `json:"purpose"`
	QueueID        string          `json:"queueId,omitempty"`
	UserID         string          `json:"userId,omitempty"`
	StartTime      string          `json:"startTime,omitempty"`
	ConnectedTime  string          `json:"connectedTime,omitempty"`
	EndTime        string          `json:"endTime,omitempty"`
	StartAcwTime   string          `json:"startAcwTime,omitempty"`
	EndAcwTime     string          `json:"endAcwTime,omitempty"`
	WrapupRequired bool            `json:"wrapupRequired,omitempty"`
	Wrapup         json.RawMessage `json:"wrapup,omitempty"`

	Calls             []Communication `json:"calls,omitempty"`
	Callbacks         []Communication `json:"callbacks,omitempty"`
	Chats             []Communication `json:"chats,omitempty"`
	Emails            []Communication `json:"emails,omitempty"`
	Messages          []Communication `json:"messages,omitempty"`
	Videos            []Communication `json:"videos,omitempty"`
	Cobrowsesessions  []Communication `json:"cobrowsesessions,omitempty"`
	Screenshares      []Communication `json:"screenshares,omitempty"`
	SocialExpressions []Communication `json:"socialExpressions,omitempty"`
}

// Communication is one media session of a participant.
type Communication struct {
	ID                string `json:"id,omitempty"`
	State             string `json:"state"`
	Held              bool   `json:"held,omitempty"`
	StartAlertingTime string `json:"startAlertingTime,omitempty"`
	ConnectedTime     string `json:"connectedTime,omitempty"`
	DisconnectedTime  string `json:"disconnectedTime,omitempty"`
	StartHoldTime     string `json:"startHoldTime,omitempty"`
	DisconnectType    string `json:"disconnectType,omitempty"`
}

// media lists a participant's communication arrays with their channel type,
// in the order that decides a conversation's channel: a callback
// conversation also carries calls, and cobrowse or screen share ride on top
// of another medium, so they rank last.
func (p *Participant) media() [9]struct {
	ch    bridge.ChannelType
	comms []Communication
} {
	return [9]struct {
		ch    bridge.ChannelType
		comms []Communication
	}{
		{bridge.ChannelCallback, p.Callbacks},
		{bridge.ChannelVoice, p.Calls},
		{bridge.ChannelChat, p.Chats},
		{bridge.ChannelEmail, p.Emails},
		{bridge.ChannelMessage, p.Messages},
		{bridge.ChannelVideo, p.Videos},
		{bridge.ChannelSocial, p.SocialExpressions},
		{bridge.ChannelCobrowse, p.Cobrowsesessions},
		{bridge.ChannelScreenshare, p.Screenshares},
	}
}

// role is how the status rules see a participant.
type role int

const (
	roleOther role = iota
	roleAgent      // agent, user
	roleACD        // acd
	roleIVR        // ivr, workflow, flow
)

func roleOf(purpose string) role {
	switch strings.ToLower(purpose) {
	case "agent", "user":
		return roleAgent
	case "acd":
		return roleACD
	case "ivr", "workflow", "flow":
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

// times are a participant's and its communications' parsed timestamps.
type commTimes struct {
	phase                       phase
	alerting, connected, discon time.Time
	holdStart                   time.Time
}

type partTimes struct {
	role                    role
	start, connected, end   time.Time
	endAcw                  time.Time
	wrapupRequired, wrapped bool
	comms                   []commTimes
}

// Derive turns a conversation snapshot into a bridge event: its channel
// type, the statuses its timestamps prove (Steps) and its status now.
//
// The status rules, first match wins, evaluated on the states now and, for
// Steps, on the states each timestamp implies:
//  1. an agent (purpose agent or user) is connected: connected, or held if
//     that communication is held (or parked, for email);
//  2. an agent is alerting, offering, contacting or dialing: ringing;
//  3. an acd participant is active: queued (the customer waits on a queue);
//  4. an ivr, workflow or flow participant is active: ivr;
//  5. an agent whose communications all ended has wrapupRequired and no
//     wrap-up yet (no wrapup, or endAcwTime not reached): wrapup;
//  6. every communication ended: completed;
//  7. otherwise (a customer alone, unknown states): no status; the
//     snapshot yields no step.
//
// Unknown purposes and states never fail: they only count as active.
func Derive(c *Conversation, observedAt time.Time) (bridge.Event, error) {
	ev := bridge.Event{InteractionID: c.ID, ObservedAt: observedAt}
	if len(c.Participants) == 0 {
		return ev, fmt.Errorf("conversation %s has no participants", c.ID)
	}
	ev.ChannelType = channelOf(c)
	if ev.ChannelType == "" {
		return ev, fmt.Errorf("conversation %s has no communication in any known media", c.ID)
	}
	parts := make([]partTimes, len(c.Participants))
	var points []time.Time
	for i := range c.Participants {
		p := &c.Participants[i]
		pt := &parts[i]
		pt.role = roleOf(p.Purpose)
		pt.wrapupRequired = p.WrapupRequired
		pt.wrapped = len(p.Wrapup) > 0 && string(p.Wrapup) != "null"
		var err error
		for _, f := range []struct {
			name string
			raw  string
			dst  *time.Time
		}{
			{"startTime", p.StartTime, &pt.start},
			{"connectedTime", p.ConnectedTime, &pt.connected},
			{"endTime", p.EndTime, &pt.end},
			{"endAcwTime", p.EndAcwTime, &pt.endAcw},
		} {
			if *f.dst, err = parseTime(f.raw); err != nil {
				return ev, fmt.Errorf("participant %d %s: %w", i, f.name, err)
			}
			points = appendTime(points, *f.dst)
		}
		acw, err := parseTime(p.StartAcwTime)
		if err != nil {
			return ev, fmt.Errorf("participant %d startAcwTime: %w", i, err)
		}
		points = appendTime(points, acw)
		for _, m := range p.media() {
			for j := range m.comms {
				cm := &m.comms[j]
				ct := commTimes{phase: phaseOf(cm)}
				for _, f := range []struct {
					name string
					raw  string
					dst  *time.Time
				}{
					{"startAlertingTime", cm.StartAlertingTime, &ct.alerting},
					{"connectedTime", cm.ConnectedTime, &ct.connected},
					{"disconnectedTime", cm.DisconnectedTime, &ct.discon},
					{"startHoldTime", cm.StartHoldTime, &ct.holdStart},
				} {
					if *f.dst, err = parseTime(f.raw); err != nil {
						return ev, fmt.Errorf("participant %d %s[%d] %s: %w", i, m.ch, j, f.name, err)
					}
				}
				points = appendTime(points, ct.alerting)
				points = appendTime(points, ct.connected)
				points = appendTime(points, ct.discon)
				pt.comms = append(pt.comms, ct)
			}
		}
		ev.Detail = append(ev.Detail, detail(p))
	}

	slices.SortFunc(points, time.Time.Compare)
	points = slices.CompactFunc(points, time.Time.Equal)
	for _, t := range points {
		s, _ := statusAt(parts, t, false)
		if s == "" {
			continue
		}
		if n := len(ev.Steps); n > 0 && ev.Steps[n-1].Status == s {
			continue
		}
		ev.Steps = append(ev.Steps, bridge.Step{Status: s, At: t})
	}
	if len(points) > 0 {
		ev.Horizon = points[len(points)-1]
	}
	var holdStart time.Time
	ev.Status, holdStart = statusAt(parts, time.Time{}, true)
	if ev.Status == "" {
		if len(ev.Steps) == 0 {
			return ev, errNoStatus
		}
		ev.Status = ev.Steps[len(ev.Steps)-1].Status
	}
	if ev.Status == bridge.StatusHeld {
		ev.StatusAt = holdStart
	}
	return ev, nil
}

var errNoStatus = fmt.Errorf("no canonical status can be derived")

func appendTime(ts []time.Time, t time.Time) []time.Time {
	if t.IsZero() {
		return ts
	}
	return append(ts, t)
}

// statusAt applies the rules to the states at time t (from timestamps), or
// to the states now (from state strings) when now is true. For held it
// also returns the hold's start.
func statusAt(parts []partTimes, t time.Time, now bool) (bridge.Status, time.Time) {
	var sig signals
	for i := range parts {
		p := &parts[i]
		allEnded, anyComm := true, false
		for j := range p.comms {
			c := &p.comms[j]
			ph := c.phase
			if !now {
				ph = phaseAtTime(p, c, t)
			}
			if ph == phaseAbsent {
				continue
			}
			anyComm, sig.existed = true, true
			if ph != phaseEnded {
				sig.active, allEnded = true, false
			}
			switch p.role {
			case roleAgent:
				switch ph {
				case phaseConnected:
					sig.connected = true
				case phaseHeld:
					sig.held = true
					if c.holdStart.After(sig.holdStart) {
						sig.holdStart = c.holdStart
					}
				case phaseAlerting:
					sig.ringing = true
				}
			case roleACD:
				sig.queued = sig.queued || ph != phaseEnded
			case roleIVR:
				sig.ivr = sig.ivr || ph != phaseEnded
			}
		}
		if p.role == roleAgent && anyComm && allEnded && p.wrapupRequired {
			done := p.wrapped
			if !now {
				done = !p.endAcw.IsZero() && !t.Before(p.endAcw)
			}
			sig.wrapup = sig.wrapup || !done
		}
	}
	return sig.status()
}

// signals are what the status rules look at, gathered from a snapshot or
// from analytics segments.
type signals struct {
	connected, held, ringing bool // an agent's communication
	queued, ivr              bool // an active acd / ivr participant
	wrapup                   bool // an agent owes a wrap-up
	existed, active          bool // any communication started / still active
	holdStart                time.Time
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

// phaseAtTime reconstructs a communication's phase at t from timestamps
// alone. Hold has no lasting timestamp, so a connected communication is
// never held in the past.
func phaseAtTime(p *partTimes, c *commTimes, t time.Time) phase {
	discon := c.discon
	if discon.IsZero() {
		discon = p.end
	}
	connected := c.connected
	if connected.IsZero() && p.role != roleAgent {
		connected = p.connected
	}
	alerting := c.alerting
	if alerting.IsZero() && p.role == roleAgent {
		alerting = p.start
	}
	switch {
	case !discon.IsZero() && !t.Before(discon):
		return phaseEnded
	case !connected.IsZero() && !t.Before(connected):
		return phaseConnected
	case !alerting.IsZero() && !t.Before(alerting):
		if p.role == roleAgent {
			return phaseAlerting
		}
		return phaseActive
	}
	return phaseAbsent
}

func channelOf(c *Conversation) bridge.ChannelType {
	best := -1
	for i := range c.Participants {
		for rank, m := range c.Participants[i].media() {
			if len(m.comms) > 0 && (best == -1 || rank < best) {
				best = rank
			}
		}
	}
	if best == -1 {
		return ""
	}
	var p Participant
	return p.media()[best].ch
}

// detail renders "purpose:state" of a participant's first communication,
// restricted to a safe alphabet so that nothing hostile reaches consumers.
func detail(p *Participant) string {
	state := "none"
	for _, m := range p.media() {
		if len(m.comms) > 0 {
			state = m.comms[0].State
			if m.comms[0].Held {
				state = "held"
			}
			break
		}
	}
	return safeToken(p.Purpose, 32) + ":" + safeToken(state, 32)
}

func safeToken(s string, n int) string {
	if s == "" {
		return "unknown"
	}
	if len(s) > n {
		s = s[:n]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return "invalid"
		}
	}
	return s
}

// parseTime parses a Genesys ISO-8601 timestamp; "" is the zero time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q is not RFC 3339", truncate(s, 40))
	}
	return t, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
