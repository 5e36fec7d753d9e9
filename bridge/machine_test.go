package bridge

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

// snap builds an event from "status@sec" steps and a current status; a
// current "held@sec" sets StatusAt.
func snap(id string, current string, steps ...string) Event {
	ev := Event{InteractionID: id, ChannelType: ChannelVoice, ObservedAt: at(1000)}
	for _, s := range steps {
		var name string
		var sec int
		if _, err := fmt.Sscanf(strings.Replace(s, "@", " ", 1), "%s %d", &name, &sec); err != nil {
			panic(err)
		}
		ev.Steps = append(ev.Steps, Step{Status: Status(name), At: at(sec)})
		ev.Horizon = at(sec)
	}
	if name, sec, ok := strings.Cut(current, "@"); ok {
		var n int
		fmt.Sscanf(sec, "%d", &n)
		ev.Status, ev.StatusAt = Status(name), at(n)
	} else {
		ev.Status = Status(current)
	}
	return ev
}

func describe(ts []Transition) []string {
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

func TestMachineApply(t *testing.T) {
	ivr := snap("c1", "ivr", "ivr@1")
	queued := snap("c1", "queued", "ivr@1", "queued@2")
	ringing := snap("c1", "ringing", "ivr@1", "queued@2", "ringing@3")
	connected := snap("c1", "connected", "ivr@1", "queued@2", "ringing@3", "connected@4")
	held := snap("c1", "held@5", "ivr@1", "queued@2", "ringing@3", "connected@4")
	held2 := snap("c1", "held@7", "ivr@1", "queued@2", "ringing@3", "connected@4")
	wrapup := snap("c1", "wrapup", "ivr@1", "queued@2", "ringing@3", "connected@4", "wrapup@9")
	completed := snap("c1", "completed", "ivr@1", "queued@2", "ringing@3", "connected@4", "wrapup@9", "completed@10")

	tests := []struct {
		name     string
		events   []Event
		want     []string
		verdicts []Verdict
	}{
		{
			name:     "in order",
			events:   []Event{ivr, queued, ringing, connected, wrapup, completed},
			want:     []string{"null>ivr", "ivr>queued", "queued>ringing", "ringing>connected", "connected>wrapup", "wrapup>completed"},
			verdicts: []Verdict{VerdictApplied, VerdictApplied, VerdictApplied, VerdictApplied, VerdictApplied, VerdictApplied},
		},
		{
			name:     "duplicates yield nothing",
			events:   []Event{ivr, ivr, queued, queued, queued},
			want:     []string{"null>ivr", "ivr>queued"},
			verdicts: []Verdict{VerdictApplied, VerdictUnchanged, VerdictApplied, VerdictUnchanged, VerdictUnchanged},
		},
		{
			name:     "swapped frames: later frame proves the skipped status, older one is stale",
			events:   []Event{ivr, ringing, queued, connected},
			want:     []string{"null>ivr", "ivr>queued", "queued>ringing", "ringing>connected"},
			verdicts: []Verdict{VerdictApplied, VerdictApplied, VerdictStale, VerdictApplied},
		},
		{
			name:   "first sight mid-conversation reconstructs history",
			events: []Event{connected},
			want:   []string{"null>ivr", "ivr>queued", "queued>ringing", "ringing>connected"},
		},
		{
			name:   "hold and unhold",
			events: []Event{connected, held, connected, held2, connected, wrapup},
			want:   []string{"null>ivr", "ivr>queued", "queued>ringing", "ringing>connected", "connected>held", "held>connected", "connected>held", "held>connected", "connected>wrapup"},
		},
		{
			name:     "a hold already seen to end is stale",
			events:   []Event{connected, held, connected, held},
			want:     []string{"null>ivr", "ivr>queued", "queued>ringing", "ringing>connected", "connected>held", "held>connected"},
			verdicts: []Verdict{VerdictApplied, VerdictApplied, VerdictApplied, VerdictStale},
		},
		{
			name:   "hang up while held",
			events: []Event{connected, held, wrapup},
			want:   []string{"null>ivr", "ivr>queued", "queued>ringing", "ringing>connected", "connected>held", "held>wrapup"},
		},
		{
			name:     "held frame after hang-up is stale",
			events:   []Event{connected, wrapup, held},
			want:     []string{"null>ivr", "ivr>queued", "queued>ringing", "ringing>connected", "connected>wrapup"},
			verdicts: []Verdict{VerdictApplied, VerdictApplied, VerdictStale},
		},
		{
			name:   "status without timestamps (overlay only)",
			events: []Event{snap("c1", "queued"), snap("c1", "queued"), snap("c1", "connected")},
			want:   []string{"null>queued", "queued>connected"},
		},
		{
			// Alerting carries no timestamp: the ringing frame proves nothing
			// newer than the queued one, and a late copy of the queued frame
			// proves nothing newer than the ringing one. Leaving ringing
			// always sets a timestamp, so the copy is older.
			name: "a late copy of the frame before an untimed ringing changes nothing",
			events: []Event{
				snap("c1", "queued", "queued@2"),
				snap("c1", "ringing", "queued@2"),
				snap("c1", "queued", "queued@2"),
				snap("c1", "ringing", "queued@2"),
			},
			want: []string{"null>queued", "queued>ringing"},
		},
		{
			name: "a source that orders applies statuses of one instant in arrival order",
			events: func() []Event {
				a, b := snap("c1", "queued", "queued@2"), snap("c1", "wrapup", "wrapup@2")
				a.Sequenced, b.Sequenced = true, true
				return []Event{a, b}
			}(),
			want: []string{"null>queued", "queued>wrapup"},
		},
		{
			name: "ringing, no answer, back to queue",
			events: []Event{
				snap("c1", "queued", "queued@1"),
				snap("c1", "ringing", "queued@1", "ringing@2"),
				snap("c1", "queued", "queued@1", "ringing@2", "queued@3"),
				snap("c1", "ringing", "queued@1", "ringing@2", "queued@3", "ringing@4"),
			},
			want: []string{"null>queued", "queued>ringing", "ringing>queued", "queued>ringing"},
		},
	}
	backfilled := func(ev Event) Event { ev.Backfilled = true; return ev }
	tests = append(tests, []struct {
		name     string
		events   []Event
		want     []string
		verdicts []Verdict
	}{
		{
			name:   "a back-filled snapshot fetched before a live hold does not unhold",
			events: []Event{connected, held, backfilled(connected), wrapup},
			want:   []string{"null>ivr", "ivr>queued", "queued>ringing", "ringing>connected", "connected>held", "held>wrapup"},
		},
		{
			name:   "a back-filled snapshot with a newer fact applies its status",
			events: []Event{ringing, backfilled(held)},
			want:   []string{"null>ivr", "ivr>queued", "queued>ringing", "ringing>connected", "connected>held"},
		},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMachine(MachineConfig{})
			var got []Transition
			for i, ev := range tt.events {
				var v Verdict
				got, v = m.Apply(&ev, got)
				if tt.verdicts != nil && v != tt.verdicts[i] {
					t.Errorf("event %d: verdict %v, want %v", i, v, tt.verdicts[i])
				}
			}
			if g, w := strings.Join(describe(got), " "), strings.Join(tt.want, " "); g != w {
				t.Errorf("transitions\n got: %s\nwant: %s", g, w)
			}
			seen := map[string]bool{}
			for _, tr := range got {
				if seen[tr.ID] {
					t.Errorf("transition id %s repeats (%s>%s)", tr.ID, tr.FromStatus, tr.ToStatus)
				}
				seen[tr.ID] = true
			}
		})
	}
}

