package simulator

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// Record makes the analytics details query show details, a conversation
// as analytics recorded it (a record from a real org, moved in time as a
// whole to the simulator's clock), from now on: like every change, after
// AnalyticsLag. Recording the same conversation again replaces what
// analytics shows of it, as a conversation that went on does. GET
// /api/v2/conversations/{id} answers rest, if given. Record adds no ground
// truth: a test that replays real data knows what it expects.
func (s *Server) Record(details, rest []byte) error {
	var d struct {
		ConversationID    string `json:"conversationId"`
		ConversationStart string `json:"conversationStart"`
		ConversationEnd   string `json:"conversationEnd"`
		Participants      []struct {
			UserID   string `json:"userId"`
			Sessions []struct {
				Segments []struct {
					SegmentStart string `json:"segmentStart"`
					SegmentEnd   string `json:"segmentEnd"`
					QueueID      string `json:"queueId"`
				} `json:"segments"`
			} `json:"sessions"`
		} `json:"participants"`
	}
	if err := json.Unmarshal(details, &d); err != nil {
		return fmt.Errorf("simulator: record: %w", err)
	}
	f := &Frame{ConversationID: d.ConversationID, Details: details, REST: rest}
	var err error
	parse := func(v string) time.Time {
		t, perr := time.Parse(time.RFC3339Nano, v)
		if v != "" && perr != nil && err == nil {
			err = fmt.Errorf("simulator: record: %w", perr)
		}
		return t
	}
	f.Start, f.End = parse(d.ConversationStart), parse(d.ConversationEnd)
	open := false
	var last time.Time
	for _, p := range d.Participants {
		if p.UserID != "" && !slices.Contains(f.Users, p.UserID) {
			f.Users = append(f.Users, p.UserID)
		}
		for _, ss := range p.Sessions {
			for _, g := range ss.Segments {
				start, end := parse(g.SegmentStart), parse(g.SegmentEnd)
				if f.Start.IsZero() || start.Before(f.Start) {
					f.Start = start
				}
				open = open || end.IsZero()
				if end.After(last) {
					last = end
				}
				if g.QueueID != "" && !slices.Contains(f.Queues, g.QueueID) {
					f.Queues = append(f.Queues, g.QueueID)
				}
			}
		}
	}
	if err != nil {
		return err
	}
	if f.End.IsZero() && !open { // an older record, without conversationEnd
		f.End = last
	}
	if !f.End.IsZero() {
		f.Status = bridge.StatusCompleted
	}
	s.store.update(f, time.Now(), s.cfg.AnalyticsRetention, s.cfg.AnalyticsLag)
	return nil
}
