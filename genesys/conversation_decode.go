package genesys

// decodeConversation reads a conversation body (a notification's eventBody
// or a GET's response) into c without reflection: the fields Conversation
// declares, by their exact JSON names; other members are validated and
// skipped; null leaves a field at its zero value; a member of the wrong
// type is an error; a repeated member's last value wins. Strings and raw
// values are copied: body may be reused once it returns.
func decodeConversation(body []byte, c *Conversation) error {
	sc := scanner{data: body}
	err := sc.object(func(key []byte) error {
		switch string(key) {
		case "id":
			return sc.stringField("id", &c.ID)
		case "participants":
			c.Participants = nil
			if sc.null() {
				return nil
			}
			c.Participants = []Participant{} // [] is empty, not absent, as in encoding/json
			return sc.array("participants", func() error {
				c.Participants = append(c.Participants, Participant{})
				return decodeParticipant(&sc, &c.Participants[len(c.Participants)-1])
			})
		}
		return sc.skip()
	})
	if err != nil {
		return err
	}
	return sc.end()
}

func decodeParticipant(sc *scanner, p *Participant) error {
	if sc.null() {
		return nil
	}
	return sc.objectField("participant", func(key []byte) error {
		switch string(key) {
		case "id":
			return sc.stringField("id", &p.ID)
		case "purpose":
			return sc.stringField("purpose", &p.Purpose)
		case "queueId":
			return sc.stringField("queueId", &p.QueueID)
		case "userId":
			return sc.stringField("userId", &p.UserID)
		case "connectedTime":
			return sc.stringField("connectedTime", &p.ConnectedTime)
		case "endTime":
			return sc.stringField("endTime", &p.EndTime)
		case "startAcwTime":
			return sc.stringField("startAcwTime", &p.StartAcwTime)
		case "endAcwTime":
			return sc.stringField("endAcwTime", &p.EndAcwTime)
		case "wrapupRequired":
			return sc.boolField("wrapupRequired", &p.WrapupRequired)
		case "wrapupSkipped":
			return sc.boolField("wrapupSkipped", &p.WrapupSkipped)
		case "wrapup":
			return sc.rawField(&p.Wrapup)
		}
		for _, m := range mediaTypes {
			if string(key) == m.key {
				return decodeCommunications(sc, m.key, m.of(p))
			}
		}
		return sc.skip()
	})
}

func decodeCommunications(sc *scanner, name string, dst *[]Communication) error {
	*dst = nil
	if sc.null() {
		return nil
	}
	*dst = []Communication{}
	return sc.array(name, func() error {
		*dst = append(*dst, Communication{})
		m := &(*dst)[len(*dst)-1]
		if sc.null() {
			return nil
		}
		return sc.objectField(name, func(key []byte) error {
			switch string(key) {
			case "id":
				return sc.stringField("id", &m.ID)
			case "state":
				return sc.stringField("state", &m.State)
			case "initialState":
				return sc.stringField("initialState", &m.InitialState)
			case "held":
				return sc.boolField("held", &m.Held)
			case "startAlertingTime":
				return sc.stringField("startAlertingTime", &m.StartAlertingTime)
			case "connectedTime":
				return sc.stringField("connectedTime", &m.ConnectedTime)
			case "disconnectedTime":
				return sc.stringField("disconnectedTime", &m.DisconnectedTime)
			case "startHoldTime":
				return sc.stringField("startHoldTime", &m.StartHoldTime)
			case "disconnectType":
				return sc.stringField("disconnectType", &m.DisconnectType)
			case "wrapup":
				return sc.rawField(&m.Wrapup)
			case "afterCallWork":
				if sc.null() {
					m.AfterCallWork = nil
					return nil
				}
				acw := &AfterCallWork{}
				m.AfterCallWork = acw
				return sc.objectField("afterCallWork", func(key []byte) error {
					switch string(key) {
					case "state":
						return sc.stringField("state", &acw.State)
					case "startTime":
						return sc.stringField("startTime", &acw.StartTime)
					case "endTime":
						return sc.stringField("endTime", &acw.EndTime)
					}
					return sc.skip()
				})
			}
			return sc.skip()
		})
	})
}
