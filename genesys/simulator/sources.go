package simulator

import (
	"encoding/json"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// The three sources of conversation state carry different fields (see
// ../shared/docs/genesys-protocol.md, 6a, from the SDKs' generated models):
//   - a live notification (QueueConversationEventTopic*): no participant
//     startTime, no communication startAlertingTime, no segments;
//   - GET /api/v2/conversations/{id} (Conversation, Participant, Call...):
//     those too, with initialState, wrapupSkipped and, on callbacks,
//     segments;
//   - the analytics details query: sessions and segments, in a clock a few
//     milliseconds off the live one.
//
// Each source has its own wire structs below, so that a field can only
// reach a source on purpose; TestSourcesCarryOnlyTheirModelsFields holds
// them against lists written from the SDK models. They repeat the shape of
// the decoder's structs in package genesys on purpose: sharing them would
// let a field the decoder misnames be misnamed on both sides, unseen.

const wireTime = "2006-01-02T15:04:05.000Z"

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(wireTime)
}

type wireWrapup struct {
	Code    string `json:"code"`
	EndTime string `json:"endTime,omitempty"`
}

func (w *wrapupCode) wire() *wireWrapup {
	if w == nil {
		return nil
	}
	return &wireWrapup{Code: w.code, EndTime: ts(w.endTime)}
}

type wireACW struct {
	State     string `json:"state"`
	StartTime string `json:"startTime,omitempty"`
	EndTime   string `json:"endTime,omitempty"`
}

func (a *afterCallWork) wire() *wireACW {
	if a == nil {
		return nil
	}
	return &wireACW{State: a.state, StartTime: ts(a.start), EndTime: ts(a.end)}
}

// liveComm is a communication in a notification (the fields every media's
// notification model shares, direction and confined where they exist, and
// initialState, which real callback, email and message frames carry).
type liveComm struct {
	ID                    string      `json:"id"`
	State                 string      `json:"state"`
	InitialState          string      `json:"initialState,omitempty"`
	Direction             string      `json:"direction,omitempty"`
	Held                  *bool       `json:"held,omitempty"`
	Confined              *bool       `json:"confined,omitempty"`
	DisconnectType        string      `json:"disconnectType,omitempty"`
	StartHoldTime         string      `json:"startHoldTime,omitempty"`
	ConnectedTime         string      `json:"connectedTime,omitempty"`
	DisconnectedTime      string      `json:"disconnectedTime,omitempty"`
	Wrapup                *wireWrapup `json:"wrapup,omitempty"`
	AfterCallWork         *wireACW    `json:"afterCallWork,omitempty"`
	AfterCallWorkRequired bool        `json:"afterCallWorkRequired,omitempty"`
}

// media holds a participant's communications under their array's name.
type media[C any] struct {
	Calls     []C `json:"calls,omitempty"`
	Callbacks []C `json:"callbacks,omitempty"`
	Chats     []C `json:"chats,omitempty"`
	Emails    []C `json:"emails,omitempty"`
	Messages  []C `json:"messages,omitempty"`
	Videos    []C `json:"videos,omitempty"`
}

func mediaOf[C any](key string, c C) media[C] {
	var m media[C]
	one := []C{c}
	switch key {
	case "calls":
		m.Calls = one
	case "callbacks":
		m.Callbacks = one
	case "chats":
		m.Chats = one
	case "emails":
		m.Emails = one
	case "messages":
		m.Messages = one
	case "videos":
		m.Videos = one
	}
	return m
}

type liveParticipant struct {
	ID                   string            `json:"id"`
	Purpose              string            `json:"purpose"`
	QueueID              string            `json:"queueId,omitempty"`
	UserID               string            `json:"userId,omitempty"`
	Name                 string            `json:"name,omitempty"`
	ConnectedTime        string            `json:"connectedTime,omitempty"`
	EndTime              string            `json:"endTime,omitempty"`
	WrapupRequired       bool              `json:"wrapupRequired"`
	Wrapup               *wireWrapup       `json:"wrapup,omitempty"`
	StartAcwTime         string            `json:"startAcwTime,omitempty"`
	EndAcwTime           string            `json:"endAcwTime,omitempty"`
	ConsultParticipantID string            `json:"consultParticipantId,omitempty"`
	Attributes           map[string]string `json:"attributes"`
	media[liveComm]
}

