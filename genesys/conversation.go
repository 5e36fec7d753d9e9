package genesys

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// Conversation is the conversation snapshot Genesys sends in the eventBody of
// a conversation topic, and returns from GET /api/v2/conversations/{id}.
// Only the fields the bridge uses are decoded; states are open strings.
// Fields that only GET carries (participant startTime, communication
// startAlertingTime, wrapupSkipped) are read when present and never needed.
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
	ConnectedTime  string          `json:"connectedTime,omitempty"`
	EndTime        string          `json:"endTime,omitempty"`
	StartAcwTime   string          `json:"startAcwTime,omitempty"`
	EndAcwTime     string          `json:"endAcwTime,omitempty"`
	WrapupRequired bool            `json:"wrapupRequired,omitempty"`
	WrapupSkipped  bool            `json:"wrapupSkipped,omitempty"` // GET only
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
	ID                string          `json:"id,omitempty"`
	State             string          `json:"state"`
	Held              bool            `json:"held,omitempty"`
	StartAlertingTime string          `json:"startAlertingTime,omitempty"` // GET only
	ConnectedTime     string          `json:"connectedTime,omitempty"`
	DisconnectedTime  string          `json:"disconnectedTime,omitempty"`
	StartHoldTime     string          `json:"startHoldTime,omitempty"`
	DisconnectType    string          `json:"disconnectType,omitempty"`
	Wrapup            json.RawMessage `json:"wrapup,omitempty"`
	AfterCallWork     *AfterCallWork  `json:"afterCallWork,omitempty"`
}

// AfterCallWork is a communication's after-call work: state is unknown,
// skipped, pending, complete or notApplicable.
type AfterCallWork struct {
	State     string `json:"state,omitempty"`
	StartTime string `json:"startTime,omitempty"`
	EndTime   string `json:"endTime,omitempty"`
}

// media lists a participant's communication arrays with their channel type,
// in the order that decides a conversation's channel (channelPrecedence).
func (p *Participant) media() [9][]Communication {
	return [9][]Communication{p.Callbacks, p.Calls, p.Chats, p.Emails, p.Messages, p.Videos, p.SocialExpressions, p.Cobrowsesessions, p.Screenshares}
}

// channelPrecedence decides a conversation's channel when a participant has
// several media: a callback conversation also carries calls, and cobrowse
// or screen share ride on top of another medium, so they rank last. The
// analytics media type of each is the name used by DeriveDetails.
var channelPrecedence = [9]struct {
	ch        bridge.ChannelType
	analytics string
}{
	{bridge.ChannelCallback, "callback"},
	{bridge.ChannelVoice, "voice"},
	{bridge.ChannelChat, "chat"},
	{bridge.ChannelEmail, "email"},
	{bridge.ChannelMessage, "message"},
	{bridge.ChannelVideo, "video"},
	{bridge.ChannelSocial, "social"},
	{bridge.ChannelCobrowse, "cobrowse"},
	{bridge.ChannelScreenshare, "screenshare"},
}

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

// commTimes are a communication's phase now and parsed timestamps.
type commTimes struct {
	phase                       phase
	alerting, connected, discon time.Time
	holdStart                   time.Time
}

// partTimes are what the rules need of a participant.
type partTimes struct {
	role           role
	connected, end time.Time
	acwDone        time.Time // when after-call work ended, if a timestamp says
	wrapupRequired bool
	wrapupDone     bool // a wrap-up was entered or skipped (now)
	comms          []commTimes
}

