package simulator

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// The shapes recorded from real orgs (testdata/real at the repository's
// root) that no schema shows are all generated, each in the source that
// shows it: a pause between an agent's interact and wrap-up segments, a
// zero-length alert with an errorCode (a failed offer) followed by the
// queue, a 1 ms wrap-up segment, an internal user calling an IVR number
// (no customer), a live frame whose state lags its own timestamps, and a
// blind transfer whose wrap-up overlaps the next queue.
func TestScriptsShowRealShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	pop := NewPopulation(rng, 2, 5)
	start := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	seen := map[string]int{}
	for i := range 600 {
		ch := []bridge.ChannelType{bridge.ChannelVoice, bridge.ChannelChat, bridge.ChannelEmail, bridge.ChannelMessage, bridge.ChannelCallback, bridge.ChannelVideo}[i%6]
		sc := Generate(rng, pop, ch, start.Add(time.Duration(i)*time.Minute), 1)
		for _, f := range sc.Frames {
			shapesInLive(t, f.Body, seen)
		}
		shapesInDetails(t, sc.Frames[len(sc.Frames)-1].Details, seen)
	}
	for _, shape := range []string{"pause before wrap-up", "failed offer", "1 ms wrap-up", "internal caller", "state lags timestamps", "wrap-up overlaps the next queue"} {
		if seen[shape] == 0 {
			t.Errorf("no %s generated", shape)
		}
	}
	t.Logf("shapes: %v", seen)
}

func shapesInLive(t *testing.T, body []byte, seen map[string]int) {
	var c struct {
		Participants []struct {
			EndTime string `json:"endTime"`
			media[liveComm]
		} `json:"participants"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	for _, p := range c.Participants {
		for _, cs := range [][]liveComm{p.Calls, p.Callbacks, p.Chats, p.Emails, p.Messages, p.Videos} {
			for _, cm := range cs {
				if cm.State == "connected" && cm.DisconnectedTime != "" && p.EndTime == "" && cm.AfterCallWork != nil && cm.AfterCallWork.State == "pending" {
					seen["state lags timestamps"]++
				}
			}
		}
	}
}

func shapesInDetails(t *testing.T, body []byte, seen map[string]int) {
	var d wireDetails
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil && s != "" {
			t.Fatal(err)
		}
		return v
	}
	customer := false
	var queues []wireSegment
	for _, p := range d.Participants {
		customer = customer || p.Purpose == "customer"
		if p.Purpose == "acd" {
			queues = append(queues, p.Sessions[0].Segments...)
		}
	}
	if !customer && len(d.Participants) > 0 && d.Participants[0].Purpose == "user" {
		seen["internal caller"]++
	}
	for _, p := range d.Participants {
		if p.Purpose != "agent" {
			continue
		}
		segs := p.Sessions[0].Segments
		for j, s := range segs {
			start, end := at(s.SegmentStart), at(s.SegmentEnd)
			switch {
			case s.SegmentType == "alert" && s.ErrorCode != "" && start.Equal(end):
				seen["failed offer"]++
			case s.SegmentType == "wrapup" && end.Sub(start) == time.Millisecond:
				seen["1 ms wrap-up"]++
			}
			if s.SegmentType == "wrapup" && j > 0 && start.After(at(segs[j-1].SegmentEnd)) {
				seen["pause before wrap-up"]++
			}
			if s.SegmentType == "wrapup" {
				for _, q := range queues {
					if qs := at(q.SegmentStart); !qs.Before(start) && qs.Before(end) {
						seen["wrap-up overlaps the next queue"]++
					}
				}
			}
		}
	}
}
