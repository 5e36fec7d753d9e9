package simulator

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// Truth is one transition the simulator caused: what a correct bridge
// publishes.
type Truth struct {
	InteractionID string
	Channel       bridge.ChannelType
	From          bridge.Status // "" at the first status
	To            bridge.Status
	At            time.Time
	// QueueID is the queue the conversation is in or was last in; UserID
	// the agent of an agent's status (ringing, connected, held, wrap-up):
	// the first agent in that phase, in joining order.
	QueueID, UserID string
}

// Frame is one change of a conversation, as each source shows it at that
// moment.
type Frame struct {
	ConversationID string
	Channel        bridge.ChannelType
	At             time.Time // the simulated time of the change
	Status         bridge.Status
	// Horizon is the latest forward-only timestamp a live frame carries; a
	// frame with a later horizon provably follows one with an earlier one.
	Horizon time.Time
	// Body is the live notification's eventBody: only the fields of the
	// notification models (no participant startTime, no startAlertingTime).
	Body []byte
	// REST is GET /api/v2/conversations/{id} at this moment: the REST model
	// (participant startTime, communication startAlertingTime,
	// initialState, wrapupSkipped; segments on callbacks).
	REST []byte
	// Details is the conversation as the analytics details query returns it
	// at this moment: participants, sessions and segments, with the
	// conversation's clock difference applied to every boundary.
	Details []byte
	// Topics are the conversation topics the snapshot is published on.
	Topics []string
	// Queue is the queue the conversation is in (or was last in), User the
	// agent of its status (see Truth).
	Queue, User string
	// Start and End (zero while open) bound the conversation's activity in
	// the analytics clock; Queues and Users index it for the analytics query.
	Start, End time.Time
	Queues     []string
	Users      []string
	// untimed marks a frame whose change includes one no live timestamp
	// records (a hold, an unhold, an agent starting to alert).
	untimed bool
	// truth is the index in Script.Truth of the first transition this
	// frame causes, or -1; truths how many it causes (a failed offer:
	// ringing, then back to the queue, in one frame).
	truth, truths int
	// seq is the interactions-dialect sequence, given when the change
	// happens (so a delayed frame goes out with an older sequence); the
	// statuses the change passes through (via) take the ones before it.
	seq int64
	// via are the statuses this change passes through before Status (a
	// failed offer rings, then returns to the queue), with their queue
	// and agent: the interactions dialect sends an event for each.
	via []passed
}

// passed is a status a change passes through.
type passed struct {
	status      bridge.Status
	queue, user string
}

// Script is one generated conversation: its frames in order and the
// transitions they cause.
type Script struct {
	ID      string
	Channel bridge.ChannelType
	// Kind names the way the conversation goes (see Kinds).
	Kind   string
	Frames []Frame
	Truth  []Truth
}

// Kinds are the ways a generated conversation goes.
var Kinds = []string{
	"answered", "abandoned", "transfer", "noanswer", "held-hangup", // the basics
	"acw-code-only", "acw-skipped", // after-call work ended without a participant wrap-up
	"voicemail", "consult", "blind-transfer", "scheduled-callback", "parked", "bot", "survey",
	"long", // a messaging conversation open for hours (only with Config.LongConversations)
	// Shapes recorded from real orgs (testdata/real): an offer that fails at
	// once (a zero-length alert with an errorCode), a wrap-up of 1 ms, an
	// internal user calling an IVR number (no customer), an agent answering
	// without an alert (auto-answer).
	"failed-offer", "wrapup-1ms", "internal", "auto-answer",
}

// Population is the set of queues and agents conversations are drawn from.
type Population struct {
	Queues []string
	Agents []string
}

// NewPopulation makes queue and agent UUIDs deterministically from rng.
func NewPopulation(rng *rand.Rand, queues, agents int) Population {
	var p Population
	for range queues {
		p.Queues = append(p.Queues, uuid(rng))
	}
	for range agents {
		p.Agents = append(p.Agents, uuid(rng))
	}
	return p
}

func uuid(rng *rand.Rand) string {
	a, b := rng.Uint64(), rng.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xfff, (b>>48)&0x3fff|0x8000, b&0xffffffffffff)
}

// GenerateOptions tune Generate.
type GenerateOptions struct {
	// Scale multiplies the waits inside a conversation (default 1: seconds
	// to a minute).
	Scale float64
	// Kind forces the kind of conversation; "" draws one.
	Kind string
	// Long is the chance that a message conversation is a long one (open
	// for hours, times Scale).
	Long float64
}

