package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// chromium returns the headless browser's path: Debian's chromium, which
// .ci/run installs. Without it the test is skipped, except in CI.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium: .ci/run installs Debian's chromium")
	}
	t.Skip("no chromium on PATH (apt-get install chromium)")
	return ""
}

// boardRow is one row of the page, read from its DOM.
type boardRow struct {
	Name, Queue, Channel                        string
	Waiting, Ringing, Connected, Held, Wrapup   int
	Offered, Answered, Abandoned                int
	ServiceLevel, AvgWait, AvgHandle, LongestWt float64
}

// The live board end to end: the simulator (in real time), the bridge with
// the board on, a headless Chromium showing the page. The numbers move
// while conversations run; once all are done, every row (per queue and
// channel) matches the simulator's ground truth; so does the page after a
// reload and after the bridge restarts (the board reads the stream, not
// the bridge's memory). A screenshot (PNG) is saved.
func TestLiveBoardInABrowser(t *testing.T) {
	browser := chromium(t)
	const serviceLevel = 2 * time.Second
	sim, err := simulator.Start(simulator.Config{Conversations: 40, Rate: 8, Seed: 11, Speed: 1, StepScale: 0.05,
		Channels: []bridge.ChannelType{bridge.ChannelVoice, bridge.ChannelChat, bridge.ChannelEmail}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	nats := testkit.StartNATS(t)
	pop := sim.Population()
	cfg, err := configFrom(map[string]string{
		"GENESYS_CLIENT_ID": "sim-client", "GENESYS_CLIENT_SECRET": "sim-secret", "GENESYS_API_URL": sim.URL,
		"GENESYS_LOGIN_URL": sim.URL, "GENESYS_QUEUE_IDS": strings.Join(pop.Queues, ","), "NATS_URL": nats.URL,
		"HTTP_ADDR": "127.0.0.1:0", "BOARD_ENABLED": "true", "BOARD_SERVICE_LEVEL": serviceLevel.String(),
		// The simulator's analytics does not lag: the agents' history at
		// the start (their first status) need not wait a minute.
		"GENESYS_BACKFILL_LAG": "500ms",
	})
	if err != nil {
		t.Fatal(err)
	}
	startBridge := func() (url string, stop func()) {
		log, logs := testkit.Logger(t, slog.LevelInfo)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- serve(ctx, cfg, log, io.Discard) }()
		return logValue(t, logs, "serving the live board", "url"), func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		}
	}
	url, stop := startBridge()

	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.Headless, chromedp.WindowSize(1400, 900))...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if _, err := chromedp.Run(bctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	read := func() (total boardRow, rows map[string]boardRow, transitions int) {
		raw, err := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify({
			transitions: document.getElementById("status").dataset.transitions || "0",
			rows: [...document.querySelectorAll("#rows tr")].map(tr => ({name: tr.cells[0].textContent, ...tr.dataset}))})`))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		var page struct {
			Transitions string
			Rows        []map[string]string
		}
		if err := json.Unmarshal([]byte(raw), &page); err != nil {
			t.Fatalf("page %s: %v", raw, err)
		}
		rows = map[string]boardRow{}
		for i, m := range page.Rows {
			num := func(k string) float64 { f, _ := strconv.ParseFloat(m[k], 64); return f }
			r := boardRow{Name: m["name"], Queue: m["queue"], Channel: m["channel"],
				Waiting: int(num("waiting")), Ringing: int(num("ringing")), Connected: int(num("connected")), Held: int(num("held")),
				Wrapup: int(num("wrapup")), Offered: int(num("offered")), Answered: int(num("answered")), Abandoned: int(num("abandoned")),
				ServiceLevel: num("serviceLevel"), AvgWait: num("avgWaitSeconds"), AvgHandle: num("avgHandleSeconds"), LongestWt: num("longestWaitSeconds")}
			if i == 0 {
				total = r
				continue
			}
			rows[r.Queue+"|"+r.Channel] = r
		}
		n, _ := strconv.Atoi(page.Transitions)
		return total, rows, n
	}

	// The numbers move while the conversations run.
	testkit.Eventually(t, time.Minute, "the board to show interactions offered", func() bool {
		total, _, _ := read()
		return total.Offered > 0
	})
	waitSimulator(t, sim, nil)
	truth := sim.Truth()
	want := boardTruth(truth, serviceLevel)

	check := func(when string) {
		t.Helper()
		var rows map[string]boardRow
		var total boardRow
		// The page asks every second; it is done when it has read every
		// transition and every queue has its name.
		if !testkit.Poll(time.Minute, func() bool {
			var n int
			total, rows, n = read()
			named := true
			for _, r := range rows {
				named = named && (r.Queue == "" || strings.HasPrefix(r.Name, "Queue "))
			}
			return n == len(truth) && named && total.Abandoned == want.total.Abandoned && total.AvgHandle > 0
		}) {
			t.Fatalf("%s: the page shows %d rows, total %+v; the truth has %d transitions, total %+v", when, len(rows), total, len(truth), want.total)
		}
		if total.Waiting+total.Ringing+total.Connected+total.Held+total.Wrapup != 0 {
			t.Errorf("%s: every conversation completed, the page shows some open: %+v", when, total)
		}
		for k, w := range want.rows {
			g := rows[k]
			if g.Offered != w.Offered || g.Answered != w.Answered || g.Abandoned != w.Abandoned ||
				math.Abs(g.ServiceLevel-w.ServiceLevel) > 0.01 || math.Abs(g.AvgWait-w.AvgWait) > 0.01 ||
				math.Abs(g.AvgHandle-w.AvgHandle) > 0.5 {
				t.Errorf("%s: row %s (%s)\n page  %+v\n truth %+v", when, k, g.Name, g, w)
			}
		}
		if len(rows) != len(want.rows) {
			t.Errorf("%s: %d rows on the page, %d in the truth", when, len(rows), len(want.rows))
		}
		t.Logf("%s: %d rows match the truth; total offered %d, answered %d, abandoned %d, service level %.0f%%, avg wait %.2fs, avg handle %.1fs",
			when, len(rows), total.Offered, total.Answered, total.Abandoned, total.ServiceLevel, total.AvgWait, total.AvgHandle)
		checkBoardAgents(t, bctx, when, sim)
	}
	check("live")

	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(os.TempDir(), "genesys-bridge-board.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))

	if _, err := chromedp.Run(bctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	check("after a page reload")

	stop()
	url, stop = startBridge()
	defer stop()
	if _, err := chromedp.Run(bctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	check("after a bridge restart")
}

// checkBoardAgents compares the page's agents with the simulator's: each
// agent's routing status and presence now (its last transition in the
// truth) and name, the counts per queue (every simulated agent is active
// on every queue unless off queue), and the chart's last point (nothing
// waits once every conversation completed).
func checkBoardAgents(t *testing.T, bctx context.Context, when string, sim *simulator.Server) {
	t.Helper()
	now := map[string][2]string{}
	for _, a := range sim.AgentTruth() {
		now[a.UserID] = [2]string{string(a.ToRouting), string(a.ToPresence)}
	}
	counts := map[string]int{}
	for _, rp := range now {
		counts[rp[0]]++
	}
	type agentRow struct{ User, Name, Routing, Presence string }
	type queueRow struct{ Queue, OnQueue, Idle, Interacting, NotResponding, OffQueue string }
	var page struct {
		Agents              []agentRow
		Queues              []queueRow
		Points, LastWaiting string
	}
	ok := testkit.Poll(30*time.Second, func() bool {
		raw, err := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify({
			agents: [...document.querySelectorAll("#agents tr")].map(tr => ({user: tr.dataset.user, name: tr.cells[0].textContent, routing: tr.dataset.routing, presence: tr.dataset.presence})),
			queues: [...document.querySelectorAll("#queueAgents tr")].map(tr => ({...tr.dataset})),
			points: document.getElementById("chart").dataset.points || "0", lastWaiting: document.getElementById("chart").dataset.lastWaiting || ""})`))
		if err != nil {
			t.Fatalf("read the page's agents: %v", err)
		}
		if err := json.Unmarshal([]byte(raw), &page); err != nil {
			t.Fatalf("page %s: %v", raw, err)
		}
		if len(page.Agents) != len(now) || page.Points == "0" || page.LastWaiting != "0" {
			return false
		}
		for _, a := range page.Agents {
			if now[a.User] != [2]string{a.Routing, a.Presence} || a.Name != simulator.AgentName(a.User) {
				return false
			}
		}
		return true
	})
	if !ok {
		t.Fatalf("%s: the page's agents %+v (chart points %s, last waiting %q); the truth's %v", when, page.Agents, page.Points, page.LastWaiting, now)
	}
	pop := sim.Population()
	if len(page.Queues) != len(pop.Queues) {
		t.Errorf("%s: agents on %d queues, want the %d queues", when, len(page.Queues), len(pop.Queues))
	}
	for _, q := range page.Queues {
		want := queueRow{Queue: q.Queue, OnQueue: strconv.Itoa(len(now) - counts["off_queue"]), Idle: strconv.Itoa(counts["idle"]),
			Interacting: strconv.Itoa(counts["interacting"]), NotResponding: strconv.Itoa(counts["not_responding"]), OffQueue: strconv.Itoa(counts["off_queue"])}
		if q != want {
			t.Errorf("%s: queue %s's agents %+v, want %+v", when, q.Queue, q, want)
		}
	}
	t.Logf("%s: %d agents match the truth (%v); chart points %s", when, len(page.Agents), counts, page.Points)
}

