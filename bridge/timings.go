package bridge

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"time"
)

// Tally accumulates an interaction's contact-center durations from the
// times of its transitions (Genesys's own timestamps: each transition's
// OccurredAt). It is part of the interaction's State, so it survives a
// restart and moves with the state between replicas.
type Tally struct {
	// Started is when the first status began; Since when the current one
	// did.
	Started, Since time.Time
	// Time spent queued, ringing (alerting), connected (talking), held and
	// in wrap-up (after-call work), summed over every visit.
	Wait, Alert, Talk, Hold, Wrapup time.Duration
	// Holds counts the holds; Transfers the moves from an agent (connected
	// or held) back to a queue, ringing or an automated participant.
	Holds, Transfers uint32
	// Answered: an agent was connected at least once.
	Answered bool
	// Partial: some of the interaction's history is not in the tally (its
	// state was restored from a form without one, or published without a
	// gap's complete history).
	Partial bool
	// QueueID and UserID are the last queue and the last agent seen.
	QueueID, UserID string
}

// add counts the move from one status to another at at, seen with who.
func (t *Tally) add(from, to Status, at time.Time, who Who) {
	if t.Started.IsZero() {
		t.Started = at
	}
	if from != "" && !t.Since.IsZero() {
		if d := at.Sub(t.Since); d > 0 {
			switch from {
			case StatusQueued:
				t.Wait += d
			case StatusRinging:
				t.Alert += d
			case StatusConnected:
				t.Talk += d
			case StatusHeld:
				t.Hold += d
			case StatusWrapup:
				t.Wrapup += d
			}
		}
	}
	if at.After(t.Since) {
		t.Since = at
	}
	switch to {
	case StatusHeld:
		t.Holds++
		t.Answered = true
	case StatusConnected:
		t.Answered = true
	case StatusQueued, StatusRinging, StatusIVR:
		if from == StatusConnected || from == StatusHeld {
			t.Transfers++
		}
	}
	if who.QueueID != "" {
		t.QueueID = who.QueueID
	}
	if who.UserID != "" {
		t.UserID = who.UserID
	}
}

// Timings are a completed interaction's contact-center figures: what the
// bridge publishes once per completion, on a subject of its own.
type Timings struct {
	// ID is deterministic (TimingsID): a replica or a restart that derives
	// the same completion publishes the same id, which the stream keeps
	// once.
	ID            string
	InteractionID string
	ChannelType   ChannelType
	// QueueID is the queue the interaction was last in, UserID the last
	// agent who handled it (empty when unknown).
	QueueID, UserID        string
	StartedAt, CompletedAt time.Time
	// Wait is the time queued, Alert ringing, Talk connected, Hold held,
	// Wrapup in after-call work.
	Wait, Alert, Talk, Hold, Wrapup time.Duration
	Holds, Transfers                int
	Answered                        bool
	// Abandoned: completed without an agent ever connected; AbandonedIn
	// is the status it ended from (queued, ringing, ivr).
	Abandoned   bool
	AbandonedIn Status
	// Partial: some of the history is missing from these figures.
	Partial bool
}

// Handle is the handle time: talk, hold and wrap-up.
func (t *Timings) Handle() time.Duration { return t.Talk + t.Hold + t.Wrapup }

// TimingsID is the id of the timings published with an interaction's
// transition number seq (its completion).
func TimingsID(interactionID string, seq uint64) string {
	var in [256]byte
	b := append(in[:0], "gbt1\x00"...)
	b = append(b, interactionID...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint64(b, seq)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// timingsOf returns the figures of an interaction completing from status
// from with transition number seq.
func timingsOf(id string, ch ChannelType, from Status, seq uint64, t *Tally, completedAt time.Time) *Timings {
	tm := &Timings{
		ID: TimingsID(id, seq), InteractionID: id, ChannelType: ch, QueueID: t.QueueID, UserID: t.UserID,
		StartedAt: t.Started, CompletedAt: completedAt,
		Wait: t.Wait, Alert: t.Alert, Talk: t.Talk, Hold: t.Hold, Wrapup: t.Wrapup,
		Holds: int(t.Holds), Transfers: int(t.Transfers), Answered: t.Answered, Partial: t.Partial,
	}
	if !t.Answered {
		tm.Abandoned, tm.AbandonedIn = true, from
	}
	return tm
}

// AppendJSON appends the timings' JSON encoding (the published payload;
// durations in milliseconds):
//
//	{"id":"…","interactionId":"…","channelType":"voice","queueId":"…",
//	 "userId":"…","startedAt":"…","completedAt":"…","waitMs":12000,
//	 "alertMs":3000,"talkMs":95000,"holdMs":10000,"holds":1,
//	 "wrapupMs":20000,"handleMs":125000,"transfers":0,"answered":true,
//	 "abandoned":false,"partial":false}
//
// queueId and userId are left out when unknown; an abandoned one adds
// "abandonedIn":"queued" (or ringing, ivr).
func (t *Timings) AppendJSON(b []byte) []byte {
	b = appendHead(b, t.ID, t.InteractionID, t.ChannelType, Who{QueueID: t.QueueID, UserID: t.UserID})
	b = append(b, `,"startedAt":`...)
	b = appendTime(b, t.StartedAt)
	b = append(b, `,"completedAt":`...)
	b = appendTime(b, t.CompletedAt)
	for _, f := range [...]struct {
		name string
		v    int64
	}{{"waitMs", t.Wait.Milliseconds()}, {"alertMs", t.Alert.Milliseconds()}, {"talkMs", t.Talk.Milliseconds()},
		{"holdMs", t.Hold.Milliseconds()}, {"holds", int64(t.Holds)}, {"wrapupMs", t.Wrapup.Milliseconds()},
		{"handleMs", t.Handle().Milliseconds()}, {"transfers", int64(t.Transfers)}} {
		b = append(b, ',', '"')
		b = append(b, f.name...)
		b = append(b, '"', ':')
		b = strconv.AppendInt(b, f.v, 10)
	}
	b = append(b, `,"answered":`...)
	b = strconv.AppendBool(b, t.Answered)
	b = append(b, `,"abandoned":`...)
	b = strconv.AppendBool(b, t.Abandoned)
	if t.Abandoned {
		b = append(b, `,"abandonedIn":`...)
		b = appendString(b, string(t.AbandonedIn))
	}
	b = append(b, `,"partial":`...)
	b = strconv.AppendBool(b, t.Partial)
	return append(b, '}')
}

// appendHead opens a payload with the members transitions and timings
// share: id, interactionId, channelType, and queueId and userId if known.
func appendHead(b []byte, id, interaction string, ch ChannelType, w Who) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, id)
	b = append(b, `,"interactionId":`...)
	b = appendString(b, interaction)
	b = append(b, `,"channelType":`...)
	b = appendString(b, string(ch))
	return appendRefs(b, w)
}

// appendRefs appends the queueId and userId members that are known.
func appendRefs(b []byte, w Who) []byte {
	if w.QueueID != "" {
		b = append(b, `,"queueId":`...)
		b = appendString(b, w.QueueID)
	}
	if w.UserID != "" {
		b = append(b, `,"userId":`...)
		b = appendString(b, w.UserID)
	}
	return b
}

// TimingsPublisher is what a Publisher also implements to publish the
// timings of completed interactions (a Publisher without it publishes
// transitions only). PublishTimings follows Publish's contract.
type TimingsPublisher interface {
	PublishTimings(ctx context.Context, t *Timings, r Receipt)
}