// Two machines that see different subsets and orders of the same frames
// derive the same ids for the same transitions.
func TestMachineIDsAgreeAcrossReplicas(t *testing.T) {
	frames := []Event{
		snap("c9", "queued", "queued@1"),
		snap("c9", "ringing", "queued@1", "ringing@2"),
		snap("c9", "connected", "queued@1", "ringing@2", "connected@3"),
		snap("c9", "held@4", "queued@1", "ringing@2", "connected@3"),
		snap("c9", "connected", "queued@1", "ringing@2", "connected@3"),
		snap("c9", "completed", "queued@1", "ringing@2", "connected@3", "completed@5"),
	}
	a, b := NewMachine(MachineConfig{}), NewMachine(MachineConfig{})
	var ta, tb []Transition
	for i := range frames {
		ta, _ = a.Apply(&frames[i], ta)
	}
	for _, i := range []int{1, 0, 3, 2, 4, 5} { // b misses nothing but sees a swap
		tb, _ = b.Apply(&frames[i], tb)
	}
	ids := map[string]string{}
	for _, tr := range ta {
		ids[string(tr.FromStatus)+">"+string(tr.ToStatus)] = tr.ID
	}
	for _, tr := range tb {
		if id, ok := ids[string(tr.FromStatus)+">"+string(tr.ToStatus)]; ok && id != tr.ID {
			t.Errorf("%s>%s: id %s on one replica, %s on the other", tr.FromStatus, tr.ToStatus, id, tr.ID)
		}
	}
}