// Derive turns a conversation snapshot into a bridge event: its channel
// type, the statuses its timestamps prove (Steps) and its status now.
//
// The status rules, first match wins, evaluated on the states now and, for
// Steps, on the states each timestamp implies:
//  1. an agent (purpose agent or user) is connected: connected, or held if
//     that communication is held (or parked, for email and messages);
//  2. an agent is alerting, offering, contacting or dialing: ringing;
//  3. an acd participant is active: queued (the customer waits on a queue);
//  4. an automated participant (ivr, workflow, flow, botflow,
//     digitalbotflow, voicesurveyflow, voicemail) is active: ivr;
//  5. an agent whose communications all ended owes a wrap-up (wrapupRequired,
//     or after-call work pending) and has not done it: wrapup. After-call
//     work is done once endAcwTime, afterCallWork.endTime or a wrap-up
//     endTime is reached, or, now, when a wrap-up code is present on the
//     participant or its communication, wrapupSkipped is set, or
//     afterCallWork.state is complete, skipped or notApplicable;
//  6. every communication ended: completed;
//  7. otherwise (a customer alone, unknown states): no status; the
//     snapshot yields no step.
//
// A live frame carries no alerting time (startAlertingTime is GET's): an
// agent's communication that connected or ended without one was alerting
// just before (1ns before its connectedTime, or its disconnectedTime if it
// never connected), and one alerting now has been alerting since the
// snapshot's latest timestamp. So every source proves the same ringing.
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
		var err error
		if points, err = parts[i].read(&c.Participants[i], points); err != nil {
			return ev, fmt.Errorf("participant %d %w", i, err)
		}
		ev.Detail = append(ev.Detail, detail(&c.Participants[i]))
	}
	points = sortedUnique(points)
	if len(points) > 0 {
		ev.Horizon = points[len(points)-1]
	}
	points = sortedUnique(inferAlerting(parts, ev.Horizon, points))
	return ev, finish(&ev, points, func(t time.Time, now bool) (bridge.Status, time.Time) { return statusAt(parts, t, now) })
}

// timeField is one timestamp field to parse into dst.
type timeField struct {
	name, raw string
	dst       *time.Time
}

// parseTimes parses fields and appends the times set to points.
func parseTimes(points []time.Time, fields ...timeField) ([]time.Time, error) {
	for _, f := range fields {
		var err error
		if *f.dst, err = parseTime(f.raw); err != nil {
			return points, fmt.Errorf("%s: %w", f.name, err)
		}
		points = appendTime(points, *f.dst)
	}
	return points, nil
}

// read takes what the rules need of participant p, and appends its
// timestamps to points. An error names the field (and communication).
func (pt *partTimes) read(p *Participant, points []time.Time) ([]time.Time, error) {
	pt.role = roleOf(p.Purpose)
	pt.wrapupRequired = p.WrapupRequired
	pt.wrapupDone = hasObject(p.Wrapup) || p.WrapupSkipped
	var startAcw, endAcw time.Time
	points, err := parseTimes(points, timeField{"connectedTime", p.ConnectedTime, &pt.connected},
		timeField{"endTime", p.EndTime, &pt.end}, timeField{"startAcwTime", p.StartAcwTime, &startAcw},
		timeField{"endAcwTime", p.EndAcwTime, &endAcw})
	if err != nil {
		return points, err
	}
	wt, err := wrapupEnd(p.Wrapup)
	if err != nil {
		return points, fmt.Errorf("wrapup: %w", err)
	}
	pt.acwDone = earliest(endAcw, wt)
	points = appendTime(points, wt)
	pt.wrapupDone = pt.wrapupDone || !endAcw.IsZero()
	for rank, comms := range p.media() {
		for j := range comms {
			if points, err = pt.readComm(&comms[j], points); err != nil {
				return points, fmt.Errorf("%s[%d] %w", channelPrecedence[rank].ch, j, err)
			}
		}
	}
	return points, nil
}

// readComm adds one communication of the participant.
func (pt *partTimes) readComm(cm *Communication, points []time.Time) ([]time.Time, error) {
	ct := commTimes{phase: phaseOf(cm)}
	var acwStart, acwEnd time.Time
	// Alerting and hold starts are not horizon facts of their own here:
	// alerting is added below (it may be inferred), a hold's start is not
	// forward-only (an unhold clears it).
	var err error
	if _, err = parseTimes(nil, timeField{"startAlertingTime", cm.StartAlertingTime, &ct.alerting},
		timeField{"startHoldTime", cm.StartHoldTime, &ct.holdStart}); err != nil {
		return points, err
	}
	fields := []timeField{{"connectedTime", cm.ConnectedTime, &ct.connected}, {"disconnectedTime", cm.DisconnectedTime, &ct.discon}}
	if w := cm.AfterCallWork; w != nil {
		fields = append(fields, timeField{"afterCallWork.startTime", w.StartTime, &acwStart}, timeField{"afterCallWork.endTime", w.EndTime, &acwEnd})
		switch strings.ToLower(w.State) {
		case "pending":
			pt.wrapupRequired = true
		case "complete", "skipped", "notapplicable":
			pt.wrapupDone = true
		}
	}
	if points, err = parseTimes(points, fields...); err != nil {
		return points, err
	}
	wt, err := wrapupEnd(cm.Wrapup)
	if err != nil {
		return points, fmt.Errorf("wrapup: %w", err)
	}
	if hasObject(cm.Wrapup) {
		pt.wrapupDone = true
	}
	pt.acwDone = earliest(pt.acwDone, earliest(acwEnd, wt))
	points = appendTime(appendTime(points, ct.alerting), wt)
	pt.comms = append(pt.comms, ct)
	return points, nil
}

