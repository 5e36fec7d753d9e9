package bridge

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// Transition is one change of an interaction's canonical status: what the
// bridge publishes.
type Transition struct {
	// ID identifies the transition: a function of the transition alone (see
	// TransitionID), used as the JetStream Nats-Msg-Id.
	ID            string
	InteractionID string
	ChannelType   ChannelType
	// QueueID and UserID are the queue the interaction is in (or was last
	// in) and the agent's user id while an agent rings, is connected,
	// holds it or wraps it up; empty when the source does not say.
	QueueID, UserID string
	// FromStatus is "" when the bridge sees the interaction for the first
	// time; it is encoded as JSON null.
	FromStatus Status
	ToStatus   Status
	// OccurredAt is when Genesys says the change happened: the timestamp that
	// proves it, or the observation time when the payload carries none.
	OccurredAt time.Time
	// ObservedAt is when the bridge received the observation that revealed it.
	ObservedAt time.Time
	// Reconstructed marks a transition that was proven by the timestamps of a
	// later observation rather than seen as the current state of one (for
	// example after a reordered or missing frame).
	Reconstructed bool
	// Backfilled marks a transition found through REST after a gap.
	Backfilled bool
	// Incomplete marks a transition published without the complete history
	// of a gap before it (the history could not be fetched, or took longer
	// than the configured bound): a status may be missing before it.
	Incomplete bool
	// Detail is the raw per-participant state of the observation.
	Detail []string

	// Agent, when set, makes this an agent's transition: InteractionID is
	// the agent's user id, and ChannelType, QueueID, UserID, FromStatus,
	// ToStatus, Detail and Timings are unused.
	Agent *AgentChange

	// Timings, on a transition to completed, are the interaction's
	// figures, published as a message of their own before the transition
	// (a TimingsPublisher's PublishTimings).
	Timings *Timings

	// State is the interaction's state once this transition is applied,
	// persisted with it (its Version is not set here).
	State State
	// CheckVersion asks the publisher to store the transition only if the
	// persisted version of the interaction is ExpectVersion (0: none yet);
	// another writer having moved it is a conflict. The pipeline sets it on
	// the first transition it sends for an interaction (new, or restored
	// from the store); later ones build on its own acknowledged writes.
	CheckVersion  bool
	ExpectVersion uint64
}

// TransitionID returns the deterministic id of a transition: a hash of the
// interaction, the transition's position in the interaction's history (seq,
// 1 for the first) and its from and to statuses. It depends on no
// timestamp, so it is the same whichever source revealed the transition (a
// live frame, GET, analytics, whose clocks and fields differ), and any
// replica or restart that derives the same history derives the same ids:
// JetStream keeps a single copy within its duplicates window.
func TransitionID(interactionID string, seq uint64, from, to Status) string {
	var in [256]byte
	b := append(in[:0], "gb2\x00"...)
	b = append(b, interactionID...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = append(b, from...)
	b = append(b, 0)
	b = append(b, to...)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// AppendJSON appends the transition's JSON encoding to b. The format is the
// published payload; field names are stable:
//
//	{"id":"…","interactionId":"…","channelType":"voice","queueId":"…",
//	 "userId":"…","fromStatus":null,"toStatus":"queued","occurredAt":"…",
//	 "observedAt":"…","reconstructed":false,"backfilled":false,
//	 "incomplete":false,"detail":["customer:connected"]}
//
// queueId and userId are left out when unknown.
func (t *Transition) AppendJSON(b []byte) []byte {
	if t.Agent != nil {
		return t.appendAgentJSON(b)
	}
	b = appendHead(b, t.ID, t.InteractionID, t.ChannelType, Who{QueueID: t.QueueID, UserID: t.UserID})
	b = append(b, `,"fromStatus":`...)
	if t.FromStatus == "" {
		b = append(b, "null"...)
	} else {
		b = appendString(b, string(t.FromStatus))
	}
	b = append(b, `,"toStatus":`...)
	b = appendString(b, string(t.ToStatus))
	b = append(b, `,"occurredAt":`...)
	b = appendTime(b, t.OccurredAt)
	b = append(b, `,"observedAt":`...)
	b = appendTime(b, t.ObservedAt)
	b = t.appendMarks(b)
	b = append(b, `,"detail":`...)
	b = appendStrings(b, t.Detail)
	return append(b, '}')
}

// appendMarks appends the marks every transition carries.
func (t *Transition) appendMarks(b []byte) []byte {
	b = append(b, `,"reconstructed":`...)
	b = strconv.AppendBool(b, t.Reconstructed)
	b = append(b, `,"backfilled":`...)
	b = strconv.AppendBool(b, t.Backfilled)
	b = append(b, `,"incomplete":`...)
	return strconv.AppendBool(b, t.Incomplete)
}

// appendStrings appends ss as a JSON array of strings.
func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = appendRFC3339Nano(b, t.UTC())
	return append(b, '"')
}

// appendRFC3339Nano is t.AppendFormat(b, time.RFC3339Nano) for a UTC time,
// written out for years 0 to 9999 (the layout interpreter was a tenth of
// a payload's cost); other years go to AppendFormat.
func appendRFC3339Nano(b []byte, t time.Time) []byte {
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	hour, minute, sec := t.Clock()
	b = append(b, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+month/10), byte('0'+month%10), '-', byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10))
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i >= 1; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, 'Z')
}

const hexDigits = "0123456789abcdef"

// word loads the 8 bytes at the start of s little-endian.
func word(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD;
// control characters and U+2028/U+2029 are escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) && text.PlainWord(word(s[i:])) {
			i += 8
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