func TestMachineReleasesCompleted(t *testing.T) {
	m := NewMachine(MachineConfig{Grace: 30 * time.Second, TombstoneTTL: time.Minute, IdleTTL: time.Hour})
	done := snap("c1", "completed", "queued@1", "completed@2")
	done.ObservedAt = at(10)
	open := snap("c2", "queued", "queued@1")
	open.ObservedAt = at(10)
	m.Apply(&done, nil)
	m.Apply(&open, nil)
	if n := m.Sweep(at(39)); n != 0 {
		t.Fatalf("released %d before the grace period ended", n)
	}
	if n := m.Sweep(at(40)); n != 1 {
		t.Fatalf("released %d at the end of the grace period, want 1", n)
	}
	if o, tomb := m.Len(); o != 1 || tomb != 1 {
		t.Fatalf("open %d tombstones %d, want 1 and 1", o, tomb)
	}
	late := snap("c1", "completed", "queued@1", "completed@2")
	if out, v := m.Apply(&late, nil); v != VerdictLate || len(out) != 0 {
		t.Fatalf("late frame: verdict %v, %d transitions", v, len(out))
	}
	if !m.Forgotten().IsZero() {
		t.Fatalf("forgotten %v while c1 is remembered", m.Forgotten())
	}
	m.Sweep(at(100)) // 60s after the release: kept up to a quarter longer
	if _, tomb := m.Len(); tomb != 1 {
		t.Fatalf("tombstone dropped before its TTL and the quarter")
	}
	m.Sweep(at(115))
	if _, tomb := m.Len(); tomb != 0 {
		t.Fatalf("tombstone kept past its TTL and a quarter")
	}
	if got := m.Forgotten(); !got.Equal(at(55)) {
		t.Fatalf("forgotten %v, want the end of the quarter c1 was released in, %v", got, at(55))
	}
	m.Sweep(at(10 + 3600))
	if o, _ := m.Len(); o != 0 {
		t.Fatalf("idle interaction not released")
	}
}

// Memory stays bounded however many interactions pass through.
func TestMachineBoundedState(t *testing.T) {
	m := NewMachine(MachineConfig{Grace: time.Second, TombstoneTTL: 2 * time.Second})
	for i := range 10000 {
		now := at(i / 100) // 100 interactions a second
		for _, ev := range []Event{
			snap(fmt.Sprint("c", i), "queued", "queued@1"),
			snap(fmt.Sprint("c", i), "completed", "queued@1", "completed@2"),
		} {
			ev.ObservedAt = now
			m.Apply(&ev, nil)
		}
		if i%100 == 0 {
			m.Sweep(now)
		}
	}
	open, tomb := m.Len()
	if open > 300 || tomb > 400 {
		t.Fatalf("state grew: %d open, %d tombstones after 10000 interactions", open, tomb)
	}
}