type liveConversation struct {
	ID           string            `json:"id"`
	Participants []liveParticipant `json:"participants"`
}

func (p *party) liveComm() liveComm {
	c := &p.comm
	lc := liveComm{ID: c.id, State: c.state, DisconnectType: c.disconnectType,
		StartHoldTime: ts(c.holdStart), ConnectedTime: ts(c.connected), DisconnectedTime: ts(c.disconnected),
		Wrapup: c.wrapup.wire(), AfterCallWork: c.acw.wire(), AfterCallWorkRequired: c.acwRequired}
	switch p.media {
	case "calls", "callbacks", "emails", "messages":
		lc.Direction = c.direction
	}
	if p.media != "videos" { // a video has no hold
		held := c.held
		lc.Held = &held
	}
	switch p.media {
	case "callbacks", "emails", "messages":
		lc.InitialState = c.initialState
	case "calls":
		confined := c.confined
		lc.Confined = &confined
	}
	return lc
}

// live renders the conversation as a live notification's eventBody.
func (c *conversation) live() []byte {
	lc := liveConversation{ID: c.id}
	for _, p := range c.parts {
		end, comm := p.end, p.liveComm()
		if p.lagState { // the state lags its own timestamps
			end, comm.State = time.Time{}, "connected"
		}
		lc.Participants = append(lc.Participants, liveParticipant{ID: p.id, Purpose: p.purpose, QueueID: p.queueID, UserID: p.userID,
			Name: p.name, ConnectedTime: ts(p.connected), EndTime: ts(end), WrapupRequired: p.wrapupRequired,
			Wrapup: p.wrapup.wire(), StartAcwTime: ts(p.startAcw), EndAcwTime: ts(p.endAcw),
			ConsultParticipantID: p.consult, Attributes: p.attributes, media: mediaOf(p.media, comm)})
	}
	return mustJSON(lc)
}

// horizon is the latest forward-only timestamp a live frame carries (hold
// starts are not forward-only: they vanish on unhold).
func (c *conversation) horizon() time.Time {
	var h time.Time
	later := func(t time.Time) {
		if t.After(h) {
			h = t
		}
	}
	for _, p := range c.parts {
		for _, t := range []time.Time{p.connected, p.end, p.startAcw, p.endAcw, p.comm.connected, p.comm.disconnected} {
			later(t)
		}
		if a := p.comm.acw; a != nil {
			later(a.start)
			later(a.end)
		}
		if w := p.comm.wrapup; w != nil {
			later(w.endTime)
		}
		if w := p.wrapup; w != nil {
			later(w.endTime)
		}
	}
	return h
}

// restComm is a communication of the REST model: the live fields plus
// startAlertingTime, initialState and segments.
type restComm struct {
	liveComm
	InitialState      string        `json:"initialState,omitempty"`
	StartAlertingTime string        `json:"startAlertingTime,omitempty"`
	Segments          []wireRESTSeg `json:"segments,omitempty"`
}

type wireRESTSeg struct {
	StartTime string `json:"startTime"`
	EndTime   string `json:"endTime,omitempty"`
	Type      string `json:"type"`
	HowEnded  string `json:"howEnded,omitempty"`
}

type restParticipant struct {
	liveParticipant
	StartTime     string `json:"startTime,omitempty"`
	WrapupSkipped bool   `json:"wrapupSkipped,omitempty"`
	media[restComm]
}

type restConversation struct {
	ID           string            `json:"id"`
	StartTime    string            `json:"startTime"`
	EndTime      string            `json:"endTime,omitempty"`
	Participants []restParticipant `json:"participants"`
}

