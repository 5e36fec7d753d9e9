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
	queue      string  // the segment's queueId, if a valid id
	start, end instant // end none: still open
}

func (s span) activeAt(t instant, now bool) bool {
	if now {
		return s.end == 0
	}
	return t >= s.start && (s.end == 0 || t < s.end)
}

// detailsPart is a participant of an analytics conversation as the rules
// see it.
type detailsPart struct {
	role    role
	placing bool   // the user who placed the call (see originator)
	user    string // the participant's userId, if a valid id
	spans   []span
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
// Segments are read as real records show them (see spans): in each
// session's order, a segment never before the one it follows, the pause
// between an agent's segment and its wrap-up part of the wrap-up, a
// zero-length segment (a failed offer, a skipped wrap-up) shown for a
// nanosecond so that its status is not lost. The interaction is not
// completed before conversationEnd, where the record has it.
//
// Segment times are in the analytics clock, which may differ from the live
// frames' by milliseconds; the Machine allows for that (see package
// bridge). The horizon leaves hold boundaries out, as a snapshot's does.
func DeriveDetails(dc *DetailsConversation, observedAt time.Time) (bridge.Event, error) {
	ev := bridge.Event{InteractionID: dc.ConversationID, ObservedAt: observedAt, Backfilled: true}
	if !isUUID(dc.ConversationID) {
		return ev, fmt.Errorf("conversation id %q is not a UUID", text.Truncate(dc.ConversationID, 64))
	}
	end, err := parseTime(dc.ConversationEnd)
	if err != nil {
		return ev, fmt.Errorf("conversationEnd: %v", err)
	}
	caller, routed := originator(len(dc.Participants), func(i int) string { return dc.Participants[i].Purpose })
	best := len(mediaTypes)
	var parts []detailsPart
	var points []instant
	var horizon instant
	for i, p := range dc.Participants {
		pt := detailsPart{role: roleOf(p.Purpose), user: whoOf("", p.UserID).UserID}
		if i == caller {
			pt.placing = true
			if routed {
				pt.role = roleOther
			}
		}
		for _, s := range p.Sessions {
			for rank, m := range mediaTypes {
				if strings.EqualFold(s.MediaType, m.analytics) && rank < best {
					best = rank
				}
			}
			if pt.spans, err = spans(pt.spans, s.Segments, pt.role == roleAgent); err != nil {
				return ev, fmt.Errorf("participant %d %w", i, err)
			}
		}
		for _, sp := range pt.spans {
			points = appendTime(append(points, sp.start), sp.end)
		}
		horizon = max(horizon, pt.horizon())
		ev.Detail = append(ev.Detail, text.DetailToken(p.Purpose, 32)+":"+detailState(pt.spans))
		parts = append(parts, pt)
	}
	if best == len(mediaTypes) {
		return ev, fmt.Errorf("conversation %s has no session in a known media type", dc.ConversationID)
	}
	ev.ChannelType = mediaTypes[best].ch
	ev.Horizon = horizon.time()
	o := overRule{end: instantOf(end), today: dc.OriginatingDirection != "", wrapped: wrappedUp(parts), observed: instantOf(observedAt), last: lastEnd(parts)}
	return ev, finish(&ev, sortedUnique(points), func(t instant, now bool) (bridge.Status, instant, Who) {
		s, since, who := detailsStatusAt(parts, t, now)
		if s == bridge.StatusCompleted && !o.over(t, now) {
			return "", 0, Who{} // every segment ended, the conversation is not over
		}
		return s, since, who
	})
}

// wrapupPause bounds the pause between an agent's last segment and its
// wrap-up segment in records without conversationEnd (real ones show up to
// a second): a record observed that long after everything ended, with no
// wrap-up segment, shows a conversation over without one.
const wrapupPause = time.Minute

// overRule decides whether a conversation whose segments all ended at t
// is over, after-call work included:
//   - at its conversationEnd, where the record has one;
//   - never before it in a record of today's API (originatingDirection),
//     which writes conversationEnd once the conversation is over: the
//     pause before a wrap-up segment (analytics shows no open segment
//     then) is not a completion;
//   - in an older record (no conversationEnd ever), once every agent who
//     talked has a wrap-up segment, or when it was observed more than
//     wrapupPause after everything ended (no wrap-up came).
type overRule struct {
	end, observed, last instant
	today, wrapped      bool
}

func (o overRule) over(t instant, now bool) bool {
	switch {
	case o.end != 0:
		return now || t >= o.end
	case o.today:
		return false
	}
	return o.wrapped || time.Duration(o.observed-o.last) > wrapupPause
}

// lastEnd is the latest end of any segment.
func lastEnd(parts []detailsPart) instant {
	var last instant
	for _, p := range parts {
		for _, s := range p.spans {
			last = max(last, s.end)
		}
	}
	return last
}

// wrappedUp reports whether every agent with an interact segment has a
// wrap-up segment after it.
func wrappedUp(parts []detailsPart) bool {
	for _, p := range parts {
		if p.role != roleAgent {
			continue
		}
		talked, wrapped := false, false
		for _, s := range p.spans {
			switch s.kind {
			case "interact":
				talked, wrapped = true, false
			case "wrapup":
				wrapped = true
			}
		}
		if talked && !wrapped {
			return false
		}
	}
	return true
}

// spans appends a session's segments to dst, read in the session's order:
//   - a segment starts no earlier than the one before it ended (records
//     show a wrap-up segment starting while the interact it follows still
//     runs), and ends no earlier than it starts;
//   - for an agent, the pause between a segment and the wrap-up that
//     follows it (several hundred milliseconds in real chats) belongs to
//     the wrap-up: the agent is not done, the interaction not completed;
//   - a zero-length segment (an alert with an errorCode: an offer that
//     failed; a skipped wrap-up) lasts a nanosecond, so the status it shows
//     is seen, in its place, and is followed by what comes after it.
func spans(dst []span, segs []DetailsSegment, agent bool) ([]span, error) {
	var prev instant // end of the previous segment of the session
	for j, seg := range segs {
		parsed, err := parseTime(seg.SegmentStart)
		if err != nil || parsed.IsZero() {
			return dst, fmt.Errorf("segment %d: segmentStart: %v", j, err)
		}
		start := instantOf(parsed)
		if parsed, err = parseTime(seg.SegmentEnd); err != nil {
			return dst, fmt.Errorf("segment %d: segmentEnd: %v", j, err)
		}
		end := instantOf(parsed)
		kind := strings.ToLower(seg.SegmentType)
		if prev != 0 && (start < prev || (agent && kind == "wrapup")) {
			start = prev
		}
		if end != 0 {
			if end <= start {
				end = start + 1
			}
			prev = end
		}
		dst = append(dst, span{kind: kind, queue: whoOf(seg.QueueID, "").QueueID, start: start, end: end})
	}
	return dst, nil
}

// horizon is the latest of the participant's boundaries that a live
// frame records as a forward-only timestamp too: when it joined (its first
// segment's start; for an agent, when it connected, since no live frame
// times an alert), when an agent's communication ended (the segment before
// its wrap-up), and when its last segment ended (endTime, endAcwTime).
// The boundaries inside (a hold and its end, an acd's scheduled wait
// ending, an IVR's system segment) carry no timestamp in a snapshot: a
// history's horizon past them would make the live frames of the same
// moment look older than they are.
func (pt *detailsPart) horizon() instant {
	var h instant
	later := func(t instant) { h = max(h, t) }
	for i, sp := range pt.spans {
		switch {
		case pt.role != roleAgent:
			if i == 0 {
				later(sp.start)
			}
		case sp.kind == "interact":
			if i == 0 || pt.spans[i-1].kind != "interact" && !holdKind(pt.spans[i-1].kind) {
				later(sp.start) // connected (not a return from hold)
			}
		case sp.kind == "wrapup":
			later(sp.start) // the communication ended, after-call work began
		}
	}
	if n := len(pt.spans); n > 0 {
		later(pt.spans[n-1].end)
	}
	return h
}

// holdKind reports whether a segment type is a hold (parked, for email and
// messages).
func holdKind(kind string) bool { return kind == "hold" || kind == "parked" }

// detailsStatusAt applies the status rules to the segments active at t, or
// open now.
func detailsStatusAt(parts []detailsPart, t instant, now bool) (bridge.Status, instant, Who) {
	var sig signals
	for _, p := range parts {
		for _, s := range p.spans {
			if !now && t < s.start {
				continue
			}
			if !s.activeAt(t, now) {
				sig.observe(p.role, phaseEnded, 0, Who{QueueID: s.queue, UserID: p.user})
				continue
			}
			ph := phaseActive
			if p.role == roleAgent {
				switch {
				case s.kind == "interact":
					ph = phaseConnected
				case holdKind(s.kind):
					ph = phaseHeld
				case s.kind == "alert", !p.placing && (s.kind == "dialing" || s.kind == "contacting"):
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
		if s.end == 0 {
			return text.DetailToken(s.kind, 32)
		}
	}
	return "ended"
}