// A handle set through reaches the interaction the Machine holds now: the
// record itself while it is held, the one Restore put in its place after,
// nothing once it was released.
func TestMachineHandleFollowsTheRecord(t *testing.T) {
	m := NewMachine(MachineConfig{})
	ev := snap("h1", "alerting", "alerting@10")
	m.Apply(&ev, nil)
	h := m.Handle("h1")
	if h == (Handle{}) {
		t.Fatal("no handle for a held interaction")
	}
	m.SetVersionOf(h, "h1", 7)
	if v, owned, ok := m.Version("h1"); !ok || !owned || v != 7 {
		t.Fatalf("through the record: version %d owned %v held %v", v, owned, ok)
	}
	m.Restore("h1", State{Channel: ChannelVoice, Status: StatusConnected, Version: 9}, at(20))
	if v, owned, _ := m.VersionOf(h, "h1"); v != 9 || owned {
		t.Fatalf("after Restore: version %d owned %v, want the restored 9, not owned", v, owned)
	}
	m.SetVersionOf(h, "h1", 12)
	if v, owned, _ := m.Version("h1"); v != 12 || !owned {
		t.Fatalf("set through a replaced record: version %d owned %v, want 12 owned", v, owned)
	}
	h = m.Handle("h1")
	m.Sweep(at(20).Add(100 * 24 * time.Hour)) // idle: released
	if _, _, ok := m.VersionOf(h, "h1"); ok {
		t.Fatal("a released interaction is still found through its handle")
	}
	m.SetVersionOf(h, "h1", 15) // nothing to set
	if _, _, ok := m.Version("h1"); ok {
		t.Fatal("setting through a released record brought it back")
	}
}

