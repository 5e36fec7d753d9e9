package genesys

import (
	"github.com/genesys-bridge/genesys-bridge/internal/intern"
	"github.com/genesys-bridge/genesys-bridge/internal/jsonscan"
)

// decodeConversation reads a conversation body (a notification's eventBody
// or a GET's response) into c without reflection: the fields Conversation
// declares, by their exact JSON names; other members are validated and
// skipped; null leaves a field at its zero value; a member of the wrong
// type is an error; a repeated member's last value wins. Strings and raw
// values are copied: body may be reused once it returns.
func decodeConversation(body []byte, c *Conversation) error {
	sc := jsonscan.New(body)
	if err := scanConversation(&sc, c); err != nil {
		return err
	}
	return sc.End()
}

// scanConversation reads a conversation object at sc's position (a frame's
// eventBody, read in the same pass as the frame).
func scanConversation(sc *jsonscan.Scanner, c *Conversation) error {
	r := reuse{room: &c.room}
	return sc.Object(func(key []byte) error {
		switch string(key) {
		case "id":
			return sc.StringField("id", &c.ID)
		case "participants":
			parts := c.Participants[:0] // a reused conversation's (DecodeNotification)
			c.Participants = nil
			if sc.Null() {
				return nil
			}
			if parts == nil {
				parts = make([]Participant, 0, 4)
			}
			c.Participants = parts // [] is empty, not absent, as in encoding/json
			return sc.Array("participants", func() error {
				c.Participants = append(c.Participants, Participant{})
				return decodeParticipant(sc, &r, &c.Participants[len(c.Participants)-1])
			})
		}
		return sc.Skip()
	})
}

func decodeParticipant(sc *jsonscan.Scanner, r *reuse, p *Participant) error {
	if sc.Null() {
		return nil
	}
	return sc.ObjectField("participant", func(key []byte) error {
		switch string(key) {
		case "purpose":
			return sc.StringFieldAs("purpose", &p.Purpose, r.known)
		case "queueId":
			return sc.StringFieldAs("queueId", &p.QueueID, refs.Bytes)
		case "userId":
			return sc.StringFieldAs("userId", &p.UserID, refs.Bytes)
		case "connectedTime":
			return sc.StringFieldAs("connectedTime", &p.ConnectedTime, r.string)
		case "endTime":
			return sc.StringFieldAs("endTime", &p.EndTime, r.string)
		case "startAcwTime":
			return sc.StringFieldAs("startAcwTime", &p.StartAcwTime, r.string)
		case "endAcwTime":
			return sc.StringFieldAs("endAcwTime", &p.EndAcwTime, r.string)
		case "wrapupRequired":
			return sc.BoolField("wrapupRequired", &p.WrapupRequired)
		case "wrapupSkipped":
			return sc.BoolField("wrapupSkipped", &p.WrapupSkipped)
		case "wrapup":
			return sc.RawField(&p.Wrapup)
		}
		if rank := mediaRank(key); rank >= 0 {
			return decodeCommunications(sc, r, mediaTypes[rank].key, p.mediaOf(rank))
		}
		return sc.Skip()
	})
}

// mediaRank is the rank of the media type whose JSON key is key (as
// mediaTypes lists them), -1 if none: a switch, which the compiler makes
// a search, where a loop compared every key.
func mediaRank(key []byte) int {
	switch string(key) {
	case "callbacks":
		return 0
	case "calls":
		return 1
	case "chats":
		return 2
	case "emails":
		return 3
	case "messages":
		return 4
	case "videos":
		return 5
	case "socialExpressions":
		return 6
	case "cobrowsesessions":
		return 7
	case "screenshares":
		return 8
	}
	return -1
}

func decodeCommunications(sc *jsonscan.Scanner, r *reuse, name string, dst *[]Communication) error {
	*dst = nil
	if sc.Null() {
		return nil
	}
	*dst = r.comms()
	return sc.Array(name, func() error {
		*dst = append(*dst, Communication{})
		m := &(*dst)[len(*dst)-1]
		if sc.Null() {
			return nil
		}
		return sc.ObjectField(name, func(key []byte) error {
			switch string(key) {
			case "state":
				return sc.StringFieldAs("state", &m.State, r.known)
			case "initialState":
				return sc.StringFieldAs("initialState", &m.InitialState, r.known)
			case "held":
				return sc.BoolField("held", &m.Held)
			case "startAlertingTime":
				return sc.StringFieldAs("startAlertingTime", &m.StartAlertingTime, r.string)
			case "connectedTime":
				return sc.StringFieldAs("connectedTime", &m.ConnectedTime, r.string)
			case "disconnectedTime":
				return sc.StringFieldAs("disconnectedTime", &m.DisconnectedTime, r.string)
			case "startHoldTime":
				return sc.StringFieldAs("startHoldTime", &m.StartHoldTime, r.string)
			case "disconnectType":
				return sc.StringFieldAs("disconnectType", &m.DisconnectType, r.known)
			case "wrapup":
				return sc.RawField(&m.Wrapup)
			case "afterCallWork":
				if sc.Null() {
					m.AfterCallWork = nil
					return nil
				}
				acw := &AfterCallWork{}
				m.AfterCallWork = acw
				return sc.ObjectField("afterCallWork", func(key []byte) error {
					switch string(key) {
					case "state":
						return sc.StringFieldAs("state", &acw.State, r.known)
					case "startTime":
						return sc.StringFieldAs("startTime", &acw.StartTime, r.string)
					case "endTime":
						return sc.StringFieldAs("endTime", &acw.EndTime, r.string)
					}
					return sc.Skip()
				})
			}
			return sc.Skip()
		})
	})
}

