package genesys

import (
	"fmt"
	"strings"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// span is one parsed segment.
type span struct {
	kind       string
	queue      string    // the segment's queueId, if a valid id
	start, end time.Time // end zero: still open
}

func (s span) activeAt(t time.Time, now bool) bool {
	if now {
		return s.end.IsZero()
	}
	return !t.Before(s.start) && (s.end.IsZero() || t.Before(s.end))
}

// detailsPart is a participant of an analytics conversation as the rules
// see it.
type detailsPart struct {
	role  role
	user  string // the participant's userId, if a valid id
	spans []span
}

// DeriveDetails turns an analytics details conversation into a bridge
// event. Unlike a snapshot, segments keep the history of holds, so the
// steps include held periods. The rules are those of Derive, read from
// segments: an agent's interact segment is connected; hold and parked are
// held; alert, dialing and contacting are ringing; wrapup is a pending
// wrap-up; any open segment of an acd participant is queued, of an
// automated one (ivr, flows, bots, surveys, voicemail) ivr; every segment
// ended is completed.
//
// Segment times are in the analytics clock, which may differ from the live
// frames' by milliseconds; the Machine allows for that (see package
// bridge). The horizon leaves hold boundaries out, as a snapshot's does.
func DeriveDetails(dc *DetailsConversation, observedAt time.Time) (bridge.Event, error) {
	ev := bridge.Event{InteractionID: dc.ConversationID, ObservedAt: observedAt, Backfilled: true}
	if !isUUID(dc.ConversationID) {
		return ev, fmt.Errorf("conversation id %q is not a UUID", text.Truncate(dc.ConversationID, 64))
	}
	best := len(channelPrecedence)
	var parts []detailsPart
	var points []time.Time
	for i, p := range dc.Participants {
		pt := detailsPart{role: roleOf(p.Purpose), user: whoOf("", p.UserID).UserID}
		for _, s := range p.Sessions {
			for rank, m := range channelPrecedence {
				if strings.EqualFold(s.MediaType, m.analytics) && rank < best {
					best = rank
				}
			}
			for j, seg := range s.Segments {
				start, err := parseTime(seg.SegmentStart)
				if err != nil || start.IsZero() {
					return ev, fmt.Errorf("participant %d segment %d: segmentStart: %v", i, j, err)
				}
				end, err := parseTime(seg.SegmentEnd)
				if err != nil {
					return ev, fmt.Errorf("participant %d segment %d: segmentEnd: %v", i, j, err)
				}
				pt.spans = append(pt.spans, span{kind: strings.ToLower(seg.SegmentType), queue: whoOf(seg.QueueID, "").QueueID, start: start, end: end})
				points = appendTime(append(points, start), end)
			}
		}
		// The horizon counts the same facts as a snapshot's: boundaries
		// made by hold or unhold (a hold's ends, and the interact segments
		// they cut) carry no timestamp in a snapshot, so they are left out.
		holdEdges := map[time.Time]bool{}
		for _, sp := range pt.spans {
			if holdKind(sp.kind) {
				holdEdges[sp.start] = true
				if !sp.end.IsZero() {
					holdEdges[sp.end] = true
				}
			}
		}
		for _, sp := range pt.spans {
			for _, t := range []time.Time{sp.start, sp.end} {
				if !t.IsZero() && !holdEdges[t] && t.After(ev.Horizon) {
					ev.Horizon = t
				}
			}
		}
		ev.Detail = append(ev.Detail, detailToken(p.Purpose, 32)+":"+detailState(pt.spans))
		parts = append(parts, pt)
	}
	if best == len(channelPrecedence) {
		return ev, fmt.Errorf("conversation %s has no session in a known media type", dc.ConversationID)
	}
	ev.ChannelType = channelPrecedence[best].ch
	return ev, finish(&ev, sortedUnique(points), func(t time.Time, now bool) (bridge.Status, time.Time, Who) {
		return detailsStatusAt(parts, t, now)
	})
}

// holdKind reports whether a segment type is a hold (parked, for email and
// messages).
func holdKind(kind string) bool { return kind == "hold" || kind == "parked" }

// detailsStatusAt applies the status rules to the segments active at t, or
// open now.
func detailsStatusAt(parts []detailsPart, t time.Time, now bool) (bridge.Status, time.Time, Who) {
	var sig signals
	for _, p := range parts {
		for _, s := range p.spans {
			if !now && t.Before(s.start) {
				continue
			}
			if !s.activeAt(t, now) {
				sig.observe(p.role, phaseEnded, time.Time{}, Who{QueueID: s.queue, UserID: p.user})
				continue
			}
			ph := phaseActive
			if p.role == roleAgent {
				switch {
				case s.kind == "interact":
					ph = phaseConnected
				case holdKind(s.kind):
					ph = phaseHeld
				case s.kind == "alert" || s.kind == "dialing" || s.kind == "contacting":
					ph = phaseAlerting
				case s.kind == "wrapup":
					sig.owesWrapup(Who{QueueID: s.queue, UserID: p.user})
				}
			}
			sig.observe(p.role, ph, s.start, Who{QueueID: s.queue, UserID: p.user})
		}
	}
	return sig.status()
}

// detailState names a participant's open segment, or "ended".
func detailState(spans []span) string {
	for _, s := range spans {
		if s.end.IsZero() {
			return detailToken(s.kind, 32)
		}
	}
	return "ended"
}
