package genesys

import (
	"bytes"
	"encoding/json"
	"errors"
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/internal/intern"
	"github.com/genesys-bridge/genesys-bridge/internal/jsonscan"
	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// FrameKind says what a Notification Service frame is.
type FrameKind int

// Frame kinds.
const (
	FrameEvent         FrameKind = iota // a conversation snapshot, decoded into Frame.Event
	FrameHeartbeat                      // channel.metadata "WebSocket Heartbeat"
	FramePong                           // channel.metadata "pong"
	FrameSocketClosing                  // v2.system.socket_closing: roll over now
	FrameChannelGone                    // {"result":"404"}, no_longer_subscribed, token_revoked
	FrameIgnored                        // a topic the bridge does not turn into events
	FrameMembership                     // v2.routing.queues.{id}.users, decoded into Frame.Member
)

func (k FrameKind) String() string {
	return [...]string{"event", "heartbeat", "pong", "socket_closing", "channel_gone", "ignored", "membership"}[k]
}

// Frame is one decoded Notification Service frame.
type Frame struct {
	Kind  FrameKind
	Topic string
	// Event is set for FrameEvent.
	Event bridge.Event
	// Member is set for FrameMembership.
	Member Membership
	// Reason explains FrameChannelGone and FrameSocketClosing.
	Reason string
	// Fingerprint identifies the notification (topic and body) for an
	// event frame: the same notification on two sockets has the same one.
	// It is a hash of this process's (seeded per process): never store it.
	Fingerprint uint64
}

// fingerprintSeed seeds every Fingerprint of this process.
var fingerprintSeed = maphash.MakeSeed()

// envelope is what the bridge reads of a frame around its body: the body
// and result stay raw (sub-slices of the frame) until the topic says what
// they are.
type envelope struct {
	TopicName string
	EventBody []byte
	Result    []byte
	// conversation, if set, receives a conversation topic's body in the
	// envelope's own pass when topicName comes before eventBody (as
	// Genesys sends them): decoded says it did, bodyErr is what failed in
	// the body.
	conversation *Conversation
	decoded      bool
	bodyErr      error
}

// scanEnvelope reads a frame's envelope in one validating pass (the whole
// frame must be UTF-8 JSON; member names match exactly; null is absent),
// without reflection and without copying the body.
func scanEnvelope(data []byte, env *envelope) error {
	sc := jsonscan.New(data)
	raw := func(dst *[]byte) error {
		sc.WS()
		start := sc.Pos()
		err := sc.Skip()
		*dst = data[start:sc.Pos()]
		return err
	}
	err := sc.Object(func(key []byte) error {
		switch string(key) {
		case "topicName":
			env.TopicName = "" // null is absent
			return sc.StringFieldAs("topicName", &env.TopicName, topics.Bytes)
		case "eventBody":
			env.decoded = false
			if env.conversation == nil || sc.Peek() != '{' || !isConversationTopic(env.TopicName) {
				return raw(&env.EventBody)
			}
			start := sc.Pos()
			env.conversation.reset()
			if err := scanConversation(&sc, env.conversation); err != nil {
				env.bodyErr = err
				return err
			}
			env.EventBody, env.decoded = data[start:sc.Pos()], true
			return nil
		case "result":
			return raw(&env.Result)
		case "metadata":
			if sc.Null() {
				return nil
			}
			if sc.Peek() != '{' {
				return errors.New("field metadata: want an object")
			}
			return sc.Object(func(key []byte) error {
				if string(key) == "CorrelationId" {
					// A string (Genesys's id of the notification, not
					// kept: a frame that fails keeps it in its dead letter).
					var id string
					return sc.StringFieldAs("metadata.CorrelationId", &id, unkept)
				}
				return sc.Skip()
			})
		default:
			return sc.Skip()
		}
	})
	if err != nil {
		return err
	}
	if bytes.Equal(env.Result, []byte("null")) {
		env.Result = nil
	}
	return sc.End()
}

// topics are the topic names of every frame: a lane's thousand recur in
// all of them.
var topics = &intern.Table{Max: 1 << 15, MaxLen: maxInterned}

// unkept is a string read only to be validated.
func unkept([]byte) string { return "" }

type metadataBody struct {
	Message string `json:"message"`
}

type systemBody struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// DecodeNotification decodes one frame of the Notification Service socket.
// Bad input returns a *bridge.RejectError; it never panics.
func DecodeNotification(data []byte, observedAt time.Time) (_ Frame, err error) {
	// One pass: a conversation's body is decoded as the envelope is read,
	// into a conversation reused from frame to frame (nothing of it but
	// strings outlives Derive).
	c := conversations.Get().(*Conversation)
	defer conversations.Put(c)
	env := envelope{conversation: c}
	defer func() {
		// A rejection names the topic the frame came on, when it has one.
		if rej, ok := err.(*bridge.RejectError); ok && rej.Topic == "" {
			rej.Topic = env.TopicName
		}
	}()
	if err := scanEnvelope(data, &env); err != nil {
		if env.bodyErr != nil && !errors.Is(env.bodyErr, jsonscan.ErrSyntax) {
			return Frame{}, bridge.Reject(bridge.ReasonMalformed, data, "topic %s: decode conversation: %v", text.Truncate(env.TopicName, 200), env.bodyErr)
		}
		return Frame{}, bridge.Reject(bridge.ReasonMalformed, data, "decode frame: %v", err)
	}
	f := Frame{Topic: env.TopicName}
	topic := env.TopicName
	switch {
	case topic == "" && len(env.Result) > 0:
		result := strings.Trim(string(env.Result), `"`)
		if result != "404" {
			// Undocumented: counted and logged; the socket stays.
			return Frame{}, bridge.Reject(bridge.ReasonUnknown, data, "result frame %q is not documented; the socket is kept", text.Truncate(result, 40))
		}
		// {"result":"404",...}: the channel expired or was deleted.
		f.Kind, f.Reason = FrameChannelGone, "result "+result
		return f, nil
	case topic == "":
		return Frame{}, bridge.Reject(bridge.ReasonSchema, data, "frame has no topicName")
	case topic == "channel.metadata":
		var b metadataBody
		if err := json.Unmarshal(env.EventBody, &b); err != nil {
			return Frame{}, bridge.Reject(bridge.ReasonMalformed, data, "decode channel.metadata: %v", jsonErr(err))
		}
		switch strings.ToLower(b.Message) {
		case "pong":
			f.Kind = FramePong
		default: // "WebSocket Heartbeat"; anything else proves the socket alive too
			f.Kind = FrameHeartbeat
		}
		return f, nil
	case topic == "v2.system.socket_closing":
		var b systemBody
		_ = json.Unmarshal(env.EventBody, &b) // the reason is informative only
		f.Kind, f.Reason = FrameSocketClosing, firstNonEmpty(b.Reason, b.Message, "socket_closing")
		return f, nil
	case strings.HasPrefix(topic, "v2.system.no_longer_subscribed"), strings.HasPrefix(topic, "v2.system.token_revoked"):
		f.Kind, f.Reason = FrameChannelGone, strings.TrimPrefix(topic, "v2.system.")
		return f, nil
	case strings.HasSuffix(topic, activitySuffix):
		user, ok := activityUser(topic)
		if !ok {
			break
		}
		if len(env.EventBody) == 0 || bytes.Equal(env.EventBody, []byte("null")) {
			return Frame{}, bridge.Reject(bridge.ReasonSchema, data, "topic %s: no eventBody", text.Truncate(topic, 200))
		}
		var a Activity
		if err := json.Unmarshal(env.EventBody, &a); err != nil {
			return Frame{}, bridge.Reject(bridge.ReasonMalformed, data, "topic %s: decode activity: %s", text.Truncate(topic, 200), jsonErr(err))
		}
		var derr error
		f.Event, derr = DeriveActivity(&a, user, observedAt)
		if err := f.takeEvent(derr, data, env.EventBody); err != nil {
			return Frame{}, err
		}
		return f, nil
	case strings.HasSuffix(topic, membersSuffix):
		queue, ok := membershipQueue(topic)
		if !ok {
			break
		}
		var b queueMemberEvent
		if err := json.Unmarshal(env.EventBody, &b); err != nil {
			return Frame{}, bridge.Reject(bridge.ReasonMalformed, data, "topic %s: decode queue member: %s", text.Truncate(topic, 200), jsonErr(err))
		}
		m, err := deriveMembership(&b, queue)
		if err != nil {
			return Frame{}, bridge.Reject(bridge.ReasonSchema, data, "topic %s: %v", text.Truncate(topic, 200), err)
		}
		f.Kind, f.Member = FrameMembership, m
		return f, nil
	case isConversationTopic(topic):
		if len(env.EventBody) == 0 || bytes.Equal(env.EventBody, []byte("null")) {
			return Frame{}, bridge.Reject(bridge.ReasonSchema, data, "topic %s: no eventBody", text.Truncate(topic, 200))
		}
		if !env.decoded {
			c.reset()
			if err := decodeConversation(env.EventBody, c); err != nil {
				return Frame{}, bridge.Reject(bridge.ReasonMalformed, data, "topic %s: decode conversation: %v", text.Truncate(topic, 200), err)
			}
		}
		if !isUUID(c.ID) {
			return Frame{}, bridge.Reject(bridge.ReasonSchema, data, "topic %s: conversation id %q is not a UUID", text.Truncate(topic, 200), text.Truncate(c.ID, 64))
		}
		var derr error
		f.Event, derr = Derive(c, observedAt)
		if err := f.takeEvent(derr, data, env.EventBody); err != nil {
			return Frame{}, err
		}
		return f, nil
	}
	f.Kind = FrameIgnored
	return f, nil
}

// takeEvent makes f carry the event derived into f.Event from frame data
// (body its eventBody), validated where it was decoded; a derivation's
// error (derr) or a validation's is a schema rejection carrying the frame.
func (f *Frame) takeEvent(derr error, data, body []byte) error {
	if derr != nil {
		return bridge.Reject(bridge.ReasonSchema, data, "topic %s: %v", text.Truncate(f.Topic, 200), derr)
	}
	if err := f.Event.ValidateInput(data); err != nil {
		return err
	}
	f.Kind, f.Fingerprint = FrameEvent, fingerprint(f.Topic, body)
	return nil
}

// conversations are DecodeNotification's, kept with their participants'
// room between frames.
var conversations = sync.Pool{New: func() any { return new(Conversation) }}

// reset empties c for another body, keeping its participants' room and
// that of their communications (up to roomKept slices of up to
// roomKeptLen each: one huge body's are let go).
func (c *Conversation) reset() {
	room := c.room
	for i := range c.Participants {
		for _, comms := range c.Participants[i].media() {
			if cap(*comms) > 0 && cap(*comms) <= roomKeptLen && len(room) < roomKept {
				room = append(room, (*comms)[:0])
			}
			*comms = nil // one owner for each slice: the room or a participant
		}
	}
	*c = Conversation{Participants: c.Participants[:0], room: room}
}

// The bounds of the communications' room a reused conversation keeps.
const roomKept, roomKeptLen = 64, 8

// fingerprint is Frame.Fingerprint of a body on a topic.
func fingerprint(topic string, body []byte) uint64 {
	var h maphash.Hash // a tenth of FNV's cost on bodies of several KiB
	h.SetSeed(fingerprintSeed)
	h.WriteString(topic)
	h.Write(body)
	return h.Sum64()
}

// isConversationTopic matches v2.routing.queues.{id}.conversations and
// v2.users.{id}.conversations (not the media-suffixed or summaries topics,
// whose bodies have other schemas).
func isConversationTopic(t string) bool {
	_, _, suffix, ok := splitTopic(t)
	return ok && suffix == ""
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// jsonErr keeps the decoder's message but not the input it quotes.
func jsonErr(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "invalid JSON at byte " + strconv.FormatInt(se.Offset, 10)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "field " + text.Truncate(te.Field, 80) + ": want " + te.Type.String() + ", got " + te.Value
	}
	return text.Truncate(err.Error(), 200)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
