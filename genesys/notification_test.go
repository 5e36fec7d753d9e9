package genesys

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
)

var observed = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func TestDecodeNotificationKinds(t *testing.T) {
	tests := []struct {
		frame string
		kind  FrameKind
	}{
		{`{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}}`, FrameHeartbeat},
		{`{"topicName":"channel.metadata","eventBody":{"message":"pong"}}`, FramePong},
		{`{"topicName":"v2.system.socket_closing","eventBody":{"reason":"maintenance"}}`, FrameSocketClosing},
		{`{"topicName":"v2.system.no_longer_subscribed.abc","eventBody":{}}`, FrameChannelGone},
		{`{"topicName":"v2.system.token_revoked.abc","eventBody":{}}`, FrameChannelGone},
		{`{"result":"404","message":"expired"}`, FrameChannelGone},
		{`{"topicName":"v2.detail.events.conversation.x.customer.start","eventBody":{}}`, FrameIgnored},
		{`{"topicName":"v2.users.u1.conversations","eventBody":{"id":"3f2a1b4c-1111-4222-8333-444455556666","participants":[{"purpose":"customer","calls":[{"state":"connected"}]},{"purpose":"ivr","calls":[{"state":"connected"}]}]}}`, FrameEvent},
		// Other schemas: not decoded as conversations.
		{`{"topicName":"v2.users.u1.conversations.calls","eventBody":{"id":"x","participants":[{"purpose":"customer","state":"connected"}]}}`, FrameIgnored},
	}
	for _, tt := range tests {
		f, err := DecodeNotification([]byte(tt.frame), observed)
		if err != nil || f.Kind != tt.kind {
			t.Errorf("%s: kind %v err %v, want %v", tt.frame, f.Kind, err, tt.kind)
		}
	}
	// A result other than 404 is undocumented: rejected (counted), not a
	// dead channel.
	_, err := DecodeNotification([]byte(`{"result":"500","message":"?"}`), observed)
	if rej, ok := err.(*bridge.RejectError); !ok || rej.Reason != bridge.ReasonUnknown {
		t.Errorf("result 500: %v, want a rejection for an unknown frame", err)
	}
}

// A frame the bridge cannot hold (a time past 2262) is rejected where it
// is decoded, with the frame for the dead letter and the topic it came
// on; a valid frame's event comes validated (Event.Validate: the pipeline
// does not check it again).
func TestDecodeNotificationValidates(t *testing.T) {
	const topic = "v2.users.u1.conversations"
	frame := `{"topicName":"` + topic + `","eventBody":{"id":"3f2a1b4c-1111-4222-8333-444455556666","participants":[` +
		`{"purpose":"customer","connectedTime":"2300-01-01T00:00:00.000Z","calls":[{"state":"connected","connectedTime":"2300-01-01T00:00:00.000Z"}]},` +
		`{"purpose":"ivr","calls":[{"state":"connected"}]}]}}`
	_, err := DecodeNotification([]byte(frame), observed)
	rej, ok := err.(*bridge.RejectError)
	if !ok || rej.Reason != bridge.ReasonSchema || string(rej.Input) != frame || rej.Topic != topic || !strings.Contains(rej.Msg, "out of range") {
		t.Fatalf("got %#v, want a schema rejection with the frame, its topic and the time out of range", err)
	}
	f, err := DecodeNotification([]byte(strings.ReplaceAll(frame, "2300", "2026")), observed)
	if err != nil || !f.Event.Validated() {
		t.Fatalf("a valid frame: err %v, validated %v", err, f.Event.Validated())
	}
}

func TestIsConversationTopic(t *testing.T) {
	for topic, want := range map[string]bool{
		"v2.routing.queues.q1.conversations":       true,
		"v2.routing.queues.q1.conversations.calls": false,
		"v2.users.u1.conversations":                true,
		"v2.users.u1.conversations.emails":         false,
		"v2.users.u1.conversations.summaries":      false,
		"v2.users.u1.presence":                     false,
		"v2.users.u1.activity":                     false, // an agent's (checkTopic accepts it; its body is no conversation)
		"v2.routing.queues.q1.users":               false, // queue membership (likewise)
		"v2.routing.queues..conversations":         false,
		"v2.routing.queues.q1":                     false,
		"v2.conversations":                         false,
	} {
		if got := isConversationTopic(topic); got != want {
			t.Errorf("isConversationTopic(%q) = %v", topic, got)
		}
	}
}

// p and c build participants tersely: times are seconds after t0.
func ts(sec int) string {
	if sec < 0 {
		return ""
	}
	return observed.Add(time.Duration(sec) * time.Second).Format(time.RFC3339Nano)
}

func comm(state string, connected, disconnected int) Communication {
	return Communication{State: state, ConnectedTime: ts(connected), DisconnectedTime: ts(disconnected)}
}

