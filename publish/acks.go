package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The publisher's own asynchronous publish: each message goes out on the
// core connection with a reply subject under one wildcard inbox, and the
// stream's acknowledgement comes back to one subscription, which settles
// the publish where it reads it. This is what the client's PublishMsgAsync
// does, without what the bridge does not need per message: a timer per
// message (one sweep finds the late ones), a second map beside ours, and a
// reflective JSON decoding of every acknowledgement (parsePubAck reads the
// server's fixed form and leaves anything else to encoding/json).

// errAckTimeout is a publish whose acknowledgement did not come within
// AckTimeout; it is sent again with the same id.
var errAckTimeout = errors.New("no acknowledgement within the ack timeout")

// startAcks subscribes to the acknowledgement inbox.
func (j *JetStream) startAcks() error {
	j.replyPrefix = j.nc.NewInbox() + "."
	sub, err := j.nc.Subscribe(j.replyPrefix+"*", j.onReply)
	if err != nil {
		return err
	}
	// The acknowledgements of MaxPending publishes at most are in flight:
	// the subscription never has to drop one.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		_ = sub.Unsubscribe()
		return err
	}
	j.replies = sub
	return nil
}

// flights holds the publishes in flight by reply token: a token's low 32
// bits are its slot, the high ones a generation (one per publish, reused
// only after 2^32 more), so a late acknowledgement of a settled publish
// finds nothing, even when its slot holds another publish. Slots are
// reused (at most MaxPending are taken): no map, no allocation per publish.
type flights struct {
	slots []*inflight
	free  []uint32
	n     int
}

// put registers p under a new token of generation gen and returns it.
func (f *flights) put(p *inflight, gen uint64) uint64 {
	var i uint32
	if n := len(f.free); n > 0 {
		i, f.free = f.free[n-1], f.free[:n-1]
	} else {
		i = uint32(len(f.slots))
		f.slots = append(f.slots, nil)
	}
	p.token = gen<<32 | uint64(i)
	f.slots[i] = p
	f.n++
	return p.token
}

// take removes and returns the publish registered under token, if any.
func (f *flights) take(token uint64) *inflight {
	i := token & 0xffffffff
	if i >= uint64(len(f.slots)) {
		return nil
	}
	p := f.slots[i]
	if p == nil || p.token != token {
		return nil
	}
	f.slots[i] = nil
	f.free = append(f.free, uint32(i))
	f.n--
	return p
}

// onReply is the acknowledgement subscription's handler: it hands the
// reply to the owner, which settles the publish its subject names.
func (j *JetStream) onReply(m *nats.Msg) {
	token, err := strconv.ParseUint(strings.TrimPrefix(m.Subject, j.replyPrefix), 36, 64)
	if err != nil {
		return
	}
	j.ops.Push(context.Background(), op{kind: opReply, token: token, reply: m})
}

// acknowledged settles p by the acknowledgement m, or hands it to the
// retry: a 503 (no responders) or an error the server sent.
func (o *owner) acknowledged(p *inflight, m *nats.Msg) {
	if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
		o.fail(p, jetstream.ErrNoStreamResponse)
		return
	}
	ack, err := parsePubAck(m.Data)
	if err != nil {
		o.fail(p, err)
		return
	}
	o.j.settle(p, ack.duplicate, ack.seq, nil)
}

type pubAck struct {
	seq       uint64
	duplicate bool
}

// parsePubAck reads a JetStream publish acknowledgement. The server writes
// {"stream":"S","seq":N} with optional "domain" after the stream and
// "duplicate":true after the sequence; that form is read by hand, and
// anything else (an error, a field the server may add) by encoding/json.
// A server error is returned as a *jetstream.APIError.
func parsePubAck(data []byte) (pubAck, error) {
	if ack, ok := scanPubAck(data); ok {
		return ack, nil
	}
	var r struct {
		Error     *jetstream.APIError `json:"error"`
		Stream    string              `json:"stream"`
		Seq       uint64              `json:"seq"`
		Duplicate bool                `json:"duplicate"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return pubAck{}, jetstream.ErrInvalidJSAck
	}
	if r.Error != nil {
		return pubAck{}, r.Error
	}
	if r.Stream == "" {
		return pubAck{}, jetstream.ErrInvalidJSAck
	}
	return pubAck{seq: r.Seq, duplicate: r.Duplicate}, nil
}

// scanPubAck reads the server's usual acknowledgement, or reports false.
func scanPubAck(data []byte) (pubAck, bool) {
	const head, seqKey = `{"stream":"`, `,"seq":`
	rest, ok := bytes.CutPrefix(data, []byte(head))
	if !ok {
		return pubAck{}, false
	}
	end := bytes.IndexByte(rest, '"')
	if end <= 0 || !plain(rest[:end]) {
		return pubAck{}, false
	}
	rest = rest[end+1:]
	if bytes.HasPrefix(rest, []byte(`,"domain":"`)) {
		d := rest[len(`,"domain":"`):]
		e := bytes.IndexByte(d, '"')
		if e < 0 || !plain(d[:e]) {
			return pubAck{}, false
		}
		rest = d[e+1:]
	}
	rest, ok = bytes.CutPrefix(rest, []byte(seqKey))
	if !ok {
		return pubAck{}, false
	}
	n := 0
	var seq uint64
	for n < len(rest) && n < 20 && rest[n] >= '0' && rest[n] <= '9' {
		seq = seq*10 + uint64(rest[n]-'0')
		n++
	}
	if n == 0 || n >= 20 || (n > 1 && rest[0] == '0') {
		return pubAck{}, false
	}
	switch string(rest[n:]) {
	case "}":
		return pubAck{seq: seq}, true
	case `,"duplicate":true}`:
		return pubAck{seq: seq, duplicate: true}, true
	}
	return pubAck{}, false
}

// plain reports whether s is a JSON string's content with nothing to
// unescape and nothing JSON forbids in it.
func plain(s []byte) bool {
	for _, c := range s {
		if c < 0x20 || c == '\\' {
			return false
		}
	}
	return true
}