// Generate writes one conversation on channel ch starting at start (see
// Kinds). Waits between changes are realistic (seconds to a minute) times
// scale.
func Generate(rng *rand.Rand, pop Population, ch bridge.ChannelType, start time.Time, scale float64) *Script {
	return GenerateWith(rng, pop, ch, start, GenerateOptions{Scale: scale})
}

// GenerateWith is Generate with options.
func GenerateWith(rng *rand.Rand, pop Population, ch bridge.ChannelType, start time.Time, o GenerateOptions) *Script {
	if o.Scale <= 0 {
		o.Scale = 1
	}
	b := &builder{rng: rng, scale: o.Scale, pop: pop, now: start.Truncate(time.Millisecond), s: &Script{Channel: ch}}
	b.start = b.now
	b.c.id = uuid(rng)
	b.s.ID = b.c.id
	// The analytics clock differs from the live one by a few milliseconds.
	b.c.skew = time.Duration(rng.IntN(9)-4) * time.Millisecond
	b.queue = pop.Queues[rng.IntN(len(pop.Queues))]
	b.s.Kind = o.Kind
	if b.s.Kind == "" {
		b.s.Kind = drawKind(rng, ch, o.Long)
	}
	b.script()
	return b.s
}

// drawKind picks a kind that fits the channel.
func drawKind(rng *rand.Rand, ch bridge.ChannelType, long float64) string {
	if ch == bridge.ChannelMessage && rng.Float64() < long {
		return "long"
	}
	type share struct {
		kind string
		w    float64
		ok   bool
	}
	voice := ch == bridge.ChannelVoice
	holds := voice || ch == bridge.ChannelCallback
	parks := ch == bridge.ChannelEmail || ch == bridge.ChannelMessage
	digital := ch == bridge.ChannelChat || ch == bridge.ChannelMessage
	shares := []share{
		{"answered", 30, true}, {"abandoned", 10, true}, {"transfer", 8, true}, {"noanswer", 8, true},
		{"held-hangup", 6, holds}, {"acw-code-only", 8, true}, {"acw-skipped", 4, true},
		{"voicemail", 5, voice}, {"consult", 6, voice}, {"blind-transfer", 6, true},
		{"scheduled-callback", 20, ch == bridge.ChannelCallback}, {"parked", 10, parks},
		{"bot", 10, digital}, {"survey", 5, voice},
		{"failed-offer", 5, true}, {"wrapup-1ms", 4, true}, {"internal", 6, voice}, {"auto-answer", 5, true},
	}
	total := 0.0
	for _, s := range shares {
		if s.ok {
			total += s.w
		}
	}
	r := rng.Float64() * total
	for _, s := range shares {
		if !s.ok {
			continue
		}
		if r -= s.w; r < 0 {
			return s.kind
		}
	}
	return "answered"
}

// The conversation model: every field any source shows. Each source's
// rendering (live.go) picks the fields that source really carries.
type conversation struct {
	id    string
	skew  time.Duration // analytics clock minus live clock
	parts []*party
}

type party struct {
	id, purpose, queueID, userID, name string
	start, connected, end              time.Time // start is REST-only
	startAcw, endAcw                   time.Time
	wrapupRequired, wrapupSkipped      bool
	// lagState: the next live frame still shows the communication
	// connected and the participant without endTime, while it already
	// carries disconnectedTime and after-call work pending (recorded from a
	// real org); the frame after it has caught up.
	lagState   bool
	wrapup     *wrapupCode // participant-level: may stay nil
	consult    string      // consultParticipantId
	attributes map[string]string
	media      string // the communication array: calls, chats, ...
	comm       comm
	segs       []segment // the analytics history, live clock
}

type comm struct {
	id, state, initialState, direction string
	held, confined                     bool
	alerting                           time.Time // REST-only startAlertingTime
	connected, disconnected, holdStart time.Time
	disconnectType                     string
	wrapup                             *wrapupCode
	acw                                *afterCallWork
	acwRequired                        bool
	restSegs                           []restSegment // REST segments (callbacks)
}

type wrapupCode struct {
	code    string
	endTime time.Time
}

type afterCallWork struct {
	state      string // pending, complete, skipped
	start, end time.Time
}

type segment struct {
	kind           string
	start, end     time.Time
	queueID        string
	disconnectType string
	wrapUpCode     string
	errorCode      string
}

