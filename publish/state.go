package publish

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/internal/intern"
	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// HeaderState carries the interaction's state after the transition, so the
// stream itself is the state store: the last message on
// <prefix>.*.*.<idToken> holds an interaction's state, and its sequence is
// the state's version.
const HeaderState = "Genesys-Bridge-State"

// appendState appends a state rendered as "v3 <channel> <status> <seq> <anchor>
// <stepAt> <horizon> <endedHold>" and its tally, "<started> <since> <wait>
// <alert> <talk> <hold> <wrapup> <holds> <transfers> <flags> <queueId>
// <userId>", with times in unix nanoseconds (0 for none), durations in
// nanoseconds, flags 1 for answered plus 2 for partial, and "-" for an
// unknown id (ids hold no space: bridge.ValidRef).
func appendState(b []byte, s *bridge.State) []byte {
	if s.Agent != nil {
		return appendAgentState(b, s)
	}
	b = append(b, "v3 "...)
	b = append(b, s.Channel...)
	b = append(b, ' ')
	b = append(b, s.Status...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, s.Seq, 10)
	t := &s.Tally
	for _, at := range [...]time.Time{s.Anchor, s.StepAt, s.Horizon, s.EndedHold, t.Started, t.Since} {
		b = append(b, ' ')
		if at.IsZero() {
			b = append(b, '0')
		} else {
			b = strconv.AppendInt(b, at.UnixNano(), 10)
		}
	}
	flags := 0
	if t.Answered {
		flags |= 1
	}
	if t.Partial {
		flags |= 2
	}
	for _, n := range [...]int64{int64(t.Wait), int64(t.Alert), int64(t.Talk), int64(t.Hold), int64(t.Wrapup),
		int64(t.Holds), int64(t.Transfers), int64(flags)} {
		b = append(b, ' ')
		b = strconv.AppendInt(b, n, 10)
	}
	for _, id := range [...]string{t.QueueID, t.UserID} {
		b = append(b, ' ')
		if id == "" {
			id = "-"
		}
		b = append(b, id...)
	}
	return b
}

// decodeState reads a state header: v3; v2 (before the tally: it is
// marked partial); or v1 (before transitions were counted: its Seq is 0,
// and the next ids start a new series).
//
// The state holds no part of v: a header value shares its memory with the
// whole header block of its message (nats.go cuts the values from one
// string), so the queue and user ids are copied, through own when it is
// not nil (one copy per distinct id while reading many states).
func decodeState(v string, own *intern.Table) (bridge.State, error) {
	var room [20]string
	f := fields(room[:0], v)
	var s bridge.State
	switch {
	case len(f) == 8 && f[0] == "a1":
		return decodeAgentState(f, own)
	case len(f) == 20 && f[0] == "v3":
	case len(f) == 8 && f[0] == "v2":
		s.Tally.Partial = true
	case len(f) == 7 && f[0] == "v1":
		s.Tally.Partial = true
		f = append(f[:3], append([]string{"0"}, f[3:]...)...)
	default:
		return s, fmt.Errorf("state header %q: want v3 with 20 fields, v2 with 8, v1 with 7 or a1 with 8", text.Truncate(v, 64))
	}
	n, err := strconv.ParseUint(f[3], 10, 64)
	if err != nil {
		return s, fmt.Errorf("state header seq: %w", err)
	}
	s.Seq = n
	if s.Channel, err = bridge.ParseChannelType(f[1]); err != nil {
		return s, fmt.Errorf("state header: %w", err)
	}
	if s.Status, err = bridge.ParseStatus(f[2]); err != nil {
		return s, fmt.Errorf("state header: %w", err)
	}
	t := &s.Tally
	times := [...]*time.Time{&s.Anchor, &s.StepAt, &s.Horizon, &s.EndedHold, &t.Started, &t.Since}
	if f[0] != "v3" {
		times[4], times[5] = nil, nil
	}
	for i, dst := range times {
		if dst == nil {
			break
		}
		n, err := strconv.ParseInt(f[4+i], 10, 64)
		if err != nil {
			return s, fmt.Errorf("state header field %d: %w", 4+i, err)
		}
		if n != 0 {
			*dst = time.Unix(0, n).UTC()
		}
	}
	if f[0] != "v3" {
		return s, nil
	}
	var nums [8]int64
	for i := range nums {
		if nums[i], err = strconv.ParseInt(f[10+i], 10, 64); err != nil || nums[i] < 0 || (i >= 5 && nums[i] > math.MaxUint32) {
			return s, fmt.Errorf("state header field %d: %q is not a count", 10+i, text.Truncate(f[10+i], 32))
		}
	}
	t.Wait, t.Alert, t.Talk, t.Hold, t.Wrapup = time.Duration(nums[0]), time.Duration(nums[1]), time.Duration(nums[2]), time.Duration(nums[3]), time.Duration(nums[4])
	t.Holds, t.Transfers = uint32(nums[5]), uint32(nums[6])
	t.Answered, t.Partial = nums[7]&1 != 0, nums[7]&2 != 0
	for i, dst := range [...]*string{&t.QueueID, &t.UserID} {
		if id := f[18+i]; id != "-" {
			if !bridge.ValidRef(id) {
				return s, fmt.Errorf("state header field %d: not a valid id", 18+i)
			}
			*dst = own.String(id)
		}
	}
	return s, nil
}