// expected is what the board must show, from the ground truth.
type expected struct {
	rows  map[string]boardRow
	total boardRow
}

// boardTruth applies the board's definitions (package board's doc) to the
// simulator's true transitions: offered per entry into a queue (not a
// return to the same wait after a ring nobody answered), answered per
// answer after such a wait with the wait from the entry, abandoned per
// conversation completed without an agent, handle time of the answered
// from the true durations of talk, hold and wrap-up.
func boardTruth(truth []simulator.Truth, serviceLevel time.Duration) expected {
	type acc struct {
		boardRow
		within  int
		waits   time.Duration
		handles time.Duration
		handled int
	}
	accs := map[string]*acc{}
	row := func(queue string, ch bridge.ChannelType) *acc {
		k := queue + "|" + string(ch)
		if accs[k] == nil {
			accs[k] = &acc{boardRow: boardRow{Queue: queue, Channel: string(ch)}}
		}
		return accs[k]
	}
	byID := map[string][]simulator.Truth{}
	var order []string
	for _, tr := range truth {
		if byID[tr.InteractionID] == nil {
			order = append(order, tr.InteractionID)
		}
		byID[tr.InteractionID] = append(byID[tr.InteractionID], tr)
	}
	for _, id := range order {
		trs := byID[id]
		var queuedAt time.Time
		answered := false
		var handle time.Duration
		for i, tr := range trs {
			switch tr.To {
			case bridge.StatusQueued:
				if tr.From != bridge.StatusRinging || queuedAt.IsZero() {
					queuedAt = tr.At
					row(tr.QueueID, tr.Channel).Offered++
				}
			case bridge.StatusConnected:
				if !queuedAt.IsZero() && (tr.From == bridge.StatusQueued || tr.From == bridge.StatusRinging) {
					r := row(tr.QueueID, tr.Channel)
					r.Answered++
					w := tr.At.Sub(queuedAt)
					r.waits += w
					if w <= serviceLevel {
						r.within++
					}
				}
				queuedAt = time.Time{}
				answered = true
			case bridge.StatusHeld:
				answered = true
			}
			if i+1 < len(trs) && (tr.To == bridge.StatusConnected || tr.To == bridge.StatusHeld || tr.To == bridge.StatusWrapup) {
				handle += trs[i+1].At.Sub(tr.At)
			}
		}
		last := trs[len(trs)-1]
		if last.To != bridge.StatusCompleted {
			continue
		}
		r := row(last.QueueID, last.Channel)
		if answered {
			r.handled++
			r.handles += handle
		} else {
			r.Abandoned++
		}
	}
	out := expected{rows: map[string]boardRow{}}
	var tot acc
	for k, a := range accs {
		tot.Offered += a.Offered
		tot.Answered += a.Answered
		tot.Abandoned += a.Abandoned
		a.ServiceLevel = -1
		if n := a.Answered + a.Abandoned; n > 0 {
			a.ServiceLevel = 100 * float64(a.within) / float64(n)
		}
		if a.Answered > 0 {
			a.AvgWait = a.waits.Seconds() / float64(a.Answered)
		}
		if a.handled > 0 {
			a.AvgHandle = a.handles.Seconds() / float64(a.handled)
		}
		out.rows[k] = a.boardRow
	}
	out.total = tot.boardRow
	if len(out.rows) == 0 {
		panic(fmt.Sprint("no rows from ", len(truth), " transitions"))
	}
	return out
}
