package genesystest

import (
	"encoding/json"
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
}

// Frame is one conversation snapshot as the simulator sends it.
type Frame struct {
	ConversationID string
	Channel        bridge.ChannelType
	At             time.Time // the simulated time of the change
	Status         bridge.Status
	// Horizon is the latest forward-only timestamp in the snapshot; a frame
	// with a later horizon provably follows one with an earlier horizon.
	Horizon time.Time
	Body    []byte   // the eventBody (the conversation JSON)
	Topics  []string // conversation topics the snapshot is published on
	// Details is the conversation as the analytics details query returns it
	// at this moment: participants, sessions and segments (with holds).
	Details []byte
	// Start, Queues and Users index the conversation for the analytics
	// query.
	Start  time.Time
	Queues []string
	Users  []string
	// truth is the index in Script.Truth of the transition this frame
	// causes, or -1.
	truth int
	// seq is the interactions-dialect sequence, given when the change
	// happens (so a delayed frame goes out with an older sequence).
	seq int64
}

// Script is one generated conversation: its frames in order and the
// transitions they cause.
type Script struct {
	ID      string
	Channel bridge.ChannelType
	Kind    string // "answered", "abandoned", "transfer", "noanswer", "held-hangup"
	Frames  []Frame
	Truth   []Truth
}

// The simulator's own wire structs. They are deliberately separate from
// package genesys's decoder structs, so the tests compare two independent
// readings of the Genesys schema.
type wireConversation struct {
	ID           string             `json:"id"`
	Participants []*wireParticipant `json:"participants"`
}

type wireParticipant struct {
	ID             string            `json:"id"`
	Purpose        string            `json:"purpose"`
	QueueID        string            `json:"queueId,omitempty"`
	UserID         string            `json:"userId,omitempty"`
	StartTime      string            `json:"startTime,omitempty"`
	ConnectedTime  string            `json:"connectedTime,omitempty"`
	EndTime        string            `json:"endTime,omitempty"`
	StartAcwTime   string            `json:"startAcwTime,omitempty"`
	EndAcwTime     string            `json:"endAcwTime,omitempty"`
	WrapupRequired bool              `json:"wrapupRequired"`
	Wrapup         *wireWrapup       `json:"wrapup,omitempty"`
	Attributes     map[string]string `json:"attributes"`
	// media holds the one communication; it is written under the channel's
	// array name by MarshalJSON.
	media    *wireComm
	mediaKey string
	// segs is the participant's analytics history.
	segs []wireSegment
}

type wireSegment struct {
	SegmentType  string `json:"segmentType"`
	SegmentStart string `json:"segmentStart"`
	SegmentEnd   string `json:"segmentEnd,omitempty"`
	QueueID      string `json:"queueId,omitempty"`
}

type wireDetails struct {
	ConversationID    string               `json:"conversationId"`
	ConversationStart string               `json:"conversationStart"`
	ConversationEnd   string               `json:"conversationEnd,omitempty"`
	Participants      []wireDetailsPartcpt `json:"participants"`
}

type wireDetailsPartcpt struct {
	ParticipantID string `json:"participantId"`
	Purpose       string `json:"purpose"`
	Sessions      []struct {
		MediaType string        `json:"mediaType"`
		Segments  []wireSegment `json:"segments"`
	} `json:"sessions"`
}

type wireWrapup struct {
	Code  string `json:"code"`
	Notes string `json:"notes,omitempty"`
}

type wireComm struct {
	ID                string `json:"id"`
	State             string `json:"state"`
	Held              bool   `json:"held"`
	StartAlertingTime string `json:"startAlertingTime,omitempty"`
	ConnectedTime     string `json:"connectedTime,omitempty"`
	DisconnectedTime  string `json:"disconnectedTime,omitempty"`
	StartHoldTime     string `json:"startHoldTime,omitempty"`
	DisconnectType    string `json:"disconnectType,omitempty"`
}

