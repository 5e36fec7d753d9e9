package genesys

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/internal/jsonscan"
)

// commTimes are a communication's phase now and parsed timestamps.
type commTimes struct {
	phase                       phase
	rang                        bool // its initialState says it began alerting
	alerting, connected, discon instant
	holdStart                   instant
}

// partTimes are what the rules need of a participant.
type partTimes struct {
	role           role
	who            Who
	connected, end instant
	acwDone        instant // when after-call work ended, if a timestamp says
	wrapupRequired bool
	placing        bool // the user who placed the call (see originator)
	wrapupDone     bool // a wrap-up was entered or skipped (now)
	coded          bool // a wrap-up object (a code) is present
	skipped        bool // after-call work was skipped (wrapupSkipped, afterCallWork skipped)
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
// Before the rules, timestamps overrule state strings, which lag in real
// frames (settle): a communication with disconnectedTime, or of a
// participant with endTime, has ended; a coded wrap-up done before the
// disconnect is shown a nanosecond after it. A conversation without a
// customer whose first participant is a user was placed by that user
// (originator): its dialing is never ringing, and if the call reaches an
// IVR or a queue that user is the caller, not an agent.
//
// A live frame carries no alerting time (startAlertingTime is GET's): an
// agent's communication that ended without connecting was alerting just
// before (1ns before its disconnectedTime), as was one that connected
// with initialState alerting (real callback frames carry it), and one
// alerting now has been alerting since the snapshot's latest timestamp.
// One that connected with no such evidence is not taken to have rung:
// agents on auto-answer never do (analytics shows no alert segment), and
// a live alerting frame shows the ringing of the others. So every source
// proves the same ringing.
//
// Unknown purposes and states never fail: they only count as active.
func Derive(c *Conversation, observedAt time.Time) (bridge.Event, error) {
	scratch := scratchPool.Get().(*deriveScratch)
	defer scratchPool.Put(scratch)
	return deriveWith(c, observedAt, scratch)
}

// deriveWith is Derive with the working set scratch (kept between
// frames; nothing of it is in the event).
func deriveWith(c *Conversation, observedAt time.Time, scratch *deriveScratch) (bridge.Event, error) {
	ev := bridge.Event{InteractionID: c.ID, ObservedAt: observedAt}
	if len(c.Participants) == 0 {
		return ev, fmt.Errorf("conversation %s has no participants", c.ID)
	}
	ev.ChannelType = channelOf(c)
	if ev.ChannelType == "" {
		return ev, fmt.Errorf("conversation %s has no communication in any known media", c.ID)
	}
	parts := scratch.partsFor(len(c.Participants))
	caller, routed := originator(len(c.Participants), func(i int) string { return c.Participants[i].Purpose })
	points := scratch.points[:0]
	var tc timeCache
	ev.Detail = make([]string, 0, len(c.Participants))
	for i := range c.Participants {
		var err error
		parts[i].placing = i == caller
		if points, err = parts[i].read(&c.Participants[i], points, &tc); err != nil {
			return ev, fmt.Errorf("participant %d %w", i, err)
		}
		if i == caller && routed {
			parts[i].role = roleOther
		}
		ev.Detail = append(ev.Detail, detail(&c.Participants[i]))
	}
	points = sortedUnique(points)
	var horizon instant
	if len(points) > 0 {
		horizon = points[len(points)-1]
		ev.Horizon = horizon.time()
	}
	points = sortedUnique(inferAlerting(parts, horizon, points))
	scratch.points = points[:0] // its capacity, for the next frame
	return ev, finish(&ev, points, func(t instant, now bool) (bridge.Status, instant, Who) { return statusAt(parts, t, now) })
}

// deriveScratch is what Derive needs only while it runs, kept between
// frames (scratchPool) so that a frame allocates little more than the
// event it returns.
type deriveScratch struct {
	parts  []partTimes
	points []instant
}

var scratchPool = sync.Pool{New: func() any { return new(deriveScratch) }}

// partsFor returns n cleared participants, each keeping the capacity of
// its communications from earlier frames.
func (s *deriveScratch) partsFor(n int) []partTimes {
	if cap(s.parts) < n {
		s.parts = append(s.parts[:cap(s.parts)], make([]partTimes, n-cap(s.parts))...)
	}
	parts := s.parts[:n]
	for i := range parts {
		parts[i] = partTimes{comms: parts[i].comms[:0]}
	}
	return parts
}

// timeCache parses the timestamps of one snapshot, each string once: a
// body repeats them (a participant's connectedTime and its
// communication's, its endTime and their disconnectedTime).
type timeCache struct {
	raw [8]string
	t   [8]instant
	n   int
}

// at parses one timestamp field; an error names it.
func (tc *timeCache) at(name, raw string) (instant, error) {
	if raw == "" {
		return 0, nil
	}
	for i := range min(tc.n, len(tc.raw)) {
		// The same string, not only equal bytes: the decoder makes a
		// body's repeated timestamp once (reuse), and comparing the
		// bytes of timestamps that share their first 17 cost more than
		// parsing. Equal bytes in another string are parsed again.
		if unsafe.StringData(tc.raw[i]) == unsafe.StringData(raw) && len(tc.raw[i]) == len(raw) {
			return tc.t[i], nil
		}
	}
	parsed, err := parseTime(raw)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	t := instantOf(parsed)
	i := tc.n % len(tc.raw)
	tc.raw[i], tc.t[i] = raw, t
	tc.n++
	return t, nil
}

// appendTimes appends the instants set to points.
func appendTimes(points []instant, ts ...instant) []instant {
	for _, t := range ts {
		points = appendTime(points, t)
	}
	return points
}

// read takes what the rules need of participant p, and appends its
// timestamps to points. An error names the field (and communication).
func (pt *partTimes) read(p *Participant, points []instant, tc *timeCache) ([]instant, error) {
	pt.role = roleOf(p.Purpose)
	pt.who = whoOf(p.QueueID, p.UserID)
	pt.wrapupRequired = p.WrapupRequired
	pt.coded, pt.skipped = hasObject(p.Wrapup), p.WrapupSkipped
	pt.wrapupDone = pt.coded || pt.skipped
	var startAcw, endAcw instant
	var err error
	if pt.connected, err = tc.at("connectedTime", p.ConnectedTime); err != nil {
		return points, err
	}
	if pt.end, err = tc.at("endTime", p.EndTime); err != nil {
		return points, err
	}
	if startAcw, err = tc.at("startAcwTime", p.StartAcwTime); err != nil {
		return points, err
	}
	if endAcw, err = tc.at("endAcwTime", p.EndAcwTime); err != nil {
		return points, err
	}
	points = appendTimes(points, pt.connected, pt.end, startAcw, endAcw)
	wt, err := wrapupEnd(p.Wrapup)
	if err != nil {
		return points, fmt.Errorf("wrapup: %w", err)
	}
	pt.acwDone = earliest(endAcw, wt)
	points = appendTime(points, wt)
	pt.wrapupDone = pt.wrapupDone || endAcw != 0
	for rank, comms := range p.media() {
		comms := *comms
		for j := range comms {
			if points, err = pt.readComm(&comms[j], points, tc); err != nil {
				return points, fmt.Errorf("%s[%d] %w", mediaTypes[rank].ch, j, err)
			}
		}
	}
	return pt.settle(points), nil
}

// settle applies what timestamps prove over what state strings say, once
// the participant is read: a communication that carries disconnectedTime,
// or of a participant that carries endTime, has ended, whatever its state
// (real frames lag: a callback still "connected" with its disconnectedTime
// and after-call work pending). And a wrap-up follows the communications
// it wraps up: one done before they ended (a code entered during the
// call, a wrap-up skipped at once) is shown for a nanosecond after the
// last of them ended, as analytics shows its wrap-up segment there, so
// every source reveals the same statuses. After-call work skipped shows
// no wrap-up.
func (pt *partTimes) settle(points []instant) []instant {
	var ended instant
	for j := range pt.comms {
		c := &pt.comms[j]
		discon := c.discon
		if discon == 0 {
			discon = pt.end
		}
		if c.alerting != 0 && c.connected == 0 && discon != 0 && discon <= c.alerting {
			// An offer that failed at once (GET: startAlertingTime equal to
			// disconnectedTime): it rang for a nanosecond, as analytics'
			// zero-length alert segment shows.
			discon = c.alerting + 1
			c.discon = discon
			points = append(points, discon)
		}
		if discon != 0 {
			c.phase = phaseEnded
			if discon > ended {
				ended = discon
			}
		}
	}
	if pt.role == roleAgent && pt.wrapupRequired && pt.coded && !pt.skipped && pt.acwDone != 0 && ended != 0 && pt.acwDone <= ended {
		pt.acwDone = ended + 1
		points = append(points, pt.acwDone)
	}
	return points
}

// readComm adds one communication of the participant.
func (pt *partTimes) readComm(cm *Communication, points []instant, tc *timeCache) ([]instant, error) {
	ct := commTimes{phase: phaseOf(cm), rang: phaseOfState(cm.InitialState, false) == phaseAlerting}
	if pt.placing && ct.phase == phaseAlerting {
		ct.phase = phaseActive // placing the call: no agent is alerted
	}
	// Alerting and hold starts are not horizon facts of their own here:
	// alerting is added below (it may be inferred), a hold's start is not
	// forward-only (an unhold clears it).
	var err error
	if ct.alerting, err = tc.at("startAlertingTime", cm.StartAlertingTime); err != nil {
		return points, err
	}
	if ct.holdStart, err = tc.at("startHoldTime", cm.StartHoldTime); err != nil {
		return points, err
	}
	if ct.connected, err = tc.at("connectedTime", cm.ConnectedTime); err != nil {
		return points, err
	}
	if ct.discon, err = tc.at("disconnectedTime", cm.DisconnectedTime); err != nil {
		return points, err
	}
	points = appendTimes(points, ct.connected, ct.discon)
	var acwEnd instant
	if w := cm.AfterCallWork; w != nil {
		switch {
		case strings.EqualFold(w.State, "pending"):
			pt.wrapupRequired = true
		case strings.EqualFold(w.State, "skipped"):
			pt.wrapupDone, pt.skipped = true, true
		case strings.EqualFold(w.State, "complete"), strings.EqualFold(w.State, "notApplicable"):
			pt.wrapupDone = true
		}
		acwStart, err := tc.at("afterCallWork.startTime", w.StartTime)
		if err != nil {
			return points, err
		}
		if acwEnd, err = tc.at("afterCallWork.endTime", w.EndTime); err != nil {
			return points, err
		}
		points = appendTimes(points, acwStart, acwEnd)
	}
	wt, err := wrapupEnd(cm.Wrapup)
	if err != nil {
		return points, fmt.Errorf("wrapup: %w", err)
	}
	if hasObject(cm.Wrapup) {
		pt.wrapupDone, pt.coded = true, true
	}
	pt.acwDone = earliest(pt.acwDone, earliest(acwEnd, wt))
	if pt.placing {
		ct.alerting = 0
	}
	points = appendTime(appendTime(points, ct.alerting), wt)
	pt.comms = append(pt.comms, ct)
	return points, nil
}

// inferAlerting gives a time to the alerting of agents' communications
// that have none (a live frame carries no alerting time): 1ns before they
// ended if they never connected (an offer that ended unanswered rang), or
// before they connected if their initialState says they began alerting;
// horizon if alerting now. One that connected with no such evidence may
// never have rung (an agent on auto-answer: analytics shows no alert
// segment), so no ringing is invented. It appends those times to points.
func inferAlerting(parts []partTimes, horizon instant, points []instant) []instant {
	for i := range parts {
		if parts[i].role != roleAgent || parts[i].placing {
			continue
		}
		for j := range parts[i].comms {
			ct := &parts[i].comms[j]
			switch {
			case ct.alerting != 0:
				continue
			case ct.connected != 0:
				if !ct.rang {
					continue
				}
				ct.alerting = ct.connected - 1
			case ct.discon != 0:
				ct.alerting = ct.discon - 1
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

// hasObject reports whether a raw JSON value is an object (not absent, not
// null).
func hasObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// wrapupEnd returns a wrap-up object's endTime, if any. It reads the
// object without reflection (the notification dialect's hot path), with
// exact member names as the rest of the frame.
func wrapupEnd(raw json.RawMessage) (instant, error) {
	if !hasObject(raw) {
		return 0, nil
	}
	sc := jsonscan.New(raw)
	var end string
	err := sc.Object(func(key []byte) error {
		if string(key) == "endTime" {
			return sc.StringField("endTime", &end)
		}
		return sc.Skip()
	})
	if err == nil {
		err = sc.End()
	}
	if err != nil {
		return 0, fmt.Errorf("not a wrap-up object: %v", err)
	}
	t, err := parseTime(end)
	return instantOf(t), err
}

// statusAt applies the rules to the states at time t (from timestamps), or
// to the states now (from state strings) when now is true. For held it
// also returns the hold's start.
func statusAt(parts []partTimes, t instant, now bool) (bridge.Status, instant, Who) {
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
			sig.observe(p.role, ph, c.holdStart, p.who)
			if ph != phaseEnded {
				allEnded = false
			}
		}
		if p.role == roleAgent && anyComm && allEnded && p.wrapupRequired {
			done := p.wrapupDone
			if !now {
				done = p.acwDone != 0 && t >= p.acwDone
			}
			if !done {
				sig.owesWrapup(p.who)
			}
		}
	}
	return sig.status()
}

// phaseAtTime reconstructs a communication's phase at t from timestamps
// alone. Hold has no lasting timestamp, so a connected communication is
// never held in the past.
func phaseAtTime(p *partTimes, c *commTimes, t instant) phase {
	discon := c.discon
	if discon == 0 {
		discon = p.end
	}
	connected := c.connected
	if connected == 0 && p.role != roleAgent {
		connected = p.connected
	}
	switch {
	case discon != 0 && t >= discon:
		return phaseEnded
	case connected != 0 && t >= connected:
		return phaseConnected
	case p.role == roleAgent && c.alerting != 0 && t >= c.alerting:
		return phaseAlerting
	}
	return phaseAbsent
}