// One row per status rule, evaluated on the states now.
func TestDeriveRules(t *testing.T) {
	customer := Participant{Purpose: "customer", Calls: []Communication{comm("connected", 0, -1)}}
	customerGone := Participant{Purpose: "customer", Calls: []Communication{comm("disconnected", 0, 50)}}
	acd := Participant{Purpose: "acd", Calls: []Communication{comm("connected", 10, -1)}}
	acdGone := Participant{Purpose: "acd", Calls: []Communication{comm("disconnected", 10, 20)}}
	ivr := Participant{Purpose: "ivr", Calls: []Communication{comm("connected", 0, -1)}}
	agent := func(state string, held bool) Participant {
		c := comm(state, -1, -1)
		c.Held = held
		if held {
			c.StartHoldTime = ts(30)
		}
		return Participant{Purpose: "agent", Calls: []Communication{c}}
	}
	agentEnded := func(wrapupRequired bool, wrapup string) Participant {
		p := Participant{Purpose: "agent", WrapupRequired: wrapupRequired, Calls: []Communication{comm("disconnected", 20, 50)}}
		if wrapup != "" {
			p.Wrapup = []byte(wrapup)
		}
		return p
	}
	tests := []struct {
		name  string
		parts []Participant
		want  bridge.Status
	}{
		{"agent connected", []Participant{customer, acdGone, agent("connected", false)}, bridge.StatusConnected},
		{"agent held", []Participant{customer, acdGone, agent("connected", true)}, bridge.StatusHeld},
		{"email parked is held", []Participant{{Purpose: "customer", Emails: []Communication{comm("connected", 0, -1)}}, {Purpose: "agent", Emails: []Communication{{State: "parked"}}}}, bridge.StatusHeld},
		{"agent alerting", []Participant{customer, acd, agent("alerting", false)}, bridge.StatusRinging},
		{"agent offering", []Participant{customer, acd, agent("offering", false)}, bridge.StatusRinging},
		{"agent contacting", []Participant{customer, acd, agent("contacting", false)}, bridge.StatusRinging},
		{"agent dialing", []Participant{customer, agent("dialing", false)}, bridge.StatusRinging},
		{"user purpose is an agent", []Participant{customer, {Purpose: "user", Calls: []Communication{{State: "connected"}}}}, bridge.StatusConnected},
		{"waiting on acd", []Participant{customer, acd}, bridge.StatusQueued},
		{"in ivr", []Participant{customer, ivr}, bridge.StatusIVR},
		{"workflow is ivr", []Participant{customer, {Purpose: "workflow", Calls: []Communication{{State: "connected"}}}}, bridge.StatusIVR},
		{"wrap-up pending", []Participant{customerGone, acdGone, agentEnded(true, "")}, bridge.StatusWrapup},
		{"wrap-up done", []Participant{customerGone, acdGone, agentEnded(true, `{"code":"ok"}`)}, bridge.StatusCompleted},
		{"no wrap-up required", []Participant{customerGone, acdGone, agentEnded(false, "")}, bridge.StatusCompleted},
		{"wrapup null is not done", []Participant{customerGone, acdGone, agentEnded(true, "null")}, bridge.StatusWrapup},
		{"abandoned in queue", []Participant{customerGone, acdGone}, bridge.StatusCompleted},
		{"terminated counts as ended", []Participant{{Purpose: "customer", Chats: []Communication{{State: "terminated"}}}}, bridge.StatusCompleted},
		{"unknown states only count as active", []Participant{{Purpose: "customer", Calls: []Communication{{State: "converting"}}}, {Purpose: "robot", Calls: []Communication{{State: "transmitting"}}}, acd}, bridge.StatusQueued},
		{"connected beats ringing", []Participant{customer, agent("connected", false), agent("alerting", false)}, bridge.StatusConnected},
		{"queued beats a pending wrap-up (transfer)", []Participant{customer, acd, agentEnded(true, "")}, bridge.StatusQueued},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Conversation{ID: "3f2a1b4c-1111-4222-8333-444455556666", Participants: tt.parts}
			ev, err := Derive(c, observed)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Status != tt.want {
				t.Fatalf("status %s, want %s", ev.Status, tt.want)
			}
			if err := ev.Validate(); err != nil {
				t.Fatalf("derived event invalid: %v", err)
			}
		})
	}
	t.Run("customer alone has no status", func(t *testing.T) {
		_, err := Derive(&Conversation{ID: "x", Participants: []Participant{customer}}, observed)
		if err == nil {
			t.Fatal("derived a status for a customer alone")
		}
	})
}

