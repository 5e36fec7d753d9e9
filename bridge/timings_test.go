package bridge

import (
	"encoding/json"
	"testing"
	"time"
)

// seqEvent is one sequenced observation (the tutorial's dialect): status
// to at sec, seen with who.
func seqEvent(id string, to Status, sec int, who Who) Event {
	return Event{InteractionID: id, ChannelType: ChannelVoice, Status: to, Who: who,
		Steps: []Step{{Status: to, At: at(sec), Who: who}}, Horizon: at(sec), ObservedAt: at(sec), Sequenced: true}
}

func TestTimings(t *testing.T) {
	q1, q2 := Who{QueueID: "q1"}, Who{QueueID: "q2"}
	a1, a2 := Who{QueueID: "q1", UserID: "a1"}, Who{QueueID: "q2", UserID: "a2"}
	type move struct {
		to  Status
		sec int
		who Who
	}
	tests := []struct {
		name  string
		moves []move
		want  Timings
	}{
		{"answered, held twice, wrapped up", []move{
			{StatusIVR, 0, Who{}}, {StatusQueued, 10, q1}, {StatusRinging, 40, a1}, {StatusConnected, 45, a1},
			{StatusHeld, 100, a1}, {StatusConnected, 130, a1}, {StatusHeld, 200, a1}, {StatusConnected, 210, a1},
			{StatusWrapup, 300, a1}, {StatusCompleted, 330, Who{}},
		}, Timings{QueueID: "q1", UserID: "a1", StartedAt: at(0), CompletedAt: at(330),
			Wait: 30 * time.Second, Alert: 5 * time.Second, Talk: (55 + 70 + 90) * time.Second, Hold: 40 * time.Second,
			Wrapup: 30 * time.Second, Holds: 2, Answered: true}},
		{"abandoned in queue", []move{
			{StatusQueued, 0, q1}, {StatusCompleted, 75, Who{}},
		}, Timings{QueueID: "q1", StartedAt: at(0), CompletedAt: at(75), Wait: 75 * time.Second,
			Abandoned: true, AbandonedIn: StatusQueued}},
		{"abandoned while ringing", []move{
			{StatusQueued, 0, q1}, {StatusRinging, 20, a1}, {StatusCompleted, 28, Who{}},
		}, Timings{QueueID: "q1", UserID: "a1", StartedAt: at(0), CompletedAt: at(28), Wait: 20 * time.Second,
			Alert: 8 * time.Second, Abandoned: true, AbandonedIn: StatusRinging}},
		{"transferred to another queue", []move{
			{StatusQueued, 0, q1}, {StatusRinging, 5, a1}, {StatusConnected, 7, a1}, {StatusQueued, 60, q2},
			{StatusRinging, 90, a2}, {StatusConnected, 95, a2}, {StatusCompleted, 200, Who{}},
		}, Timings{QueueID: "q2", UserID: "a2", StartedAt: at(0), CompletedAt: at(200), Wait: 35 * time.Second,
			Alert: 7 * time.Second, Talk: 158 * time.Second, Transfers: 1, Answered: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMachine(MachineConfig{})
			var got *Timings
			var out []Transition
			lastQueue := "" // a move without a queue names the one it was last in
			for i, mv := range tt.moves {
				ev := seqEvent("c1", mv.to, mv.sec, mv.who)
				out, _ = m.Apply(&ev, out[:0])
				if len(out) != 1 {
					t.Fatalf("move %d: %d transitions", i, len(out))
				}
				tr := out[0]
				if mv.who.QueueID != "" {
					lastQueue = mv.who.QueueID
				}
				wantQueue := lastQueue
				if tr.QueueID != wantQueue || tr.UserID != mv.who.UserID {
					t.Errorf("move %d to %s: queue %q user %q, want %q %q", i, mv.to, tr.QueueID, tr.UserID, wantQueue, mv.who.UserID)
				}
				if (tr.Timings != nil) != (mv.to == StatusCompleted) {
					t.Fatalf("move %d to %s: timings %v", i, mv.to, tr.Timings)
				}
				if tr.Timings != nil {
					got = tr.Timings
				}
			}
			want := tt.want
			want.ID, want.InteractionID, want.ChannelType = TimingsID("c1", uint64(len(tt.moves))), "c1", ChannelVoice
			if *got != want {
				t.Errorf("timings\n got %+v\nwant %+v", *got, want)
			}
			var decoded map[string]any
			if err := json.Unmarshal(got.AppendJSON(nil), &decoded); err != nil {
				t.Fatalf("payload %s: %v", got.AppendJSON(nil), err)
			}
			if decoded["handleMs"] != float64(want.Handle().Milliseconds()) || decoded["abandoned"] != want.Abandoned {
				t.Errorf("payload %s", got.AppendJSON(nil))
			}
		})
	}
}

// TestTimingsSurviveRestore: the tally is part of the state another
// writer or a restart restores.
func TestTimingsSurviveRestore(t *testing.T) {
	m := NewMachine(MachineConfig{})
	var out []Transition
	for _, ev := range []Event{seqEvent("c1", StatusQueued, 0, Who{QueueID: "q1"}), seqEvent("c1", StatusConnected, 30, Who{QueueID: "q1", UserID: "a1"})} {
		out, _ = m.Apply(&ev, out[:0])
	}
	state := out[0].State
	m2 := NewMachine(MachineConfig{})
	m2.Restore("c1", state, at(31))
	ev := seqEvent("c1", StatusCompleted, 90, Who{})
	out, _ = m2.Apply(&ev, out[:0])
	tm := out[0].Timings
	if tm == nil || tm.Wait != 30*time.Second || tm.Talk != 60*time.Second || tm.UserID != "a1" || tm.QueueID != "q1" || !tm.Answered {
		t.Fatalf("timings after a restore: %+v", tm)
	}
}
