package genesys

import "github.com/genesys-bridge/genesys-bridge/internal/jsonscan"

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
	return sc.Object(func(key []byte) error {
		switch string(key) {
		case "id":
			return sc.StringField("id", &c.ID)
		case "participants":
			c.Participants = nil
			if sc.Null() {
				return nil
			}
			c.Participants = []Participant{} // [] is empty, not absent, as in encoding/json
			return sc.Array("participants", func() error {
				c.Participants = append(c.Participants, Participant{})
				return decodeParticipant(sc, &c.Participants[len(c.Participants)-1])
			})
		}
		return sc.Skip()
	})
}

func decodeParticipant(sc *jsonscan.Scanner, p *Participant) error {
	if sc.Null() {
		return nil
	}
	return sc.ObjectField("participant", func(key []byte) error {
		switch string(key) {
		case "id":
			return sc.StringField("id", &p.ID)
		case "purpose":
			return sc.KnownStringField("purpose", &p.Purpose, vocabulary)
		case "queueId":
			return sc.StringField("queueId", &p.QueueID)
		case "userId":
			return sc.StringField("userId", &p.UserID)
		case "connectedTime":
			return sc.StringField("connectedTime", &p.ConnectedTime)
		case "endTime":
			return sc.StringField("endTime", &p.EndTime)
		case "startAcwTime":
			return sc.StringField("startAcwTime", &p.StartAcwTime)
		case "endAcwTime":
			return sc.StringField("endAcwTime", &p.EndAcwTime)
		case "wrapupRequired":
			return sc.BoolField("wrapupRequired", &p.WrapupRequired)
		case "wrapupSkipped":
			return sc.BoolField("wrapupSkipped", &p.WrapupSkipped)
		case "wrapup":
			return sc.RawField(&p.Wrapup)
		}
		for _, m := range mediaTypes {
			if string(key) == m.key {
				return decodeCommunications(sc, m.key, m.of(p))
			}
		}
		return sc.Skip()
	})
}

func decodeCommunications(sc *jsonscan.Scanner, name string, dst *[]Communication) error {
	*dst = nil
	if sc.Null() {
		return nil
	}
	*dst = []Communication{}
	return sc.Array(name, func() error {
		*dst = append(*dst, Communication{})
		m := &(*dst)[len(*dst)-1]
		if sc.Null() {
			return nil
		}
		return sc.ObjectField(name, func(key []byte) error {
			switch string(key) {
			case "id":
				return sc.StringField("id", &m.ID)
			case "state":
				return sc.KnownStringField("state", &m.State, vocabulary)
			case "initialState":
				return sc.KnownStringField("initialState", &m.InitialState, vocabulary)
			case "held":
				return sc.BoolField("held", &m.Held)
			case "startAlertingTime":
				return sc.StringField("startAlertingTime", &m.StartAlertingTime)
			case "connectedTime":
				return sc.StringField("connectedTime", &m.ConnectedTime)
			case "disconnectedTime":
				return sc.StringField("disconnectedTime", &m.DisconnectedTime)
			case "startHoldTime":
				return sc.StringField("startHoldTime", &m.StartHoldTime)
			case "disconnectType":
				return sc.KnownStringField("disconnectType", &m.DisconnectType, vocabulary)
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
						return sc.KnownStringField("state", &acw.State, vocabulary)
					case "startTime":
						return sc.StringField("startTime", &acw.StartTime)
					case "endTime":
						return sc.StringField("endTime", &acw.EndTime)
					}
					return sc.Skip()
				})
			}
			return sc.Skip()
		})
	})
}

// vocabulary are the values of purpose, the states and disconnectType
// Genesys sends (the SDKs' enums): read as these strings, not allocated
// for every frame. Any other value is read as it is.
var vocabulary = func() map[string]string {
	m := map[string]string{}
	for _, v := range []string{
		// purpose
		"customer", "external", "agent", "user", "acd", "ivr", "workflow", "flow", "botflow", "digitalbotflow",
		"voicesurveyflow", "voicemail", "station", "fax", "outbound", "campaign", "dialer", "api", "manual",
		// communication state, initialState, afterCallWork.state
		"alerting", "dialing", "contacting", "offering", "connected", "disconnected", "terminated", "converting",
		"uploading", "transmitting", "parked", "none", "scheduled", "queued", "pending", "skipped", "complete",
		"notApplicable", "unknown",
		// disconnectType
		"endpoint", "client", "system", "timeout", "transfer", "transfer.conference", "transfer.consult",
		"transfer.forward", "transfer.noanswer", "transfer.notavailable", "transport.failure", "error", "peer",
		"other", "spam", "uncallable", "noAnswerTransfer",
	} {
		m[v] = v
	}
	return m
}()
