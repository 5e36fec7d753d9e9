package publish

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// HeaderState carries the interaction's state after the transition, so the
// stream itself is the state store: the last message on
// <prefix>.*.*.<idToken> holds an interaction's state, and its sequence is
// the state's version.
const HeaderState = "Genesys-Bridge-State"

// encodeState renders a state as "v2 <channel> <status> <seq> <anchor>
// <stepAt> <horizon> <endedHold>" with times in unix nanoseconds (0 for
// none).
func encodeState(s *bridge.State) string {
	var buf [128]byte
	b := append(buf[:0], "v2 "...)
	b = append(b, s.Channel...)
	b = append(b, ' ')
	b = append(b, s.Status...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, s.Seq, 10)
	for _, t := range [...]time.Time{s.Anchor, s.StepAt, s.Horizon, s.EndedHold} {
		b = append(b, ' ')
		if t.IsZero() {
			b = append(b, '0')
		} else {
			b = strconv.AppendInt(b, t.UnixNano(), 10)
		}
	}
	return string(b)
}

// decodeState reads a state header: v2, or v1 (before transitions were
// counted: its Seq is 0, and the next ids start a new series).
func decodeState(v string) (bridge.State, error) {
	f := strings.Fields(v)
	var s bridge.State
	switch {
	case len(f) == 8 && f[0] == "v2":
		n, err := strconv.ParseUint(f[3], 10, 64)
		if err != nil {
			return s, fmt.Errorf("state header seq: %w", err)
		}
		s.Seq = n
		f = append(f[:3], f[4:]...)
	case len(f) == 7 && f[0] == "v1":
	default:
		return s, fmt.Errorf("state header %q: want v2 with 8 fields or v1 with 7", text.Truncate(v, 64))
	}
	var err error
	if s.Channel, err = bridge.ParseChannelType(f[1]); err != nil {
		return s, fmt.Errorf("state header: %w", err)
	}
	if s.Status, err = bridge.ParseStatus(f[2]); err != nil {
		return s, fmt.Errorf("state header: %w", err)
	}
	for i, dst := range []*time.Time{&s.Anchor, &s.StepAt, &s.Horizon, &s.EndedHold} {
		n, err := strconv.ParseInt(f[3+i], 10, 64)
		if err != nil {
			return s, fmt.Errorf("state header field %d: %w", 3+i, err)
		}
		if n != 0 {
			*dst = time.Unix(0, n).UTC()
		}
	}
	return s, nil
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
	s, err := decodeState(m.Header.Get(HeaderState))
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
		s, err := decodeState(m.Headers().Get(HeaderState))
		if err != nil {
			j.log.Warn("stream message without a readable state; skipped", "subject", m.Subject(), "seq", meta.Sequence.Stream, "err", err)
		} else {
			s.Version = meta.Sequence.Stream
			out[id] = s
		}
		if meta.Sequence.Stream >= last || meta.NumPending == 0 {
			return out, nil
		}
	}
}