func (p *wireParticipant) MarshalJSON() ([]byte, error) {
	type plain wireParticipant
	b, err := json.Marshal((*plain)(p))
	if err != nil || p.media == nil {
		return b, err
	}
	m, err := json.Marshal([]*wireComm{p.media})
	if err != nil {
		return nil, err
	}
	// Splice "<key>":[...] before the closing brace.
	out := append(b[:len(b)-1], fmt.Sprintf(`,%q:`, p.mediaKey)...)
	out = append(out, m...)
	return append(out, '}'), nil
}

// mediaTypes are analytics session media types by channel.
var mediaTypes = map[bridge.ChannelType]string{
	bridge.ChannelVoice: "voice", bridge.ChannelChat: "chat", bridge.ChannelEmail: "email",
	bridge.ChannelMessage: "message", bridge.ChannelCallback: "callback", bridge.ChannelVideo: "video",
}

var mediaKeys = map[bridge.ChannelType]string{
	bridge.ChannelVoice:    "calls",
	bridge.ChannelChat:     "chats",
	bridge.ChannelEmail:    "emails",
	bridge.ChannelMessage:  "messages",
	bridge.ChannelCallback: "callbacks",
	bridge.ChannelVideo:    "videos",
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

const wireTime = "2006-01-02T15:04:05.000Z"

// builder writes one conversation's script step by step.
type builder struct {
	rng    *rand.Rand
	scale  float64
	pop    Population
	s      *Script
	conv   wireConversation
	now    time.Time
	status bridge.Status
	queue  string
	queues []string
	agents []*wireParticipant
	start  time.Time
	ended  string
}

func (b *builder) ts() string { return b.now.UTC().Format(wireTime) }

// wait advances simulated time by a random duration in [lo, hi] seconds,
// times the scale, and at least one millisecond (timestamps have
// millisecond precision, and two changes must not share one).
func (b *builder) wait(lo, hi float64) {
	d := (lo + b.rng.Float64()*(hi-lo)) * b.scale
	b.now = b.now.Add(max(time.Millisecond, time.Duration(d*1000)*time.Millisecond)).Truncate(time.Millisecond)
}

func (b *builder) add(purpose string, state string) *wireParticipant {
	p := &wireParticipant{ID: uuid(b.rng), Purpose: purpose, StartTime: b.ts(), Attributes: map[string]string{},
		mediaKey: mediaKeys[b.s.Channel], media: &wireComm{ID: uuid(b.rng), State: state}}
	if state == "connected" {
		p.ConnectedTime, p.media.ConnectedTime = b.ts(), b.ts()
		kind := "interact"
		if purpose == "ivr" {
			kind = "ivr"
		}
		b.openSeg(p, kind)
	}
	if state == "alerting" {
		p.media.StartAlertingTime = b.ts()
		b.openSeg(p, "alert")
	}
	b.conv.Participants = append(b.conv.Participants, p)
	return p
}

// openSeg starts an analytics segment of p now; closeSeg ends its open one.
func (b *builder) openSeg(p *wireParticipant, kind string) {
	seg := wireSegment{SegmentType: kind, SegmentStart: b.ts()}
	if p.Purpose == "acd" || p.Purpose == "agent" {
		seg.QueueID = b.queue
	}
	p.segs = append(p.segs, seg)
}

func (b *builder) closeSeg(p *wireParticipant) {
	if n := len(p.segs); n > 0 && p.segs[n-1].SegmentEnd == "" {
		p.segs[n-1].SegmentEnd = b.ts()
	}
}

func (b *builder) end(p *wireParticipant, disconnectType string) {
	if p.media.State == "disconnected" {
		return
	}
	p.media.State, p.media.DisconnectedTime, p.media.DisconnectType = "disconnected", b.ts(), disconnectType
	p.media.Held, p.media.StartHoldTime = false, ""
	p.EndTime = b.ts()
	b.closeSeg(p)
}

// emit snapshots the conversation as a frame whose true status is status.
func (b *builder) emit(status bridge.Status) {
	body, err := json.Marshal(&b.conv)
	if err != nil {
		panic(err)
	}
	topics := []string{fmt.Sprintf("v2.routing.queues.%s.conversations", b.queue)}
	var users []string
	for _, a := range b.agents {
		topics = append(topics, fmt.Sprintf("v2.users.%s.conversations", a.UserID))
		users = append(users, a.UserID)
	}
	if !slices.Contains(b.queues, b.queue) {
		b.queues = append(b.queues, b.queue)
	}
	if status == bridge.StatusCompleted {
		b.ended = b.ts()
	}
	f := Frame{ConversationID: b.conv.ID, Channel: b.s.Channel, At: b.now, Status: status, Horizon: b.horizon(), Body: body, Topics: topics, truth: -1,
		Details: b.details(), Start: b.start, Queues: slices.Clone(b.queues), Users: users}
	if status != b.status {
		f.truth = len(b.s.Truth)
		b.s.Truth = append(b.s.Truth, Truth{InteractionID: b.conv.ID, Channel: b.s.Channel, From: b.status, To: status, At: b.now})
		b.status = status
	}
	b.s.Frames = append(b.s.Frames, f)
}

func (b *builder) details() []byte {
	d := wireDetails{ConversationID: b.conv.ID, ConversationStart: b.start.UTC().Format(wireTime), ConversationEnd: b.ended}
	for _, p := range b.conv.Participants {
		dp := wireDetailsPartcpt{ParticipantID: p.ID, Purpose: p.Purpose}
		dp.Sessions = append(dp.Sessions, struct {
			MediaType string        `json:"mediaType"`
			Segments  []wireSegment `json:"segments"`
		}{mediaTypes[b.s.Channel], slices.Clone(p.segs)})
		d.Participants = append(d.Participants, dp)
	}
	out, err := json.Marshal(d)
	if err != nil {
		panic(err)
	}
	return out
}

func (b *builder) horizon() time.Time {
	var h time.Time
	for _, p := range b.conv.Participants {
		for _, s := range []string{p.StartTime, p.ConnectedTime, p.EndTime, p.StartAcwTime, p.EndAcwTime,
			p.media.StartAlertingTime, p.media.ConnectedTime, p.media.DisconnectedTime} {
			if t, err := time.Parse(wireTime, s); err == nil && t.After(h) {
				h = t
			}
		}
	}
	return h
}

func (b *builder) chance(p float64) bool { return b.rng.Float64() < p }

// ring alerts a new agent and returns it.
func (b *builder) ring() *wireParticipant {
	a := b.add("agent", "alerting")
	a.UserID = b.pop.Agents[b.rng.IntN(len(b.pop.Agents))]
	a.QueueID = b.queue
	b.agents = append(b.agents, a)
	b.emit(bridge.StatusRinging)
	return a
}

// answer connects agent a and ends the acd participant.
func (b *builder) answer(a *wireParticipant, acd *wireParticipant) {
	a.media.State, a.media.ConnectedTime, a.ConnectedTime = "connected", b.ts(), b.ts()
	b.closeSeg(a)
	b.openSeg(a, "interact")
	b.end(acd, "transfer")
	b.emit(bridge.StatusConnected)
}

func (b *builder) hold(a *wireParticipant) {
	a.media.Held, a.media.StartHoldTime = true, b.ts()
	b.closeSeg(a)
	b.openSeg(a, "hold")
	b.emit(bridge.StatusHeld)
}

func (b *builder) unhold(a *wireParticipant) {
	a.media.Held, a.media.StartHoldTime = false, ""
	b.closeSeg(a)
	b.openSeg(a, "interact")
	b.emit(bridge.StatusConnected)
}

func (b *builder) finishWrapup(a *wireParticipant) {
	a.Wrapup = &wireWrapup{Code: "resolved"}
	a.EndAcwTime = b.ts()
	b.closeSeg(a)
}

// pendingWrapup reports whether any agent still owes a wrap-up.
func (b *builder) pendingWrapup() bool {
	for _, a := range b.agents {
		if a.WrapupRequired && a.Wrapup == nil {
			return true
		}
	}
	return false
}

// Generate writes one conversation on channel ch starting at start. The
// kinds, with their share: answered (with holds on voice and callback),
// abandoned in queue or while ringing, transferred back to a queue,
// not answered by the first agent, hung up while held. Waits between
// changes are realistic (seconds to a minute) times scale.
func Generate(rng *rand.Rand, pop Population, ch bridge.ChannelType, start time.Time, scale float64) *Script {
	if scale <= 0 {
		scale = 1
	}
	b := &builder{rng: rng, scale: scale, pop: pop, now: start.Truncate(time.Millisecond), s: &Script{Channel: ch}}
	b.start = b.now
	b.conv.ID = uuid(rng)
	b.s.ID = b.conv.ID
	b.queue = pop.Queues[rng.IntN(len(pop.Queues))]
	canHold := ch == bridge.ChannelVoice || ch == bridge.ChannelCallback

	r := rng.Float64()
	switch {
	case r < 0.15:
		b.s.Kind = "abandoned"
	case r < 0.30:
		b.s.Kind = "transfer"
	case r < 0.45:
		b.s.Kind = "noanswer"
	case r < 0.55 && canHold:
		b.s.Kind = "held-hangup"
	default:
		b.s.Kind = "answered"
	}

	customer := b.add("customer", "connected")
	if ch == bridge.ChannelVoice {
		ivr := b.add("ivr", "connected")
		b.emit(bridge.StatusIVR)
		b.wait(2, 8)
		b.end(ivr, "transfer")
	}
	acd := b.add("acd", "connected")
	acd.QueueID = b.queue
	b.emit(bridge.StatusQueued)
	if b.chance(0.3) { // a change that moves no status: attributes set by a flow
		b.wait(0.1, 1)
		customer.Attributes["language"] = "en-US"
		b.emit(bridge.StatusQueued)
	}
	b.wait(1, 15)

	if b.s.Kind == "abandoned" {
		if b.chance(0.5) {
			a := b.ring()
			b.wait(1, 5)
			b.end(a, "endpoint")
		}
		b.end(customer, "endpoint")
		b.end(acd, "endpoint")
		b.emit(bridge.StatusCompleted)
		return b.s
	}

	agent := b.ring()
	b.wait(1, 6)
	if b.s.Kind == "noanswer" {
		b.end(agent, "noAnswerTransfer")
		b.emit(bridge.StatusQueued)
		b.wait(1, 8)
		agent = b.ring()
		b.wait(1, 6)
	}
	b.answer(agent, acd)
	agent.WrapupRequired = true
	b.wait(5, 40)

	if canHold && b.s.Kind != "held-hangup" {
		for n := rng.IntN(3); n > 0; n-- {
			b.hold(agent)
			b.wait(2, 10)
			b.unhold(agent)
			b.wait(3, 20)
		}
	}
	if b.s.Kind == "transfer" {
		b.end(agent, "transfer")
		agent.StartAcwTime = b.ts()
		b.openSeg(agent, "wrapup")
		acd = b.add("acd", "connected")
		acd.QueueID = b.queue
		b.emit(bridge.StatusQueued)
		b.wait(1, 10)
		first := agent
		agent = b.ring()
		b.wait(1, 6)
		b.finishWrapup(first) // the first agent wraps up while the customer rings
		b.emit(bridge.StatusRinging)
		b.wait(0.5, 3)
		b.answer(agent, acd)
		agent.WrapupRequired = true
		b.wait(5, 30)
	}
	if b.s.Kind == "held-hangup" {
		b.hold(agent)
		b.wait(2, 10)
	}
	b.end(customer, "peer")
	b.end(agent, "peer")
	agent.StartAcwTime = b.ts()
	b.openSeg(agent, "wrapup")
	b.emit(bridge.StatusWrapup)
	b.wait(2, 20)
	for _, a := range b.agents {
		if a.WrapupRequired && a.Wrapup == nil {
			b.finishWrapup(a)
		}
	}
	if b.pendingWrapup() {
		panic("unreachable: wrap-up left pending")
	}
	b.emit(bridge.StatusCompleted)
	return b.s
}
