package genesys_test

import (
	"log/slog"
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

// The worst moments for a gap: while the bridge is away, holds begin and
// end, agents start to ring, wrap-ups end and conversations complete; and
// analytics, the only record of the holds, lags two minutes behind. Once
// as a dead socket, once as a crash and restart of the bridge (memory
// lost, state preloaded from the stream). Every transition is published
// once, in order, none marked incomplete; the frames held back after the
// gap wait about the analytics lag.
func TestWorstMoments(t *testing.T) {
	for _, restart := range []bool{false, true} {
		name := map[bool]string{false: "dead socket", true: "restart"}[restart]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { worstMoments(t, restart) })
		})
	}
}

func worstMoments(t *testing.T, restart bool) {
	const lag = 2 * time.Minute
	mem := simulator.NewMemNet()
	sim, err := simulator.Start(simulator.Config{
		Listener: mem, Speed: 1, Rate: 0.5, Conversations: 240, Seed: 23, HeartbeatInterval: 5 * time.Second,
		AnalyticsLag: lag, DuplicateRate: 0.05, ReorderRate: 0.05,
		Channels: []bridge.ChannelType{bridge.ChannelVoice, bridge.ChannelCallback, bridge.ChannelEmail},
	})
	if err != nil {
		t.Fatal(err)
	}
	logs := &testkit.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	pub := newMemPublisher()
	var held heldStats
	tweak := func(sc *genesys.StreamConfig, pc *engine.Config) {
		sc.HeartbeatInterval, sc.BackfillLag, sc.BackfillMaxWait = 5*time.Second, lag, 10*time.Minute
		pc.OnHeld = held.add
	}
	b := startBubbleBridge(t, sim, mem, pub, log, false, tweak)

	time.Sleep(4 * time.Minute) // conversations at every stage
	gapStart := time.Now()
	const away = 50 * time.Second
	if restart {
		b.stop() // kill -9: what was in flight is lost with the process
		time.Sleep(away)
		b = startBubbleBridge(t, sim, mem, pub, log, true, tweak)
	} else {
		sim.Blackout(away) // the socket dies and cannot come back for a while
		time.Sleep(away)
	}
	gapEnd := time.Now()
	<-sim.Done()
	time.Sleep(lag + time.Minute) // the last gap's history
	b.stop()
	sim.Close()
	mem.Close()

	truth := sim.Truth()
	in := map[string]int{}
	for _, tr := range truth {
		if tr.At.Before(gapStart) || tr.At.After(gapEnd) {
			continue
		}
		switch {
		case tr.To == bridge.StatusHeld:
			in["hold"]++
		case tr.From == bridge.StatusHeld:
			in["hold's end"]++
		case tr.To == bridge.StatusRinging:
			in["ringing"]++
		case tr.From == bridge.StatusWrapup:
			in["wrap-up's end"]++
		}
		if tr.To == bridge.StatusCompleted {
			in["completion"]++
		}
	}
	for _, what := range []string{"hold", "hold's end", "ringing", "wrap-up's end", "completion"} {
		if in[what] == 0 {
			t.Errorf("the gap swallowed no %s: the test does not test it", what)
		}
	}
	r, examples := compareTruth(truth, pub.published())
	t.Logf("%s of %s: in the gap %v; transitions expected %d, found %d, lost %d, duplicated %d, extra %d, out of order %d; %s",
		map[bool]string{false: "dead socket", true: "restart"}[restart], away, in, r.expected, r.found, r.lost, r.duplicated, r.extra, r.outOfOrder, held.String())
	if r.lost+r.duplicated+r.extra+r.outOfOrder > 0 {
		t.Errorf("stream differs from the truth: %s", strings.Join(examples[:min(10, len(examples))], "; "))
	}
	if held.incomplete > 0 || len(held.waits) == 0 {
		t.Errorf("%d frames held, %d released without their history", len(held.waits), held.incomplete)
	}
	if t.Failed() {
		t.Logf("log (last 8 KiB):\n%s", tail(logs.String(), 8<<10))
	}
}
