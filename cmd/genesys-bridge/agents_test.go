package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
	"github.com/genesys-bridge/genesys-bridge/publish"
)

func isAgentSubject(subject, prefix string) bool {
	return strings.HasPrefix(subject, prefix+"."+publish.AgentsToken+".")
}

// agentMessage is an agent transition as a consumer reads it, by the
// documented field names.
type agentMessage struct {
	ID                string   `json:"id"`
	UserID            string   `json:"userId"`
	FromRoutingStatus *string  `json:"fromRoutingStatus"`
	ToRoutingStatus   string   `json:"toRoutingStatus"`
	FromPresence      *string  `json:"fromPresence"`
	ToPresence        string   `json:"toPresence"`
	ActiveQueueIDs    []string `json:"activeQueueIds"`
	OccurredAt        string   `json:"occurredAt"`
	InPreviousMs      int64    `json:"inPreviousMs"`
	Backfilled        bool     `json:"backfilled"`
	Incomplete        bool     `json:"incomplete"`
}

// compareAgents checks the stream's agent transitions against the
// simulator's agents' truth: each once, in order per agent, on its
// subject, with the message id in the payload.
func compareAgents(t *testing.T, truth []simulator.AgentTruth, got []published, prefix string) {
	t.Helper()
	pair := func(r, p string) string { return r + "/" + p }
	want := map[string][]string{} // agent -> "from>to" in order
	for _, tr := range truth {
		want[tr.UserID] = append(want[tr.UserID], pair(string(tr.FromRouting), string(tr.FromPresence))+">"+pair(string(tr.ToRouting), string(tr.ToPresence)))
	}
	have := map[string][]string{}
	found, incomplete, backfilled := 0, 0, 0
	for _, p := range got {
		if !isAgentSubject(p.Subject, prefix) {
			continue
		}
		found++
		var m agentMessage
		if err := json.Unmarshal(p.Raw, &m); err != nil {
			t.Errorf("agent message %s: %v", p.Raw, err)
			continue
		}
		from := pair(strings.TrimPrefix(str(m.FromRoutingStatus), "null"), strings.TrimPrefix(str(m.FromPresence), "null"))
		have[m.UserID] = append(have[m.UserID], from+">"+pair(m.ToRoutingStatus, m.ToPresence))
		if wantSubject := fmt.Sprintf("%s.agents.%s.%s", prefix, m.ToRoutingStatus, m.UserID); p.Subject != wantSubject {
			t.Errorf("subject %q, want %q", p.Subject, wantSubject)
		}
		if p.MsgID == "" || p.MsgID != m.ID {
			t.Errorf("Nats-Msg-Id %q does not match payload id %q", p.MsgID, m.ID)
		}
		if m.Incomplete {
			incomplete++
		}
		if m.Backfilled {
			backfilled++
		}
	}
	var missing, dup, extra, outOfOrder int
	for id, w := range want {
		h := have[id]
		counts := map[string]int{}
		for _, x := range w {
			counts[x]++
		}
		for _, x := range h {
			counts[x]--
		}
		for x, n := range counts {
			switch {
			case n > 0:
				missing += n
				t.Errorf("agent %s: missing %s (x%d)", id[:8], x, n)
			case n < 0 && strings.Contains(strings.Join(w, " "), x):
				dup -= n
				t.Errorf("agent %s: published twice: %s", id[:8], x)
			case n < 0:
				extra -= n
				t.Errorf("agent %s: published but not in the truth: %s", id[:8], x)
			}
		}
		if strings.Join(h, " ") != strings.Join(w, " ") {
			outOfOrder++
			if outOfOrder <= 3 {
				t.Errorf("agent %s:\n stream %s\n truth  %s", id[:8], strings.Join(h, " "), strings.Join(w, " "))
			}
		}
	}
	for id := range have {
		if want[id] == nil {
			t.Errorf("agent %s in the stream, not in the truth", id)
		}
	}
	t.Logf("agents %d: agent transitions expected %d, found %d, missing %d, duplicated %d, extra %d, out of order %d, back-filled %d, marked incomplete %d",
		len(want), len(truth), found, missing, dup, extra, outOfOrder, backfilled, incomplete)
}
