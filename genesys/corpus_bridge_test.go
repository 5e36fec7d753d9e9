package genesys_test

import (
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/bridge/engine"
	"github.com/genesys-bridge/genesys-bridge/genesys"
	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// The corpus of real data (testdata/real) through the whole bridge (the
// Notification Service stream, its back-fill, the pipeline), the way a
// new user meets it, in a bubble whose clock starts at 2000-01-01:
//   - an analytics record, as the back-fill after a gap meets it: the
//     socket dies without notice just after the conversation began and
//     comes back once it is over; analytics learnt the conversation as it
//     went (a version at every segment boundary) and lags two minutes;
//   - the same record after a restart: the bridge is down while it
//     happens and resumes from what it published last;
//   - recorded live frames, sent on the socket in the order recorded, and
//     a GET snapshot sent as a live frame.
//
// Each path must publish the history read by hand, moved with the record.
func TestRealCorpusThroughTheBridge(t *testing.T) {
	for _, it := range genesys.LoadCorpus(t) {
		var paths []string
		switch it.Kind {
		case "analytics":
			paths = []string{"after a gap", "after a restart"}
		case "frames", "snapshot":
			paths = []string{"live"}
		}
		for _, path := range paths {
			t.Run(strings.TrimSuffix(it.File, ".json")+"/"+path, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) { replayCorpusItem(t, it, path) })
			})
		}
	}
}

func replayCorpusItem(t *testing.T, it genesys.CorpusItem, path string) {
	const lag = 2 * time.Minute
	raw := it.Data(t)
	queues, users := refsOf(t, raw, it.Kind)
	mem := simulator.NewMemNet()
	// A few generated conversations on the same queues: something is
	// published before the restart, so the bridge knows where to resume.
	sim, err := simulator.Start(simulator.Config{
		Listener: mem, Speed: 1, Rate: 0.2, Conversations: 2, Seed: 3, HeartbeatInterval: 5 * time.Second,
		AnalyticsLag: lag, QueueIDs: queues, UserIDs: users, Channels: []bridge.ChannelType{bridge.ChannelChat},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	log, logs := testkit.Logger(t, slog.LevelInfo)
	pub := newMemPublisher()
	topics, err := genesys.Topics(genesys.TopicSet{Queues: queues, Users: users})
	if err != nil {
		t.Fatal(err)
	}
	tweak := func(sc *genesys.StreamConfig, _ *engine.Config) {
		sc.Topics, sc.HeartbeatInterval, sc.BackfillLag, sc.BackfillMaxWait = topics, 5*time.Second, lag, 10*time.Minute
	}
	b := startBubbleBridge(t, sim, mem, pub, log, false, tweak)
	<-sim.Done() // the generated conversations, published
	time.Sleep(time.Minute)

	var id string
	var shift time.Duration
	switch path {
	case "live":
		if it.Kind == "snapshot" {
			raw = []byte("[" + string(genesys.SnapshotFrame(raw, queues[0])) + "]")
		}
		id, shift = replayFrames(t, sim, raw)
		time.Sleep(time.Minute)
	default:
		var dc genesys.DetailsConversation
		if err := json.Unmarshal(raw, &dc); err != nil {
			t.Fatal(err)
		}
		id = dc.ConversationID
		bounds := genesys.Boundaries(t, &dc)
		// The conversation starts a second from now, the gap (or the
		// downtime) a moment after it.
		shift = time.Now().Add(time.Second).Sub(bounds[0]).Truncate(time.Millisecond)
		span := bounds[len(bounds)-1].Sub(bounds[0])
		if path == "after a gap" {
			time.AfterFunc(time.Second+time.Millisecond, func() { sim.Blackout(span + time.Minute) })
		} else {
			b.stop()
		}
		// Analytics learns the conversation as it goes.
		for _, at := range bounds {
			time.Sleep(time.Until(at.Add(shift)))
			cut := genesys.CutDetails(&dc, at)
			rec, err := json.Marshal(cut)
			if err != nil {
				t.Fatal(err)
			}
			if rec, err = genesys.ShiftTimes(rec, shift); err != nil {
				t.Fatal(err)
			}
			if err := sim.Record(rec, nil); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Minute)
		if path == "after a restart" {
			b = startBubbleBridge(t, sim, mem, pub, log, true, tweak)
		}
		time.Sleep(2*lag + 2*time.Minute) // the gap's history
	}
	b.stop()
	var got []bridge.Transition
	for _, tr := range pub.published() {
		if tr.InteractionID == id {
			got = append(got, tr)
		}
	}
	genesys.CheckHistory(t, path, got)
	if h, w := genesys.History(got), it.WantShifted(t, shift); !slices.Equal(h, w) {
		t.Errorf("%s: published\n\t%s\nread by hand (moved by %s)\n\t%s\nlog:\n%s", path, strings.Join(h, "\n\t"), shift,
			strings.Join(w, "\n\t"), tailLines(logs.String(), 40))
	}
}

// replayFrames sends recorded frames on the socket, moved in time so that
// the first one's latest timestamp is now, in the order recorded, a
// second apart. It returns the conversation's id and the move.
func replayFrames(t *testing.T, sim *simulator.Server, raw []byte) (string, time.Duration) {
	var frames []json.RawMessage
	if err := json.Unmarshal(raw, &frames); err != nil {
		t.Fatal(err)
	}
	var first struct {
		EventBody struct {
			ID string `json:"id"`
		} `json:"eventBody"`
	}
	if err := json.Unmarshal(frames[0], &first); err != nil {
		t.Fatal(err)
	}
	ev, err := genesys.DecodeNotification(frames[0], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	shift := time.Since(ev.Event.Horizon).Truncate(time.Millisecond)
	for _, f := range frames {
		moved, err := genesys.ShiftTimes(f, shift)
		if err != nil {
			t.Fatal(err)
		}
		if sim.Inject(moved) == 0 {
			t.Fatal("no socket took the frame")
		}
		time.Sleep(time.Second)
	}
	return first.EventBody.ID, shift
}

// refsOf lists the queue and user ids a recorded item names (the bridge
// subscribes to them, and the back-fill asks analytics for them).
func refsOf(t *testing.T, raw []byte, kind string) (queues, users []string) {
	add := func(dst *[]string, v string) {
		if bridge.ValidRef(v) && len(v) == 36 && !slices.Contains(*dst, v) {
			*dst = append(*dst, v)
		}
	}
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(e, k)
			}
		case []any:
			for _, e := range x {
				walk(e, key)
			}
		case string:
			switch key {
			case "queueId":
				add(&queues, x)
			case "userId":
				add(&users, x)
			}
		}
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	walk(v, "")
	if len(users) == 0 {
		t.Fatalf("%s item names no user", kind)
	}
	if len(queues) == 0 { // (a chat offered straight to an agent) the generated conversations need one
		queues = []string{"5d2e8c1a-7b3f-4e6a-9c0d-1e2f3a4b5c6d"}
	}
	return queues, users
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