// rest renders the conversation as GET /api/v2/conversations/{id} answers.
func (c *conversation) rest() []byte {
	rc := restConversation{ID: c.id}
	var start, end time.Time
	for i, p := range c.parts {
		if i == 0 || p.start.Before(start) {
			start = p.start
		}
		if p.end.After(end) {
			end = p.end
		}
		lc := p.liveComm()
		lc.InitialState = ""
		comm := restComm{liveComm: lc, InitialState: p.comm.initialState, StartAlertingTime: ts(p.comm.alerting)}
		for _, s := range p.comm.restSegs {
			comm.Segments = append(comm.Segments, wireRESTSeg{StartTime: ts(s.start), EndTime: ts(s.end), Type: s.kind, HowEnded: s.howEnded})
		}
		rp := restParticipant{StartTime: ts(p.start), WrapupSkipped: p.wrapupSkipped, media: mediaOf(p.media, comm)}
		rp.liveParticipant = liveParticipant{ID: p.id, Purpose: p.purpose, QueueID: p.queueID, UserID: p.userID,
			Name: p.name, ConnectedTime: ts(p.connected), EndTime: ts(p.end), WrapupRequired: p.wrapupRequired,
			Wrapup: p.wrapup.wire(), StartAcwTime: ts(p.startAcw), EndAcwTime: ts(p.endAcw),
			ConsultParticipantID: p.consult, Attributes: p.attributes}
		rc.Participants = append(rc.Participants, rp)
	}
	rc.StartTime = ts(start)
	for _, p := range c.parts {
		if p.end.IsZero() {
			end = time.Time{}
			break
		}
	}
	rc.EndTime = ts(end)
	return mustJSON(rc)
}

type wireSegment struct {
	SegmentType    string `json:"segmentType"`
	SegmentStart   string `json:"segmentStart"`
	SegmentEnd     string `json:"segmentEnd,omitempty"`
	QueueID        string `json:"queueId,omitempty"`
	DisconnectType string `json:"disconnectType,omitempty"`
	WrapUpCode     string `json:"wrapUpCode,omitempty"`
	ErrorCode      string `json:"errorCode,omitempty"`
}

type wireSession struct {
	MediaType string        `json:"mediaType"`
	SessionID string        `json:"sessionId"`
	Direction string        `json:"direction,omitempty"`
	Segments  []wireSegment `json:"segments"`
}

type wireDetailsParticipant struct {
	ParticipantID   string        `json:"participantId"`
	ParticipantName string        `json:"participantName,omitempty"`
	Purpose         string        `json:"purpose"`
	UserID          string        `json:"userId,omitempty"`
	Sessions        []wireSession `json:"sessions"`
}

type wireDetails struct {
	ConversationID       string                   `json:"conversationId"`
	ConversationStart    string                   `json:"conversationStart"`
	ConversationEnd      string                   `json:"conversationEnd,omitempty"`
	OriginatingDirection string                   `json:"originatingDirection"`
	Participants         []wireDetailsParticipant `json:"participants"`
}

// details renders the conversation as the analytics details query returns
// it at now: every boundary moved by the analytics clock's difference, no
// segment that starts after now (a wrap-up after a pause).
func (c *conversation) details(ch bridge.ChannelType, start, end, now time.Time) []byte {
	at := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return ts(t.Add(c.skew))
	}
	d := wireDetails{ConversationID: c.id, ConversationStart: at(start), ConversationEnd: at(end), OriginatingDirection: "inbound"}
	if len(c.parts) > 0 && c.parts[0].comm.direction == "outbound" {
		d.OriginatingDirection = "outbound"
	}
	for _, p := range c.parts {
		s := wireSession{MediaType: sessionMedia[ch], SessionID: p.comm.id, Direction: p.comm.direction}
		for _, g := range p.segs {
			if g.start.After(now) {
				continue
			}
			s.Segments = append(s.Segments, wireSegment{SegmentType: g.kind, SegmentStart: at(g.start), SegmentEnd: at(g.end),
				QueueID: g.queueID, DisconnectType: g.disconnectType, WrapUpCode: g.wrapUpCode, ErrorCode: g.errorCode})
		}
		d.Participants = append(d.Participants, wireDetailsParticipant{ParticipantID: p.id, ParticipantName: p.name,
			Purpose: p.purpose, UserID: p.userID, Sessions: []wireSession{s}})
	}
	return mustJSON(d)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
