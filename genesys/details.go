package genesys

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// mediaTypes maps analytics session media types to channel types, in the
// order of precedence of channelOf.
var mediaTypes = []struct {
	name string
	ch   bridge.ChannelType
}{
	{"callback", bridge.ChannelCallback},
	{"voice", bridge.ChannelVoice},
	{"chat", bridge.ChannelChat},
	{"email", bridge.ChannelEmail},
	{"message", bridge.ChannelMessage},
	{"video", bridge.ChannelVideo},
	{"social", bridge.ChannelSocial},
	{"cobrowse", bridge.ChannelCobrowse},
	{"screenshare", bridge.ChannelScreenshare},
}

// span is one parsed segment.
type span struct {
	kind       string
	start, end time.Time // end zero: still open
}

func (s span) activeAt(t time.Time, now bool) bool {
	if now {
		return s.end.IsZero()
	}
	return !t.Before(s.start) && (s.end.IsZero() || t.Before(s.end))
}

// DeriveDetails turns an analytics details conversation into a bridge
// event. Unlike a snapshot, segments keep the history of holds, so the
// steps include held periods. The rules are those of Derive, read from
// segments: an agent's interact segment is connected, hold is held, alert,
// dialing and contacting are ringing, wrapup is a pending wrap-up; an acd
// participant's open segment is queued; an ivr or flow participant's is ivr;
// every segment ended is completed.
//
// The horizon leaves hold boundaries out, as a snapshot's does, so that
// live frames and back-filled details compare alike.
func DeriveDetails(dc *DetailsConversation, observedAt time.Time) (bridge.Event, error) {
	ev := bridge.Event{InteractionID: dc.ConversationID, ObservedAt: observedAt, Backfilled: true}
	if !isUUID(dc.ConversationID) {
		return ev, fmt.Errorf("conversation id %q is not a UUID", truncate(dc.ConversationID, 64))
	}
	best := len(mediaTypes)
	type part struct {
		role  role
		spans []span
	}
	var parts []part
	var points []time.Time
	for i, p := range dc.Participants {
		pt := part{role: roleOf(p.Purpose)}
		for _, s := range p.Sessions {
			for rank, m := range mediaTypes {
				if strings.EqualFold(s.MediaType, m.name) && rank < best {
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
				sp := span{kind: strings.ToLower(seg.SegmentType), start: start, end: end}
				pt.spans = append(pt.spans, sp)
				points = append(points, start)
				if !end.IsZero() {
					points = append(points, end)
				}
			}
		}
		// The horizon counts the same facts as a snapshot's: boundaries
		// made by hold or unhold (a hold's ends, and the interact segments
		// they cut) carry no timestamp in a snapshot, so they are left out.
		holdEdges := map[time.Time]bool{}
		for _, sp := range pt.spans {
			if sp.kind == "hold" {
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
		ev.Detail = append(ev.Detail, safeToken(p.Purpose, 32)+":"+detailState(pt.spans))
		parts = append(parts, pt)
	}
	if best == len(mediaTypes) {
		return ev, fmt.Errorf("conversation %s has no session in a known media type", dc.ConversationID)
	}
	ev.ChannelType = mediaTypes[best].ch

	statusAt := func(t time.Time, now bool) (bridge.Status, time.Time) {
		var sig signals
		for _, p := range parts {
			for _, s := range p.spans {
				if !now && t.Before(s.start) {
					continue
				}
				sig.existed = true
				if !s.activeAt(t, now) {
					continue
				}
				sig.active = true
				switch p.role {
				case roleAgent:
					switch s.kind {
					case "interact":
						sig.connected = true
					case "hold":
						sig.held = true
						sig.holdStart = s.start
					case "alert", "dialing", "contacting":
						sig.ringing = true
					case "wrapup":
						sig.wrapup = true
					}
				case roleACD:
					sig.queued = true
				case roleIVR:
					sig.ivr = true
				}
			}
		}
		return sig.status()
	}

	slices.SortFunc(points, time.Time.Compare)
	points = slices.CompactFunc(points, time.Time.Equal)
	for _, t := range points {
		s, _ := statusAt(t, false)
		if s == "" || (len(ev.Steps) > 0 && ev.Steps[len(ev.Steps)-1].Status == s) {
			continue
		}
		ev.Steps = append(ev.Steps, bridge.Step{Status: s, At: t})
	}
	var holdStart time.Time
	ev.Status, holdStart = statusAt(time.Time{}, true)
	if ev.Status == "" {
		if len(ev.Steps) == 0 {
			return ev, errNoStatus
		}
		ev.Status = ev.Steps[len(ev.Steps)-1].Status
	}
	if ev.Status == bridge.StatusHeld {
		ev.StatusAt = holdStart
	}
	return ev, nil
}

// detailState names a participant's open segment, or "ended".
func detailState(spans []span) string {
	for _, s := range spans {
		if s.end.IsZero() {
			return safeToken(s.kind, 32)
		}
	}
	return "ended"
}