type restSegment struct {
	kind       string // Scheduled, Alert, Interact (capitalised, as recorded)
	start, end time.Time
	howEnded   string
}

// builder writes one conversation's script step by step.
type builder struct {
	rng    *rand.Rand
	scale  float64
	pop    Population
	s      *Script
	c      conversation
	now    time.Time
	status bridge.Status
	queue  string
	queues []string
	agents []*party
	start  time.Time
	ended  time.Time
	// untimed: the next frame carries a change no live timestamp records.
	untimed bool
	// passed is the agent of a status the next frame passes through.
	passed string
}

// wait advances simulated time by a random duration in [lo, hi] seconds,
// times the scale, and at least ten milliseconds (timestamps have
// millisecond precision, and two changes must stay apart even with the
// analytics clock's difference).
func (b *builder) wait(lo, hi float64) {
	d := (lo + b.rng.Float64()*(hi-lo)) * b.scale
	b.now = b.now.Add(max(10*time.Millisecond, time.Duration(d*1000)*time.Millisecond)).Truncate(time.Millisecond)
}

func (b *builder) chance(p float64) bool { return b.rng.Float64() < p }

// mediaKeys are the communication arrays by channel.
var mediaKeys = map[bridge.ChannelType]string{
	bridge.ChannelVoice:    "calls",
	bridge.ChannelChat:     "chats",
	bridge.ChannelEmail:    "emails",
	bridge.ChannelMessage:  "messages",
	bridge.ChannelCallback: "callbacks",
	bridge.ChannelVideo:    "videos",
}

// sessionMedia are the analytics session media types by channel.
var sessionMedia = map[bridge.ChannelType]string{
	bridge.ChannelVoice: "voice", bridge.ChannelChat: "chat", bridge.ChannelEmail: "email",
	bridge.ChannelMessage: "message", bridge.ChannelCallback: "callback", bridge.ChannelVideo: "video",
}

// add makes a participant whose communication is in state now; connected
// participants open their first analytics segment.
func (b *builder) add(purpose, state string) *party {
	p := &party{id: uuid(b.rng), purpose: purpose, start: b.now, attributes: map[string]string{},
		media: mediaKeys[b.s.Channel], comm: comm{id: uuid(b.rng), state: state, direction: "inbound"}}
	switch state {
	case "connected":
		p.connected, p.comm.connected = b.now, b.now
		b.openSeg(p, segmentFor(purpose))
	case "alerting":
		p.comm.alerting = b.now
		b.openSeg(p, "alert")
		b.untimed = true
	}
	b.c.parts = append(b.c.parts, p)
	return p
}

// segmentFor is the analytics segment type of a connected participant.
func segmentFor(purpose string) string {
	switch purpose {
	case "ivr":
		return "ivr"
	case "voicemail":
		return "voicemail"
	}
	return "interact"
}

func (b *builder) openSeg(p *party, kind string) {
	seg := segment{kind: kind, start: b.now}
	if p.purpose == "acd" || p.purpose == "agent" {
		seg.queueID = b.queue
	}
	p.segs = append(p.segs, seg)
}

func (b *builder) closeSeg(p *party, disconnectType string) {
	if n := len(p.segs); n > 0 && p.segs[n-1].end.IsZero() {
		p.segs[n-1].end = b.now
		p.segs[n-1].disconnectType = disconnectType
	}
}

// end disconnects p's communication.
func (b *builder) end(p *party, disconnectType string) {
	if p.comm.state == "disconnected" {
		return
	}
	p.comm.state, p.comm.disconnected, p.comm.disconnectType = "disconnected", b.now, disconnectType
	p.comm.held, p.comm.holdStart, p.comm.confined = false, time.Time{}, false
	p.end = b.now
	b.closeSeg(p, disconnectType)
}

// emit snapshots the conversation as a frame whose true status is status.
func (b *builder) emit(status bridge.Status) { b.emitVia(status) }