// The rules real data needs (see package genesys, testdata/real):
// completed is terminal, a back-filled history is aligned with the state
// by the applied status (so a status within the clock tolerance after it
// is applied), and no transition is stamped before the one it follows.
func TestMachineRealDataRules(t *testing.T) {
	ms := func(sec int, milli int) time.Time { return at(sec).Add(time.Duration(milli) * time.Millisecond) }
	steps := func(ev Event, pairs ...any) Event {
		ev.Steps = nil
		for i := 0; i < len(pairs); i += 2 {
			ev.Steps = append(ev.Steps, Step{Status: pairs[i].(Status), At: pairs[i+1].(time.Time)})
			ev.Horizon = pairs[i+1].(time.Time)
		}
		return ev
	}
	base := Event{InteractionID: "c1", ChannelType: ChannelVoice, ObservedAt: at(1000)}
	live := func(status Status, pairs ...any) Event {
		ev := steps(base, pairs...)
		ev.Status = status
		return ev
	}
	history := func(status Status, pairs ...any) Event {
		ev := live(status, pairs...)
		ev.Backfilled = true
		return ev
	}
	withHorizon := func(ev Event, h time.Time) Event { ev.Horizon = h; return ev }
	tests := []struct {
		name   string
		events []Event
		want   []string
	}{
		{"nothing follows completed (a frame whose state lags)",
			[]Event{
				live(StatusCompleted, StatusConnected, at(4), StatusWrapup, at(9), StatusCompleted, at(10)),
				live(StatusConnected, StatusConnected, at(4)),
				history(StatusWrapup, StatusConnected, at(4), StatusWrapup, at(9)),
			},
			[]string{"null>connected", "connected>wrapup", "wrapup>completed"}},
		{"a 1 ms wrap-up back-filled after the live disconnect",
			[]Event{
				live(StatusWrapup, StatusConnected, at(4), StatusWrapup, at(9)),
				history(StatusCompleted, StatusConnected, ms(4, 3), StatusWrapup, ms(9, 3), StatusCompleted, ms(9, 4)),
			},
			[]string{"null>connected", "connected>wrapup", "wrapup>completed"}},
		{"a failed offer back-filled after the live queue",
			[]Event{
				live(StatusQueued, StatusQueued, at(2)),
				history(StatusRinging, StatusQueued, ms(2, -2), StatusRinging, ms(2, 1), StatusQueued, ms(2, 1).Add(time.Nanosecond), StatusRinging, at(6)),
			},
			[]string{"null>queued", "queued>ringing", "ringing>queued", "queued>ringing"}},
		{"the same failed offer seen live first is not applied twice",
			[]Event{
				live(StatusQueued, StatusQueued, at(2), StatusRinging, ms(3, 0).Add(-time.Nanosecond), StatusQueued, at(3)),
				history(StatusQueued, StatusQueued, ms(2, 2), StatusRinging, ms(3, 2), StatusQueued, ms(3, 2).Add(time.Nanosecond)),
			},
			[]string{"null>queued", "queued>ringing", "ringing>queued"}},
		{"a status seen ringing live does not align a history",
			[]Event{
				live(StatusQueued, StatusQueued, at(2), StatusRinging, ms(3, 0).Add(-time.Nanosecond), StatusQueued, at(3)),
				live(StatusRinging, StatusQueued, at(2), StatusRinging, ms(3, 0).Add(-time.Nanosecond), StatusQueued, at(3)),
				history(StatusConnected, StatusQueued, ms(2, 2), StatusRinging, ms(3, 2), StatusQueued, ms(3, 2).Add(time.Nanosecond), StatusRinging, at(8), StatusConnected, at(9)),
			},
			[]string{"null>queued", "queued>ringing", "ringing>queued", "queued>ringing", "ringing>connected"}},
		{"frames held for a gap, older than the history's last step (found by TestTwoReplicas)",
			[]Event{
				// The history: queued, then an agent alerting (analytics
				// times the alert; no live timestamp records it).
				withHorizon(history(StatusRinging, StatusQueued, ms(2, -4), StatusRinging, ms(5, 3)), at(2)),
				// Held live frames from before the alert: an attribute
				// update (no newer timestamp), the alert itself (untimed),
				// then the abandon.
				live(StatusQueued, StatusQueued, at(2)),
				live(StatusRinging, StatusQueued, at(2)),
				live(StatusCompleted, StatusQueued, at(2), StatusCompleted, at(8)),
			},
			[]string{"null>queued", "queued>ringing", "ringing>completed"}},
		{"a return to the queue timed after the history's alert is applied",
			[]Event{
				withHorizon(history(StatusRinging, StatusQueued, ms(2, -4), StatusRinging, ms(5, 3)), at(2)),
				live(StatusQueued, StatusQueued, ms(6, 0)),
			},
			[]string{"null>queued", "queued>ringing", "ringing>queued"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMachine(MachineConfig{})
			var out []Transition
			for i := range tt.events {
				tt.events[i].ObservedAt = at(1000 + i)
				out, _ = m.Apply(&tt.events[i], out)
			}
			if got := describe(out); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			for i := 1; i < len(out); i++ {
				if out[i].OccurredAt.Before(out[i-1].OccurredAt) {
					t.Errorf("%s at %s stamped before the %s it follows (%s)", out[i].ToStatus, out[i].OccurredAt, out[i-1].ToStatus, out[i-1].OccurredAt)
				}
			}
		})
	}
}

// A status only seen at its arrival (ringing, stamped when observed) is
// followed by a step timed earlier in another source: the transition is
// stamped no earlier than the ringing.
func TestMachineNeverStampsBeforeThePrevious(t *testing.T) {
	m := NewMachine(MachineConfig{})
	ring := Event{InteractionID: "c1", ChannelType: ChannelVoice, Status: StatusRinging, ObservedAt: at(50),
		Steps: []Step{{Status: StatusQueued, At: at(2)}}, Horizon: at(2)}
	connect := Event{InteractionID: "c1", ChannelType: ChannelVoice, Status: StatusConnected, ObservedAt: at(51), Backfilled: true,
		Steps: []Step{{Status: StatusQueued, At: at(2)}, {Status: StatusRinging, At: at(3)}, {Status: StatusConnected, At: at(10)}}, Horizon: at(10)}
	out, _ := m.Apply(&ring, nil)
	out, _ = m.Apply(&connect, out)
	if got := describe(out); strings.Join(got, " ") != "null>queued queued>ringing ringing>connected" {
		t.Fatalf("got %v", got)
	}
	if out[2].OccurredAt.Before(out[1].OccurredAt) {
		t.Errorf("connected at %s before the ringing it follows (%s)", out[2].OccurredAt, out[1].OccurredAt)
	}
}