func TestDeriveChannel(t *testing.T) {
	for _, tt := range []struct {
		p    Participant
		want bridge.ChannelType
	}{
		{Participant{Calls: []Communication{{}}}, bridge.ChannelVoice},
		{Participant{Calls: []Communication{{}}, Callbacks: []Communication{{}}}, bridge.ChannelCallback},
		{Participant{Calls: []Communication{{}}, Cobrowsesessions: []Communication{{}}}, bridge.ChannelVoice},
		{Participant{Screenshares: []Communication{{}}}, bridge.ChannelScreenshare},
		{Participant{SocialExpressions: []Communication{{}}}, bridge.ChannelSocial},
		{Participant{Videos: []Communication{{}}}, bridge.ChannelVideo},
		{Participant{Messages: []Communication{{}}}, bridge.ChannelMessage},
	} {
		if got := channelOf(&Conversation{Participants: []Participant{tt.p}}); got != tt.want {
			t.Errorf("channelOf(%+v) = %s, want %s", tt.p, got, tt.want)
		}
	}
}

func FuzzDecodeNotification(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	pop := simulator.NewPopulation(rng, 1, 2)
	for i, ch := range []bridge.ChannelType{bridge.ChannelVoice, bridge.ChannelChat, bridge.ChannelCallback} {
		sc := simulator.Generate(rng, pop, ch, observed.Add(time.Duration(i)*time.Hour), 1)
		for _, fr := range sc.Frames {
			f.Add(fmt.Appendf(nil, `{"topicName":%q,"eventBody":%s}`, fr.Topics[0], fr.Body))
		}
	}
	for _, s := range []string{`{}`, `{"result":"404"}`, `{"topicName":"channel.metadata","eventBody":null}`, `[]`, `null`, `"x"`,
		`{"topicName":"v2.users.u.conversations","eventBody":{"id":"3f2a1b4c-1111-4222-8333-444455556666","participants":[{"purpose":"agent","calls":[{"state":"connected","held":true,"startHoldTime":"2026-01-01T00:00:00Z"}]}]}}`,
		activityFrame, memberFrame} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkEnvelopeMatchesEncodingJSON(t, data)
		var env envelope
		if scanEnvelope(data, &env) == nil && len(env.EventBody) > 0 {
			checkConversationMatchesEncodingJSON(t, env.EventBody)
		}
		fr, err := DecodeNotification(data, observed)
		if err != nil {
			rej, ok := err.(*bridge.RejectError)
			if !ok {
				t.Fatalf("error %T is not a *bridge.RejectError", err)
			}
			// 256 input bytes, each at worst replaced by a 3-byte U+FFFD.
			if len(rej.Excerpt) > 3*256 {
				t.Fatalf("excerpt too long: %d bytes", len(rej.Excerpt))
			}
			return
		}
		if fr.Kind == FrameEvent {
			if err := fr.Event.Validate(); err != nil {
				t.Fatalf("decoded event fails validation: %v", err)
			}
		}
	})
}

// checkEnvelopeMatchesEncodingJSON holds scanEnvelope against encoding/json
// (UTF-8 required, member names exact): the same frames are accepted, with
// the same topic, correlation id, body and result.
func checkEnvelopeMatchesEncodingJSON(t *testing.T, data []byte) {
	t.Helper()
	var got envelope
	err := scanEnvelope(data, &got)
	var m map[string]json.RawMessage
	if !json.Valid(data) || !utf8.Valid(data) || json.Unmarshal(data, &m) != nil || m == nil {
		if err == nil {
			t.Fatalf("scanEnvelope accepted %q, which is not a UTF-8 JSON object", data)
		}
		return
	}
	var want envelope
	bad := false
	str := func(raw json.RawMessage, dst *string) {
		if raw != nil && json.Unmarshal(raw, dst) != nil {
			bad = true
		}
	}
	str(m["topicName"], &want.TopicName)
	if md, ok := m["metadata"]; ok && string(md) != "null" {
		var mm map[string]json.RawMessage
		if json.Unmarshal(md, &mm) != nil {
			bad = true
		}
		var id string // validated, not kept
		str(mm["CorrelationId"], &id)
	}
	if bad {
		if err == nil {
			t.Fatalf("scanEnvelope accepted %q with a member of the wrong type", data)
		}
		return
	}
	if err != nil {
		t.Fatalf("scanEnvelope refused %q: %v", data, err)
	}
	compact := func(b []byte) string {
		var out bytes.Buffer
		if len(b) == 0 || string(b) == "null" {
			return ""
		}
		if err := json.Compact(&out, b); err != nil {
			t.Fatalf("compact %q: %v", b, err)
		}
		return out.String()
	}
	if got.TopicName != want.TopicName ||
		compact(got.EventBody) != compact(m["eventBody"]) || compact(got.Result) != compact(m["result"]) {
		t.Fatalf("scanEnvelope(%q) = %+v, encoding/json gives topic %q, body %s, result %s",
			data, got, want.TopicName, m["eventBody"], m["result"])
	}
}