// fields splits v at single spaces into f's room, as strings.Fields does
// for the header's form, without allocating for up to cap(f) fields; it
// returns nil for anything but single-space separated non-empty fields
// (the header's form), which decodeState then rejects.
func fields(f []string, v string) []string {
	for {
		field, rest, more := strings.Cut(v, " ")
		if field == "" {
			return nil
		}
		f = append(f, field)
		if !more {
			return f
		}
		v = rest
	}
}

// interactionFilter is the subject filter of every transition of one
// interaction: <prefix>.*.*.<idToken>.
func (j *JetStream) interactionFilter(id string) string {
	tok, _ := IDToken(id)
	return j.cfg.SubjectPrefix + ".*.*." + tok
}

// Load returns the state persisted with an interaction's last transition
// in the stream (bridge.StateStore).
func (j *JetStream) Load(ctx context.Context, id string) (bridge.State, bool, error) {
	m, err := j.stream.GetLastMsgForSubject(ctx, j.interactionFilter(id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return bridge.State{}, false, nil
	}
	if err != nil {
		return bridge.State{}, false, fmt.Errorf("load state of %s: %w", id, err)
	}
	return stateOf(m)
}

func stateOf(m *jetstream.RawStreamMsg) (bridge.State, bool, error) {
	s, err := decodeState(m.Header.Get(HeaderState), nil)
	if err != nil {
		return s, false, fmt.Errorf("message %d on %s: %w", m.Sequence, m.Subject, err)
	}
	s.Version = m.Sequence
	return s, true, nil
}

// errWrongLastSequence is the server's code for a failed
// expected-last-subject-sequence check.
const errWrongLastSequence = 10071

// resolveWrongSequence decides what a failed compare-and-set means: the
// stream's last message for the interaction is this very transition (an
// earlier attempt was stored: a duplicate) or another writer's (a
// conflict). It returns the publish's outcome.
func (j *JetStream) resolveWrongSequence(ctx context.Context, p *inflight) (duplicate bool, seq uint64, err error) {
	m, err := j.stream.GetLastMsgForSubject(ctx, j.interactionFilter(p.interaction))
	if err != nil {
		return false, 0, fmt.Errorf("publish %s: wrong last sequence, and reading the last message failed: %w", p.msg.Subject, err)
	}
	if m.Header.Get(jetstream.MsgIDHeader) == p.id {
		return true, m.Sequence, nil
	}
	s, _, err := stateOf(m)
	if err != nil {
		return false, 0, err
	}
	return false, 0, &bridge.ConflictError{InteractionID: p.interaction, State: s}
}

// States returns the state of every interaction whose last transition the
// stream stored at or after since, read in one pass over the stream from
// that time (headers only): what a starting bridge needs to know which
// interactions were open and where each stood, without a request per
// interaction.
func (j *JetStream) States(ctx context.Context, since time.Time) (map[string]bridge.State, error) {
	info, err := j.stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream info: %w", err)
	}
	out := map[string]bridge.State{}
	last := info.State.LastSeq
	if last == 0 || info.State.LastTime.Before(since) {
		return out, nil
	}
	cons, err := j.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{j.cfg.SubjectPrefix + ".>"},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy, OptStartTime: &since, HeadersOnly: true,
	})
	if err != nil {
		return nil, fmt.Errorf("read states: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		return nil, fmt.Errorf("read states: %w", err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	prefix := j.cfg.SubjectPrefix + "."
	refs := &intern.Table{}
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("read states: %w", ctx.Err())
			}
			return nil, fmt.Errorf("read states: %w", err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return nil, fmt.Errorf("read states: %w", err)
		}
		id := m.Headers().Get(HeaderInteractionID)
		if id == "" {
			rest := strings.TrimPrefix(m.Subject(), prefix)
			id = rest[strings.LastIndexByte(rest, '.')+1:]
		}
		s, err := decodeState(m.Headers().Get(HeaderState), refs)
		if err != nil {
			j.log.Warn("stream message without a readable state; skipped", "subject", m.Subject(), "seq", meta.Sequence.Stream, "err", err)
		} else {
			s.Version = meta.Sequence.Stream
			// A copy: id shares the memory of the message's header block
			// (or subject), which the map would otherwise keep alive.
			out[strings.Clone(id)] = s
		}
		if meta.Sequence.Stream >= last || meta.NumPending == 0 {
			return out, nil
		}
	}
}