// emitVia snapshots the conversation as a frame that moves the status
// through each of statuses in turn, in one change (a failed offer rings
// and returns to the queue at the same instant). A party whose state lags
// (lagState) shows it in this frame's live body only; the next frame, the
// same change with the state caught up, follows at once.
func (b *builder) emitVia(statuses ...bridge.Status) {
	status := statuses[len(statuses)-1]
	topics := []string{fmt.Sprintf("v2.routing.queues.%s.conversations", b.queue)}
	var users []string
	for _, a := range b.agents {
		topics = append(topics, fmt.Sprintf("v2.users.%s.conversations", a.userID))
		users = append(users, a.userID)
	}
	if !slices.Contains(b.queues, b.queue) {
		b.queues = append(b.queues, b.queue)
	}
	if status == bridge.StatusCompleted {
		b.ended = b.now
	}
	user, queue := b.agentIn(status), ""
	for _, p := range b.c.parts {
		if p.queueID != "" {
			queue = p.queueID // the last participant with a queue: where it is or was last
		}
	}
	f := Frame{ConversationID: b.c.id, Channel: b.s.Channel, At: b.now, Status: status, Horizon: b.c.horizon(), Queue: queue, User: user,
		Body: b.c.live(), REST: b.c.rest(), Details: b.c.details(b.s.Channel, b.start, b.ended, b.now),
		Topics: topics, Start: b.start.Add(b.c.skew), Queues: slices.Clone(b.queues), Users: users, untimed: b.untimed, truth: -1}
	b.untimed = false
	if !b.ended.IsZero() {
		f.End = b.ended.Add(b.c.skew)
	}
	for i, st := range statuses {
		if st == b.status {
			continue
		}
		if f.truth < 0 {
			f.truth = len(b.s.Truth)
		}
		f.truths++
		q, u := queue, user
		if i < len(statuses)-1 { // a status passed through: its agent is the one that left it
			q, u = b.queue, b.passed
			f.via = append(f.via, passed{status: st, queue: q, user: u})
		}
		b.s.Truth = append(b.s.Truth, Truth{InteractionID: b.c.id, Channel: b.s.Channel, From: b.status, To: st, At: b.now,
			QueueID: q, UserID: u})
		b.status = st
	}
	b.s.Frames = append(b.s.Frames, f)
	lagged := false
	for _, p := range b.c.parts {
		lagged = lagged || p.lagState
		p.lagState = false
	}
	if lagged {
		f.Body, f.truth, f.truths, f.untimed = b.c.live(), -1, 0, false
		b.s.Frames = append(b.s.Frames, f)
	}
}

// agentIn returns the user id of the first agent (in joining order) in
// the phase of status, "" for a status without an agent.
func (b *builder) agentIn(status bridge.Status) string {
	for _, a := range b.agents {
		c := &a.comm
		var in bool
		switch status {
		case bridge.StatusConnected:
			in = c.state == "connected" && !c.held
		case bridge.StatusHeld:
			in = c.held || c.state == "parked"
		case bridge.StatusRinging:
			in = c.state == "alerting"
		case bridge.StatusWrapup:
			in = c.state == "disconnected" && c.acw != nil && c.acw.state == "pending"
		}
		if in {
			return a.userID
		}
	}
	return ""
}

// ring alerts a new agent from the current queue and returns it.
func (b *builder) ring() *party {
	a := b.add("agent", "alerting")
	a.userID = b.pop.Agents[b.rng.IntN(len(b.pop.Agents))]
	a.queueID = b.queue
	a.name = "Agent " + a.userID[:4]
	b.agents = append(b.agents, a)
	b.emit(bridge.StatusRinging)
	return a
}

// answer connects agent a and ends the acd participant, if any.
func (b *builder) answer(a *party, acd *party) {
	a.comm.state, a.comm.connected, a.connected = "connected", b.now, b.now
	a.wrapupRequired = true
	b.closeSeg(a, "")
	b.openSeg(a, "interact")
	if acd != nil {
		b.end(acd, "transfer")
	}
	b.emit(bridge.StatusConnected)
}

// autoAnswer connects a new agent at once, with no alert (an agent on
// auto-answer): no alert segment, no startAlertingTime, and no live frame
// shows it alerting. It ends the acd participant, if any.
func (b *builder) autoAnswer(acd *party) *party {
	a := b.add("agent", "connected")
	a.userID = b.pop.Agents[b.rng.IntN(len(b.pop.Agents))]
	a.queueID = b.queue
	a.name = "Agent " + a.userID[:4]
	a.wrapupRequired = true
	b.agents = append(b.agents, a)
	if acd != nil {
		b.end(acd, "transfer")
	}
	b.emit(bridge.StatusConnected)
	return a
}