// checkConversationMatchesEncodingJSON holds decodeConversation against
// encoding/json on the bodies where the two are meant to agree: valid
// UTF-8, no repeated member, no member name that differs from a field's
// only by case (encoding/json matches those; decodeConversation does not).
func checkConversationMatchesEncodingJSON(t *testing.T, body []byte) {
	t.Helper()
	var got Conversation
	err := decodeConversation(body, &got)
	if !utf8.Valid(body) || !plainMembers(body) {
		return
	}
	var want Conversation
	wantErr := json.Unmarshal(body, &want)
	if string(bytes.TrimSpace(body)) == "null" {
		return // encoding/json leaves the value as it is; the caller refuses a null body
	}
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("decodeConversation(%q): error %v, encoding/json: %v", body, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeConversation(%q) = %+v, encoding/json gives %+v", body, got, want)
	}
}

// conversationFieldNames are every JSON name the Conversation model
// decodes, read from its types' tags (so that none is forgotten: a case
// variant of initialState was taken for a disagreement once).
var conversationFieldNames = func() []string {
	var names []string
	for _, v := range []any{Conversation{}, Participant{}, Communication{}, AfterCallWork{}} {
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			if name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ","); name != "" {
				names = append(names, name)
			}
		}
	}
	return names
}()

// plainMembers reports whether body is valid JSON with no repeated member
// in any object and no member named like a model field but for case.
func plainMembers(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		object bool
		keys   map[string]bool
		expect bool // next string token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return err == io.EOF
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if key, isKey := tok.(string); isKey && top != nil && top.object && top.expect {
			if top.keys[key] {
				return false
			}
			top.keys[key] = true
			for _, name := range conversationFieldNames {
				if key != name && strings.EqualFold(key, name) {
					return false
				}
			}
			top.expect = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, expect: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].expect = true
		}
	}
}

// mediaOf and media name, for each media type, the field whose JSON name
// is its key, and mediaRank finds its rank by that key.
func TestMediaOfMatchesMediaTypes(t *testing.T) {
	var p Participant
	v := reflect.ValueOf(&p).Elem()
	for rank, m := range mediaTypes {
		got := p.mediaOf(rank)
		found := false
		for i := range v.NumField() {
			if name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ","); name == m.key {
				found = v.Field(i).Addr().Interface() == got
			}
		}
		if !found {
			t.Errorf("mediaOf(%d) is not the field %q", rank, m.key)
		}
		if r := mediaRank([]byte(m.key)); r != rank {
			t.Errorf("mediaRank(%q) = %d, want %d", m.key, r, rank)
		}
		*got = make([]Communication, rank+1) // media() names the same field
		if n := len(*p.media()[rank]); n != rank+1 {
			t.Errorf("media()[%d] is not the field %q (%d communications, want %d)", rank, m.key, n, rank+1)
		}
	}
}

// Decoding reuses a conversation and Derive's working set from frame to
// frame: each frame still gives the event a fresh decode gives, whatever
// came before it (a frame with five participants, then one with two).
func TestDecodeCarriesNothingBetweenFrames(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pop := simulator.NewPopulation(rng, 2, 6)
	var frames [][]byte
	for i := range 60 {
		sc := simulator.Generate(rng, pop, bridge.ChannelTypes[i%5], observed.Add(time.Duration(i)*time.Minute), 1)
		for _, fr := range sc.Frames {
			frames = append(frames, fmt.Appendf(nil, `{"topicName":%q,"eventBody":%s}`, fr.Topics[0], fr.Body))
		}
	}
	rng.Shuffle(len(frames), func(i, j int) { frames[i], frames[j] = frames[j], frames[i] })
	var reused Conversation // as DecodeNotification reuses one
	for _, data := range frames {
		got, err := DecodeNotification(data, observed)
		if err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		var env envelope
		if err := scanEnvelope(data, &env); err != nil {
			t.Fatal(err)
		}
		var c Conversation
		if err := decodeConversation(env.EventBody, &c); err != nil {
			t.Fatal(err)
		}
		reused.reset()
		if err := decodeConversation(env.EventBody, &reused); err != nil {
			t.Fatal(err)
		}
		r := reused
		r.room = nil
		if !reflect.DeepEqual(r, c) {
			t.Fatalf("%s:\nreused %+v\nfresh  %+v", data, r, c)
		}
		want, err := deriveFresh(&c)
		if err != nil {
			t.Fatal(err)
		}
		if err := want.Validate(); err != nil { // as DecodeNotification does
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Event, want) {
			t.Fatalf("%s:\nreused %+v\nfresh  %+v", data, got.Event, want)
		}
	}
}

// deriveFresh is Derive with a working set of its own.
func deriveFresh(c *Conversation) (bridge.Event, error) {
	return deriveWith(c, observed, new(deriveScratch))
}