// refs are the queue and user ids of every frame: a few hundred recur in
// all of them.
var refs = &intern.Table{Max: 1 << 15, MaxLen: maxInterned}

// maxInterned bounds the strings the decoder's tables keep: ids and topic
// names are far shorter; a longer one is a string of its own.
const maxInterned = 256

// reuse makes the strings of one conversation's body: a value of the
// vocabulary is the vocabulary's string, and a value the body repeats (a
// participant's connectedTime and its communication's) is allocated once.
type reuse struct {
	recent [8]string
	next   int
	room   *[][]Communication // Conversation.room
}

// comms is an empty slice for a media type's communications, with the
// room of an earlier body's if the conversation kept one ([] is empty,
// not absent, as in encoding/json).
func (r *reuse) comms() []Communication {
	if n := len(*r.room); n > 0 {
		s := (*r.room)[n-1]
		*r.room = (*r.room)[:n-1]
		return s
	}
	return []Communication{}
}

// known is a string of the vocabulary, or else one made as string does.
func (r *reuse) known(b []byte) string {
	if v, ok := vocabulary.find(b); ok {
		return v
	}
	return r.string(b)
}

// string returns one of the last strings made for the same bytes, or a
// new one.
func (r *reuse) string(b []byte) string {
	for _, s := range r.recent {
		if s == string(b) {
			return s
		}
	}
	s := string(b)
	r.recent[r.next] = s
	r.next = (r.next + 1) % len(r.recent)
	return s
}

// The values of purpose, of the states and of disconnectType that
// Genesys sends (the SDKs' enums).
var (
	purposes = []string{"customer", "external", "agent", "user", "acd", "ivr", "workflow", "flow", "botflow", "digitalbotflow",
		"voicesurveyflow", "voicemail", "station", "fax", "outbound", "campaign", "dialer", "api", "manual"}
	// communication state, initialState, afterCallWork.state
	states = []string{"alerting", "dialing", "contacting", "offering", "connected", "disconnected", "terminated", "converting",
		"uploading", "transmitting", "parked", "none", "scheduled", "queued", "pending", "skipped", "complete",
		"notApplicable", "unknown"}
	disconnectTypes = []string{"endpoint", "client", "system", "timeout", "transfer", "transfer.conference", "transfer.consult",
		"transfer.forward", "transfer.noanswer", "transfer.notavailable", "transport.failure", "error", "peer",
		"other", "spam", "uncallable", "noAnswerTransfer"}
)

// vocabulary holds those values: read as these strings, not allocated
// for every frame. Any other value is read as it is.
var vocabulary = func() *vocabTable {
	t := new(vocabTable)
	n := 0
	for _, list := range [][]string{purposes, states, disconnectTypes} {
		for _, v := range list {
			t.add(v)
			n++
		}
	}
	if n > len(t.slots)/2 {
		panic("genesys: the vocabulary outgrew its table") // probes stay short below half full
	}
	return t
}()

// vocabTable is a small open-addressed set of strings, probed from a hash
// of a value's length and three of its bytes (cheaper than a map's hash
// of every byte, for these few dozen short words).
type vocabTable struct{ slots [256]string }

func vocabSlot(n int, first, mid, last byte) int {
	return (n*31 + int(first)*7 + int(mid)*3 + int(last)*131) & 255
}

func (t *vocabTable) add(v string) {
	i := vocabSlot(len(v), v[0], v[len(v)/2], v[len(v)-1])
	for t.slots[i] != "" && t.slots[i] != v {
		i = (i + 1) & 255
	}
	t.slots[i] = v
}

// find returns the table's string equal to b, if any.
func (t *vocabTable) find(b []byte) (string, bool) {
	if len(b) == 0 {
		return "", false
	}
	for i := vocabSlot(len(b), b[0], b[len(b)/2], b[len(b)-1]); t.slots[i] != ""; i = (i + 1) & 255 {
		if t.slots[i] == string(b) {
			return t.slots[i], true
		}
	}
	return "", false
}