// hold puts a's communication on hold (an email or message is parked).
func (b *builder) hold(a *party) {
	b.untimed = true
	if a.media == "emails" || a.media == "messages" {
		a.comm.state, a.comm.holdStart = "parked", b.now
		b.closeSeg(a, "")
		b.openSeg(a, "parked")
	} else {
		a.comm.held, a.comm.holdStart = true, b.now
		b.closeSeg(a, "")
		b.openSeg(a, "hold")
	}
	b.emit(bridge.StatusHeld)
}

func (b *builder) unhold(a *party) {
	b.untimed = true
	a.comm.state, a.comm.held, a.comm.holdStart = "connected", false, time.Time{}
	b.closeSeg(a, "")
	b.openSeg(a, "interact")
	b.emit(bridge.StatusConnected)
}

// leave disconnects agent a and starts its after-call work.
func (b *builder) leave(a *party, disconnectType string) { b.leaveAfter(a, disconnectType, 0) }

// leaveAfter is leave whose analytics wrap-up segment starts pause after
// the disconnect (real chats and calls show a pause of up to several
// hundred milliseconds with no open segment; the live frames' after-call
// work starts at the disconnect).
func (b *builder) leaveAfter(a *party, disconnectType string, pause time.Duration) {
	b.end(a, disconnectType)
	a.startAcw = b.now
	a.comm.acw = &afterCallWork{state: "pending", start: b.now}
	b.openSeg(a, "wrapup")
	a.segs[len(a.segs)-1].start = b.now.Add(pause)
}

// failOffer offers the conversation to an agent and the offer fails at
// once: a zero-length alert segment with an errorCode, the agent's
// communication disconnected at the instant it began; the conversation is
// back on the queue.
func (b *builder) failOffer() {
	a := b.add("agent", "alerting")
	a.userID = b.pop.Agents[b.rng.IntN(len(b.pop.Agents))]
	a.queueID = b.queue
	a.name = "Agent " + a.userID[:4]
	b.agents = append(b.agents, a)
	b.end(a, "error")
	seg := &a.segs[len(a.segs)-1]
	seg.disconnectType, seg.errorCode = "", "error.ininedgecontrol.connection.protocol"
	b.untimed = false // the disconnect is timed
	b.passed = a.userID
	b.emitVia(bridge.StatusRinging, bridge.StatusQueued)
	b.passed = ""
}

// finishWrapup ends a's after-call work. The code lands on the
// communication; the participant-level wrapup object is written only when
// participantLevel (real conversations often lack it).
func (b *builder) finishWrapup(a *party, participantLevel bool) {
	code := &wrapupCode{code: "resolved", endTime: b.now}
	a.comm.wrapup = code
	a.comm.acw.state, a.comm.acw.end = "complete", b.now
	a.endAcw = b.now
	if participantLevel {
		a.wrapup = code
	}
	b.closeSeg(a, "")
	if n := len(a.segs); n > 0 && a.segs[n-1].kind == "wrapup" {
		a.segs[n-1].wrapUpCode = code.code
	}
}

// skipWrapup ends a's after-call work at once, without a code.
func (b *builder) skipWrapup(a *party) {
	a.comm.acw.state, a.comm.acw.end = "skipped", b.now
	a.endAcw = b.now
	a.wrapupSkipped = true
	// The wrap-up segment had no length: analytics drops it.
	if n := len(a.segs); n > 0 && a.segs[n-1].kind == "wrapup" {
		a.segs = a.segs[:n-1]
	}
}

// pendingWrapup reports whether any agent still owes a wrap-up.
func (b *builder) pendingWrapup() bool {
	for _, a := range b.agents {
		if a.comm.acw != nil && a.comm.acw.state == "pending" {
			return true
		}
	}
	return false
}

// script writes the conversation of kind b.s.Kind, phase by phase.
func (b *builder) script() {
	customer := b.caller()
	acd := b.enqueue(customer)
	if b.chance(0.3) { // a change that moves no status: attributes set by a flow
		b.wait(0.1, 1)
		customer.attributes["language"] = "en-US"
		b.emit(bridge.StatusQueued)
	}
	b.wait(1, 15)
	if b.unanswered(customer, acd) {
		return
	}
	agent := b.reachAgent(acd)
	b.wait(5, 40)
	agent = b.handle(customer, agent)
	b.hangUp(customer, agent)
	for _, a := range b.agents {
		if a.comm.acw != nil && a.comm.acw.state == "pending" {
			// acw-code-only: the code lands on the communication only.
			b.finishWrapup(a, b.s.Kind != "acw-code-only" && b.chance(0.7))
		}
	}
	if b.pendingWrapup() {
		panic("unreachable: wrap-up left pending")
	}
	b.emit(bridge.StatusCompleted)
}

