package genesys_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/genesys"
	"github.com/genesys-bridge/genesys-bridge/genesys/genesystest"
)

func envelope(f genesystest.Frame) []byte {
	return fmt.Appendf(nil, `{"topicName":%q,"version":"2","eventBody":%s,"metadata":{"CorrelationId":"x"}}`, f.Topics[0], f.Body)
}

func truthString(ts []genesystest.Truth) string {
	var b strings.Builder
	for _, t := range ts {
		from := string(t.From)
		if from == "" {
			from = "null"
		}
		fmt.Fprintf(&b, "%s>%s ", from, t.To)
	}
	return b.String()
}

func transitionsString(ts []bridge.Transition) string {
	var b strings.Builder
	for _, t := range ts {
		from := string(t.FromStatus)
		if from == "" {
			from = "null"
		}
		fmt.Fprintf(&b, "%s>%s ", from, t.ToStatus)
	}
	return b.String()
}

// Every simulated conversation, decoded frame by frame from the wire and run
// through the state machine, yields exactly the simulator's ground truth;
// so does the same conversation with frames duplicated and with each
// provably ordered pair swapped.
func TestDeriveMatchesSimulatorTruth(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	pop := genesystest.NewPopulation(rng, 2, 5)
	start := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	kinds := map[string]int{}
	for i := range 500 {
		ch := []bridge.ChannelType{bridge.ChannelVoice, bridge.ChannelChat, bridge.ChannelEmail, bridge.ChannelMessage, bridge.ChannelCallback, bridge.ChannelVideo}[i%6]
		sc := genesystest.Generate(rng, pop, ch, start.Add(time.Duration(i)*time.Minute))
		kinds[sc.Kind]++
		orders := map[string][]int{"in order": nil, "duplicated": nil}
		for j := range sc.Frames {
			orders["in order"] = append(orders["in order"], j)
			orders["duplicated"] = append(orders["duplicated"], j, j)
		}
		// Swap one pair where the later frame carries a newer timestamp and
		// the earlier frame's status is timestamp-proven (not a hold change).
		for j := 0; j+1 < len(sc.Frames); j++ {
			a, b := sc.Frames[j], sc.Frames[j+1]
			proven := j == 0 || a.Status == sc.Frames[j-1].Status || a.Horizon.After(sc.Frames[j-1].Horizon)
			if b.Horizon.After(a.Horizon) && a.Status != bridge.StatusHeld && proven {
				o := append([]int(nil), orders["in order"]...)
				o[j], o[j+1] = o[j+1], o[j]
				orders[fmt.Sprintf("swap %d", j)] = o
			}
		}
		for name, order := range orders {
			m := bridge.NewMachine(bridge.MachineConfig{})
			var got []bridge.Transition
			for _, j := range order {
				f, err := genesys.DecodeNotification(envelope(sc.Frames[j]), start)
				if err != nil {
					t.Fatalf("%s %s frame %d: %v", sc.Kind, ch, j, err)
				}
				if f.Kind != genesys.FrameEvent {
					t.Fatalf("frame kind %v", f.Kind)
				}
				if err := f.Event.Validate(); err != nil {
					t.Fatalf("validate: %v", err)
				}
				if f.Event.ChannelType != ch {
					t.Fatalf("channel %s, want %s", f.Event.ChannelType, ch)
				}
				got, _ = m.Apply(&f.Event, got)
			}
			if g, w := transitionsString(got), truthString(sc.Truth); g != w {
				t.Errorf("conversation %d (%s, %s), %s:\n got: %s\nwant: %s", i, ch, sc.Kind, name, g, w)
			}
		}
	}
	for _, k := range []string{"answered", "abandoned", "transfer", "noanswer", "held-hangup"} {
		if kinds[k] == 0 {
			t.Errorf("no %s conversation generated", k)
		}
	}
}