// appendAgentState appends an agent's state rendered as "a1 <routing>
// <presence> <seq> <stepAt> <since> <presenceId> <queueIds>", times in
// unix nanoseconds (0 for none), "-" for an unknown presence id and for no
// queues, queue ids joined by commas. Ids hold no space (bridge.ValidRef)
// but may hold a comma: such a queue id is left out of the state (the
// next live frame gives it again) rather than split wrongly.
func appendAgentState(b []byte, s *bridge.State) []byte {
	a := s.Agent
	b = append(b, "a1 "...)
	b = append(b, a.Routing...)
	b = append(b, ' ')
	b = append(b, a.Presence...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, s.Seq, 10)
	for _, at := range [...]time.Time{s.StepAt, a.Since} {
		b = append(b, ' ')
		if at.IsZero() {
			b = append(b, '0')
		} else {
			b = strconv.AppendInt(b, at.UnixNano(), 10)
		}
	}
	b = append(b, ' ')
	if a.PresenceID == "" {
		b = append(b, '-')
	} else {
		b = append(b, a.PresenceID...)
	}
	b = append(b, ' ')
	n := 0
	for _, q := range a.Queues {
		if strings.IndexByte(q, ',') >= 0 {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, q...)
		n++
	}
	if n == 0 {
		b = append(b, '-')
	}
	return b
}

func decodeAgentState(f []string, own *intern.Table) (bridge.State, error) {
	var s bridge.State
	a := &bridge.AgentState{}
	s.Agent = a
	var err error
	if a.Routing, err = bridge.ParseRoutingStatus(f[1]); err != nil {
		return s, fmt.Errorf("state header: %w", err)
	}
	if a.Presence, err = bridge.ParsePresence(f[2]); err != nil {
		return s, fmt.Errorf("state header: %w", err)
	}
	if s.Seq, err = strconv.ParseUint(f[3], 10, 64); err != nil {
		return s, fmt.Errorf("state header seq: %w", err)
	}
	for i, dst := range [...]*time.Time{&s.StepAt, &a.Since} {
		n, err := strconv.ParseInt(f[4+i], 10, 64)
		if err != nil {
			return s, fmt.Errorf("state header field %d: %w", 4+i, err)
		}
		if n != 0 {
			*dst = time.Unix(0, n).UTC()
		}
	}
	if id := f[6]; id != "-" {
		if !bridge.ValidRef(id) {
			return s, fmt.Errorf("state header field 6: not a valid id")
		}
		a.PresenceID = own.String(id)
	}
	if qs := f[7]; qs != "-" {
		for q := range strings.SplitSeq(qs, ",") {
			if !bridge.ValidRef(q) {
				return s, fmt.Errorf("state header field 7: not a list of valid ids")
			}
			a.Queues = append(a.Queues, own.String(q))
		}
	}
	return s, nil
}
