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
)

// HeaderState carries the interaction's state after the transition, so the
// stream itself is the state store: the last message on
// <prefix>.*.*.<idToken> holds an interaction's state, and its sequence is
// the state's version.
const HeaderState = "Genesys-Bridge-State"

// encodeState renders a state as "v1 <channel> <status> <anchor> <stepAt>
// <horizon> <endedHold>" with times in unix nanoseconds (0 for none).
func encodeState(s *bridge.State) string {
	ns := func(t time.Time) string {
		if t.IsZero() {
			return "0"
		}
		return strconv.FormatInt(t.UnixNano(), 10)
	}
	return strings.Join([]string{"v1", string(s.Channel), string(s.Status), ns(s.Anchor), ns(s.StepAt), ns(s.Horizon), ns(s.EndedHold)}, " ")
}

func decodeState(v string) (bridge.State, error) {
	f := strings.Fields(v)
	if len(f) != 7 || f[0] != "v1" {
		return bridge.State{}, fmt.Errorf("state header %q: want 7 fields starting with v1", trunc(v))
	}
	var s bridge.State
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
// earlier attempt was stored: a duplicate) or another writer's (a conflict).
func (j *JetStream) resolveWrongSequence(ctx context.Context, p *inflight) {
	m, err := j.stream.GetLastMsgForSubject(ctx, p.filter)
	if err != nil {
		p.r.Complete(false, 0, fmt.Errorf("publish %s: wrong last sequence, and reading the last message failed: %w", p.msg.Subject, err))
		return
	}
	if m.Header.Get(jetstream.MsgIDHeader) == p.id {
		p.r.Complete(true, m.Sequence, nil)
		return
	}
	s, _, err := stateOf(m)
	if err != nil {
		p.r.Complete(false, 0, err)
		return
	}
	p.r.Complete(false, 0, &bridge.ConflictError{InteractionID: p.interaction, State: s})
}
