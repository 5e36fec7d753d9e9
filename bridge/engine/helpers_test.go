package engine

import (
	"fmt"
	"strings"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// The engine's tests build events as the domain's tests do.

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

// snap builds an event from "status@sec" steps and a current status.
func snap(id string, current string, steps ...string) bridge.Event {
	ev := bridge.Event{InteractionID: id, ChannelType: bridge.ChannelVoice, ObservedAt: at(1000)}
	for _, s := range steps {
		var name string
		var sec int
		if _, err := fmt.Sscanf(strings.Replace(s, "@", " ", 1), "%s %d", &name, &sec); err != nil {
			panic(err)
		}
		ev.Steps = append(ev.Steps, bridge.Step{Status: bridge.Status(name), At: at(sec)})
		ev.Horizon = at(sec)
	}
	ev.Status = bridge.Status(current)
	return ev
}

// describe is "from>to" per transition ("null" for none).
func describe(ts []bridge.Transition) []string {
	var out []string
	for _, t := range ts {
		from := string(t.FromStatus)
		if from == "" {
			from = "null"
		}
		out = append(out, from+">"+string(t.ToStatus))
	}
	return out
}

// seqEvent is one sequenced observation (the tutorial's dialect): status
// to at sec, seen with who.
func seqEvent(id string, to bridge.Status, sec int, who bridge.Who) bridge.Event {
	return bridge.Event{InteractionID: id, ChannelType: bridge.ChannelVoice, Status: to, Who: who,
		Steps: []bridge.Step{{Status: to, At: at(sec), Who: who}}, Horizon: at(sec), ObservedAt: at(sec), Sequenced: true}
}