// inferAlerting gives a time to the alerting of agents' communications
// that have none (a live frame carries no alerting time): 1ns before they
// connected, or ended if they never connected; horizon if alerting now.
// It appends those times to points.
func inferAlerting(parts []partTimes, horizon time.Time, points []time.Time) []time.Time {
	for i := range parts {
		if parts[i].role != roleAgent {
			continue
		}
		for j := range parts[i].comms {
			ct := &parts[i].comms[j]
			switch {
			case !ct.alerting.IsZero():
				continue
			case !ct.connected.IsZero():
				ct.alerting = ct.connected.Add(-time.Nanosecond)
			case !ct.discon.IsZero():
				ct.alerting = ct.discon.Add(-time.Nanosecond)
			case ct.phase == phaseAlerting:
				ct.alerting = horizon
			default:
				continue
			}
			points = append(points, ct.alerting)
		}
	}
	return points
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

// hasObject reports whether a raw JSON value is an object (not absent, not
// null).
func hasObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// wrapupEnd returns a wrap-up object's endTime, if any.
func wrapupEnd(raw json.RawMessage) (time.Time, error) {
	if !hasObject(raw) {
		return time.Time{}, nil
	}
	var w struct {
		EndTime string `json:"endTime"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return time.Time{}, fmt.Errorf("not a wrap-up object: %s", jsonErr(err))
	}
	return parseTime(w.EndTime)
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
			anyComm = true
			sig.observe(p.role, ph, c.holdStart)
			if ph != phaseEnded {
				allEnded = false
			}
		}
		if p.role == roleAgent && anyComm && allEnded && p.wrapupRequired {
			done := p.wrapupDone
			if !now {
				done = !p.acwDone.IsZero() && !t.Before(p.acwDone)
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
	switch {
	case !discon.IsZero() && !t.Before(discon):
		return phaseEnded
	case !connected.IsZero() && !t.Before(connected):
		return phaseConnected
	case p.role == roleAgent && !c.alerting.IsZero() && !t.Before(c.alerting):
		return phaseAlerting
	}
	return phaseAbsent
}

func channelOf(c *Conversation) bridge.ChannelType {
	best := -1
	for i := range c.Participants {
		for rank, comms := range c.Participants[i].media() {
			if len(comms) > 0 && (best == -1 || rank < best) {
				best = rank
			}
		}
	}
	if best == -1 {
		return ""
	}
	return channelPrecedence[best].ch
}

// detail renders "purpose:state" of a participant's first communication,
// restricted to a safe alphabet so that nothing hostile reaches consumers.
func detail(p *Participant) string {
	state := "none"
	for _, comms := range p.media() {
		if len(comms) > 0 {
			state = comms[0].State
			if comms[0].Held {
				state = "held"
			}
			break
		}
	}
	return detailToken(p.Purpose, 32) + ":" + detailToken(state, 32)
}

// detailToken bounds a Genesys value (a purpose, a state) for a Detail
// entry: "unknown" when empty, "invalid" when not a plain token.
func detailToken(s string, n int) string {
	if s == "" {
		return "unknown"
	}
	if len(s) > n {
		s = s[:n]
	}
	if !text.IsToken(s) {
		return "invalid"
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
		return time.Time{}, fmt.Errorf("timestamp %q is not RFC 3339", text.Truncate(s, 40))
	}
	return t, nil
}
