package genesys

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/genesys/internal/rfc3339"
	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// Conversation is the conversation snapshot Genesys sends in the eventBody of
// a conversation topic, and returns from GET /api/v2/conversations/{id}.
// Only the fields the rules read are decoded (not the participants' and
// communications' own ids, for one); states are open strings.
// Fields that only GET carries (participant startTime, communication
// startAlertingTime, wrapupSkipped) are read when present and never needed.
type Conversation struct {
	ID           string        `json:"id"`
	Participants []Participant `json:"participants"`

	// room is the communications' slices of an earlier body, emptied
	// (reset), for this body's participants to fill: a conversation
	// reused from frame to frame allocates no slice for them.
	room [][]Communication
}

// Participant is one party of a conversation. Purpose is a free string
// (customer, external, agent, user, acd, ivr, workflow, voicemail, ...).
type Participant struct {
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
	State             string          `json:"state"`
	InitialState      string          `json:"initialState,omitempty"` // GET; live callbacks, emails and messages
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

// mediaTypes lists the media a participant can have, each once: the field
// of a Participant that holds its communications, its name in the JSON of
// live frames and GET and in analytics (mediaType), and its channel. Their
// order decides a conversation's channel when a participant has several
// media: a callback conversation also carries calls, and cobrowse or
// screen share ride on top of another medium, so they rank last.
var mediaTypes = [...]struct {
	key       string // JSON field of a participant
	analytics string // a session's mediaType in analytics
	ch        bridge.ChannelType
}{
	{"callbacks", "callback", bridge.ChannelCallback},
	{"calls", "voice", bridge.ChannelVoice},
	{"chats", "chat", bridge.ChannelChat},
	{"emails", "email", bridge.ChannelEmail},
	{"messages", "message", bridge.ChannelMessage},
	{"videos", "video", bridge.ChannelVideo},
	{"socialExpressions", "social", bridge.ChannelSocial},
	{"cobrowsesessions", "cobrowse", bridge.ChannelCobrowse},
	{"screenshares", "screenshare", bridge.ChannelScreenshare},
}

// media are the fields of p that hold the communications of each media
// type, in mediaTypes' order.
func (p *Participant) media() [len(mediaTypes)]*[]Communication {
	return [...]*[]Communication{&p.Callbacks, &p.Calls, &p.Chats, &p.Emails, &p.Messages, &p.Videos, &p.SocialExpressions,
		&p.Cobrowsesessions, &p.Screenshares}
}

// mediaOf is the field of p that holds the communications of media type
// rank (mediaTypes' order).
func (p *Participant) mediaOf(rank int) *[]Communication { return p.media()[rank] }

func channelOf(c *Conversation) bridge.ChannelType {
	best := -1
	for i := range c.Participants {
		for rank, comms := range c.Participants[i].media() {
			if len(*comms) > 0 && (best == -1 || rank < best) {
				best = rank
			}
		}
	}
	if best == -1 {
		return ""
	}
	return mediaTypes[best].ch
}

// detail renders "purpose:state" of a participant's first communication,
// restricted to a safe alphabet so that nothing hostile reaches consumers.
func detail(p *Participant) string {
	state := "none"
	for _, comms := range p.media() {
		if comms := *comms; len(comms) > 0 {
			state = comms[0].State
			if comms[0].Held {
				state = "held"
			}
			break
		}
	}
	if d, ok := details[[2]string{p.Purpose, state}]; ok {
		return d
	}
	return text.DetailToken(p.Purpose, 32) + ":" + text.DetailToken(state, 32)
}

// details are the details of the vocabulary's purposes and states, made
// once rather than for every participant of every frame.
var details = func() map[[2]string]string {
	m := map[[2]string]string{}
	for _, purpose := range purposes {
		for _, state := range slices.Concat(states, []string{"held"}) {
			m[[2]string{purpose, state}] = text.DetailToken(purpose, 32) + ":" + text.DetailToken(state, 32)
		}
	}
	return m
}()

// parseTime parses a Genesys ISO-8601 timestamp; "" is the zero time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := rfc3339.Parse(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q is not RFC 3339", text.Truncate(s, 40))
	}
	if err := bridge.CheckTime(t); err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q: %w", text.Truncate(s, 40), err)
	}
	return t, nil
}