// caller adds the party that placed the conversation: a customer, or for
// an internal call a user who dials an IVR number (an outbound session
// that dials for a moment, then talks to the IVR; no customer).
func (b *builder) caller() *party {
	if b.s.Kind != "internal" {
		return b.add("customer", "connected")
	}
	c := b.add("user", "connected")
	c.userID = uuid(b.rng)
	c.comm.direction = "outbound"
	dialed := b.now.Add(30 * time.Millisecond)
	c.segs = []segment{{kind: "dialing", start: b.now, end: dialed}, {kind: "interact", start: dialed}}
	c.connected, c.comm.connected = dialed, dialed
	b.now = dialed
	return c
}

// enqueue brings the conversation to its queue and returns the acd
// participant: a scheduled callback waits for its time there; voice
// starts in an IVR, and a bot answers some digital conversations first.
func (b *builder) enqueue(customer *party) *party {
	if b.s.Kind == "scheduled-callback" {
		// The customer's and the acd's legs are connected from the start,
		// initial state scheduled.
		customer.comm.initialState = "scheduled"
		customer.comm.restSegs = []restSegment{{kind: "Scheduled", start: b.now}}
		acd := b.add("acd", "connected")
		acd.queueID = b.queue
		acd.comm.initialState = "scheduled"
		acd.segs[0].kind = "scheduled"
		b.emit(bridge.StatusQueued)
		b.wait(10, 60)
		b.closeSeg(acd, "")
		b.openSeg(acd, "interact")
		customer.comm.restSegs[0].end, customer.comm.restSegs[0].howEnded = b.now, "Routed"
		customer.attributes["scheduled"] = "due"
		b.emit(bridge.StatusQueued)
		return acd
	}
	flow := ""
	switch {
	case b.s.Channel == bridge.ChannelVoice:
		flow = "ivr"
	case b.s.Kind == "bot":
		flow = "botflow"
	}
	if flow != "" {
		f := b.add(flow, "connected")
		b.emit(bridge.StatusIVR)
		b.wait(2, 8)
		b.end(f, "transfer")
	}
	acd := b.add("acd", "connected")
	acd.queueID = b.queue
	b.emit(bridge.StatusQueued)
	return acd
}

// unanswered ends a conversation no agent answers (abandoned, possibly
// while ringing; sent to voicemail) and reports whether it did.
func (b *builder) unanswered(customer, acd *party) bool {
	switch b.s.Kind {
	case "abandoned":
		if b.chance(0.5) {
			a := b.ring()
			b.wait(1, 5)
			b.end(a, "endpoint")
		}
		b.end(customer, "endpoint")
		b.end(acd, "endpoint")
	case "voicemail":
		// Nobody answers in time: the flow sends the caller to voicemail.
		b.end(acd, "transfer")
		vm := b.add("voicemail", "connected")
		b.emit(bridge.StatusIVR)
		b.wait(5, 30)
		b.end(customer, "peer")
		b.end(vm, "peer")
	default:
		return false
	}
	b.emit(bridge.StatusCompleted)
	return true
}

// reachAgent offers the conversation until an agent answers, and returns
// that agent: after a failed offer, after an agent who does not answer, or
// at once on auto-answer.
func (b *builder) reachAgent(acd *party) *party {
	kind := b.s.Kind
	if kind == "failed-offer" {
		b.failOffer()
		b.wait(1, 8)
	}
	if kind == "auto-answer" {
		return b.autoAnswer(acd)
	}
	agent := b.ring()
	b.wait(1, 6)
	if kind == "noanswer" {
		b.end(agent, "noAnswerTransfer")
		b.emit(bridge.StatusQueued)
		b.wait(1, 8)
		agent = b.ring()
		b.wait(1, 6)
	}
	b.answer(agent, acd)
	return agent
}

// handle is the conversation with an agent: open for hours (long), holds
// (parking, for email and messages), a transfer or a consult; it returns
// the agent who has the customer at the end.
func (b *builder) handle(customer, agent *party) *party {
	kind, ch := b.s.Kind, b.s.Channel
	if kind == "long" {
		// A messaging conversation that stays open for hours, parked in
		// between.
		b.wait(1800, 3600)
		b.hold(agent)
		b.wait(3600, 7200)
		b.unhold(agent)
		b.wait(600, 1800)
	}
	canHold := ch == bridge.ChannelVoice || ch == bridge.ChannelCallback ||
		ch == bridge.ChannelEmail || ch == bridge.ChannelMessage
	if canHold && kind != "held-hangup" && kind != "long" {
		n := b.rng.IntN(3)
		if kind == "parked" {
			n = 1 + b.rng.IntN(2)
		}
		for ; n > 0; n-- {
			b.hold(agent)
			b.wait(2, 10)
			b.unhold(agent)
			b.wait(3, 20)
		}
	}
	switch kind {
	case "transfer":
		// Blind transfer back to a queue: the first agent wraps up while the
		// customer waits and rings again.
		b.leave(agent, "transfer")
		acd := b.add("acd", "connected")
		acd.queueID = b.queue
		b.emit(bridge.StatusQueued)
		b.wait(1, 10)
		first := agent
		agent = b.ring()
		b.wait(1, 6)
		b.finishWrapup(first, b.chance(0.5))
		b.emit(bridge.StatusRinging)
		b.wait(0.5, 3)
		b.answer(agent, acd)
		b.wait(5, 30)
	case "blind-transfer":
		// Straight to another agent.
		b.leave(agent, "transfer")
		first := agent
		agent = b.ring()
		b.wait(1, 6)
		b.answer(agent, nil)
		b.wait(1, 5)
		b.finishWrapup(first, b.chance(0.5))
		b.emit(bridge.StatusConnected)
		b.wait(5, 30)
	case "consult":
		agent = b.consult(customer, agent)
	case "held-hangup":
		b.hold(agent)
		b.wait(2, 10)
	}
	return agent
}

// consult: the agent consults a colleague while the customer waits
// confined, then hands over and leaves: the status stays connected. It
// returns the colleague.
func (b *builder) consult(customer, first *party) *party {
	customer.comm.confined = true
	second := b.add("agent", "alerting")
	second.userID = b.pop.Agents[b.rng.IntN(len(b.pop.Agents))]
	second.queueID = b.queue
	second.consult = customer.id
	b.agents = append(b.agents, second)
	b.emit(bridge.StatusConnected)
	b.wait(1, 6)
	second.comm.state, second.comm.connected, second.connected = "connected", b.now, b.now
	second.wrapupRequired = true
	b.closeSeg(second, "")
	b.openSeg(second, "interact")
	b.emit(bridge.StatusConnected)
	b.wait(3, 20)
	customer.comm.confined = false
	b.leave(first, "transfer")
	b.emit(bridge.StatusConnected)
	b.wait(2, 10)
	b.finishWrapup(first, false)
	b.emit(bridge.StatusConnected)
	b.wait(5, 30)
	return second
}

// hangUp ends the talk: the agent leaves and wraps up (after a pause in
// analytics, for 1 ms, skipped, or with a live state that lags), or, with
// a survey, the caller answers a survey flow while the agent wraps up.
func (b *builder) hangUp(customer, agent *party) {
	kind := b.s.Kind
	if kind == "survey" {
		b.leave(agent, "peer")
		b.add("voicesurveyflow", "connected")
		b.emit(bridge.StatusIVR)
		b.wait(5, 20)
		for _, p := range b.c.parts {
			if p.purpose == "voicesurveyflow" {
				b.end(p, "peer")
			}
		}
		b.end(customer, "peer")
		if agent.comm.acw.state == "pending" {
			b.emit(bridge.StatusWrapup)
			b.wait(2, 20)
		}
		return
	}
	b.end(customer, "peer")
	var pause time.Duration
	if kind != "acw-skipped" && kind != "wrapup-1ms" && b.chance(0.3) {
		// Scaled like every wait: the wrap-up (2 to 20 s, scaled) ends after it.
		pause = time.Duration(float64(50+b.rng.IntN(450)) * b.scale * float64(time.Millisecond))
	}
	b.leaveAfter(agent, "peer", pause)
	switch kind {
	case "acw-skipped":
		b.skipWrapup(agent)
	case "wrapup-1ms":
		b.emit(bridge.StatusWrapup)
		b.now = b.now.Add(time.Millisecond)
	default:
		// Some live frames still show the communication connected while
		// they carry its disconnectedTime and after-call work pending.
		agent.lagState = b.chance(0.25)
		b.emit(bridge.StatusWrapup)
		b.wait(2, 20)
	}
}
