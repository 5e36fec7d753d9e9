package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/consume"
	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
	"github.com/genesys-bridge/genesys-bridge/publish"
)

// published is one message read back from the stream, decoded by the
// documented field names rather than with bridge.Transition: a consumer's
// view of the wire format.
type published struct {
	Subject string
	MsgID   string
	State   string // the Genesys-Bridge-State header
	Raw     []byte // the payload
	Body    struct {
		ID            string  `json:"id"`
		InteractionID string  `json:"interactionId"`
		ChannelType   string  `json:"channelType"`
		QueueID       string  `json:"queueId"`
		UserID        string  `json:"userId"`
		FromStatus    *string `json:"fromStatus"`
		ToStatus      string  `json:"toStatus"`
		OccurredAt    string  `json:"occurredAt"`
		ObservedAt    string  `json:"observedAt"`
		Reconstructed bool    `json:"reconstructed"`
		Backfilled    bool    `json:"backfilled"`
		Incomplete    bool    `json:"incomplete"`
		Detail        []string
	}
}

// readStream reads every message of the stream with an independent
// connection and an ordered consumer.
// A cluster may still be electing a leader after a node restart: reading
// is tried again for a minute.
func readStream(t *testing.T, url, stream string) []published {
	t.Helper()
	var out []published
	var err error
	if !testkit.Poll(time.Minute, func() bool { out, err = tryReadStream(t.Context(), url, stream); return err == nil }) {
		t.Fatalf("read the stream: %v", err)
	}
	return out
}

func tryReadStream(ctx context.Context, url, stream string) ([]published, error) {
	nc, err := nats.Connect(url)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	total, err := transitionsStored(ctx, s)
	if err != nil {
		return nil, err
	}
	// The transitions, as a consumer of them reads them (the timings
	// share the stream on subjects of their own).
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{transitionsFilter}})
	if err != nil {
		return nil, err
	}
	var out []published
	for len(out) < total {
		batch, err := cons.Fetch(min(500, total-len(out)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var p published
			p.Subject = m.Subject()
			p.MsgID = m.Headers().Get(jetstream.MsgIDHeader)
			p.State = m.Headers().Get(publish.HeaderState)
			p.Raw = m.Data()
			if err := json.Unmarshal(m.Data(), &p.Body); err != nil {
				return nil, fmt.Errorf("message %q is not JSON: %v", m.Data(), err)
			}
			out = append(out, p)
		}
		if err := batch.Error(); err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("read %d of %d messages, then nothing", len(out), total)
		}
	}
	return out, nil
}

func streamMsgs(t *testing.T, js jetstream.JetStream, stream string) int {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0
	}
	n, err := transitionsStored(ctx, s)
	if err != nil {
		return 0
	}
	return n
}

// transitionsFilter covers the transitions of the default subject prefix,
// which the tests that read the stream use.
const transitionsFilter = "genesys.interactions.>"

// transitionsStored counts the messages on transitionsFilter.
func transitionsStored(ctx context.Context, s jetstream.Stream) (int, error) {
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(transitionsFilter))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c)
	}
	return n, nil
}

func str(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

// compare checks the stream against the simulator's ground truth: every
// transition exactly once, with its channel, from and to statuses, on its
// subject, in order per interaction, with the message id in the payload.
func compare(t *testing.T, truth []simulator.Truth, got []published, prefix string) {
	t.Helper()
	type key struct{ id, ch, from, to string }
	want := map[key]int{}
	order := map[string][]string{} // interaction -> statuses entered, in truth order
	for _, tr := range truth {
		want[key{tr.InteractionID, string(tr.Channel), string(tr.From), string(tr.To)}]++
		order[tr.InteractionID] = append(order[tr.InteractionID], string(tr.To))
	}
	// Who and where each transition is, as the truth has it.
	// (An interaction may make the same move twice, with another agent:
	// the n-th copy published is held to the n-th in the truth.)
	who := map[key][][2]string{}
	for _, tr := range truth {
		k := key{tr.InteractionID, string(tr.Channel), string(tr.From), string(tr.To)}
		who[k] = append(who[k], [2]string{tr.QueueID, tr.UserID})
	}
	wrongWho := 0
	seen := map[key]int{}
	gotOrder := map[string][]string{}
	var missing, dup, extra, wrongSubject int
	got = slices.DeleteFunc(slices.Clone(got), func(p published) bool { return isAgentSubject(p.Subject, prefix) })
	for _, p := range got {
		from := ""
		if p.Body.FromStatus != nil {
			from = *p.Body.FromStatus
		}
		k := key{p.Body.InteractionID, p.Body.ChannelType, from, p.Body.ToStatus}
		if ws := who[k]; seen[k] < len(ws) && ws[seen[k]] != [2]string{p.Body.QueueID, p.Body.UserID} {
			w := ws[seen[k]]
			wrongWho++
			if wrongWho <= 5 {
				t.Errorf("%+v: queue %q user %q, truth %q %q", k, p.Body.QueueID, p.Body.UserID, w[0], w[1])
			}
		}
		seen[k]++
		gotOrder[k.id] = append(gotOrder[k.id], k.to)
		if want[k] == 0 {
			extra++
			if extra <= 5 {
				t.Errorf("published but not in the truth: %+v", k)
			}
		}
		if want[k] > 0 && seen[k] > want[k] {
			dup++
			if dup <= 5 {
				t.Errorf("published twice: %+v (this copy: id %s, state %q, backfilled %v, incomplete %v)", k, p.MsgID, p.State, p.Body.Backfilled, p.Body.Incomplete)
			}
		}
		wantSubject := fmt.Sprintf("%s.%s.%s.%s", prefix, k.ch, k.to, k.id)
		if p.Subject != wantSubject {
			wrongSubject++
			t.Errorf("subject %q, want %q", p.Subject, wantSubject)
		}
		if p.MsgID == "" || p.MsgID != p.Body.ID {
			t.Errorf("Nats-Msg-Id %q does not match payload id %q", p.MsgID, p.Body.ID)
		}
		if _, err := time.Parse(time.RFC3339Nano, p.Body.OccurredAt); err != nil {
			t.Errorf("occurredAt %q: %v", p.Body.OccurredAt, err)
		}
	}
	for k, n := range want {
		if seen[k] < n {
			missing++
			if missing <= 5 {
				t.Errorf("missing from the stream: %+v", k)
			}
		}
	}
	incomplete := 0
	for _, p := range got {
		if p.Body.Incomplete {
			incomplete++
		}
	}
	outOfOrder := 0
	bad := map[string]bool{}
	for id, w := range order {
		if g := strings.Join(gotOrder[id], ","); g != strings.Join(w, ",") {
			outOfOrder++
			if outOfOrder <= 5 {
				bad[id] = true
				t.Errorf("interaction %s: stream order %s, truth %s", id, g, strings.Join(w, ","))
			}
		}
	}
	t.Logf("transitions expected %d, found %d, missing %d, duplicated %d, extra %d, wrong subject %d, out of order %d, marked incomplete %d, wrong queue or agent %d",
		len(truth), len(got), missing, dup, extra, wrongSubject, outOfOrder, incomplete, wrongWho)
	if t.Failed() {
		for _, p := range got {
			if bad[p.Body.InteractionID] {
				t.Logf("  %s %s>%s id %s state %q backfilled %v reconstructed %v incomplete %v", p.Body.InteractionID[:8], str(p.Body.FromStatus), p.Body.ToStatus,
					p.MsgID, p.State, p.Body.Backfilled, p.Body.Reconstructed, p.Body.Incomplete)
			}
		}
	}
}

// The whole bridge, through run: simulator (OAuth, channel, subscriptions,
// socket) -> decode -> state machine -> embedded JetStream; read back with
// an independent client and compared with the ground truth. The simulator
// duplicates and reorders frames, and the bridge also subscribes to agent
// topics, so most snapshots arrive twice or more.
func TestEndToEnd(t *testing.T) {
	sim, err := simulator.Start(simulator.Config{
		Conversations: 300, Rate: 5, Seed: 42,
		DuplicateRate: 0.2, ReorderRate: 0.2,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	natsURL := testkit.StartNATS(t).URL
	pop := sim.Population()

	cfg, err := configFrom(map[string]string{
		"GENESYS_CLIENT_ID": "sim-client", "GENESYS_CLIENT_SECRET": "sim-secret",
		"GENESYS_API_URL": sim.URL, "GENESYS_LOGIN_URL": sim.URL,
		"GENESYS_QUEUE_IDS": strings.Join(pop.Queues, ","), "GENESYS_USER_IDS": strings.Join(pop.Agents[:4], ","),
		// The agents listed (the fault set follows the queues' members).
		"GENESYS_AGENTS": "list", "GENESYS_AGENT_IDS": strings.Join(pop.Agents, ","),
		// The simulator's analytics does not lag: the agents' history at
		// the start need not wait a minute.
		"GENESYS_BACKFILL_LAG": "500ms",
		"NATS_URL":             natsURL, "HTTP_ADDR": "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	log, logs := testkit.Logger(t, slog.LevelDebug)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, log, io.Discard) }()

	waitSimulator(t, sim, done)
	truth := sim.Truth()
	if len(truth) < 1000 {
		t.Fatalf("only %d transitions in the truth", len(truth))
	}
	// Wait until the stream holds as many messages as the truth, then stop.
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	agentTruth := sim.AgentTruth()
	testkit.Poll(time.Minute, func() bool { return streamMsgs(t, js, cfg.NATSStream) >= len(truth)+len(agentTruth) })
	checkHTTP(t, logValue(t, logs, "serving /healthz", "addr"), len(truth))
	// Every completion's timings were acknowledged before it: the
	// histograms hold all of them.
	completed := len(expectedTimings(truth))
	metricsURL := "http://" + logValue(t, logs, "serving /healthz", "addr") + "/metrics"
	if n, _ := scrape(metricsURL, "genesys_bridge_interactions_completed_total"); int(n) != completed {
		t.Errorf("genesys_bridge_interactions_completed_total %v, want %d", n, completed)
	}
	if n, _ := scrape(metricsURL, "genesys_bridge_interaction_wait_seconds_count"); int(n) != completed {
		t.Errorf("genesys_bridge_interaction_wait_seconds_count %v, want %d", n, completed)
	}
	var agentsPublished, agentsNow float64
	if !testkit.Poll(10*time.Second, func() bool {
		agentsPublished, _ = scrape(metricsURL, "genesys_bridge_agent_transitions_published_total")
		agentsNow, _ = scrape(metricsURL, "genesys_bridge_agents")
		return int(agentsPublished) == len(agentTruth)
	}) {
		t.Errorf("genesys_bridge_agent_transitions_published_total %v, want %d", agentsPublished, len(agentTruth))
	}
	if n, _ := scrape(metricsURL, "genesys_bridge_agents_followed"); int(n) != len(pop.Agents) {
		t.Errorf("genesys_bridge_agents_followed %v, want the %d agents listed", n, len(pop.Agents))
	}
	if agentsNow < float64(len(pop.Agents)) { // an agent on several queues counts on each
		t.Errorf("genesys_bridge_agents sums to %v, want at least the %d agents", agentsNow, len(pop.Agents))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	got := readStream(t, natsURL, cfg.NATSStream)
	compare(t, truth, got, cfg.NATSPrefix)
	compareAgents(t, agentTruth, got, cfg.NATSPrefix)
	compareTimings(t, truth, js)
	// Every message, of every kind, as docs/schema describes it.
	counts := validateStream(t, natsURL, cfg.NATSStream)
	if counts["transition"] != len(truth) || counts["agent-transition"] != len(agentTruth) || counts["timings"] != completed {
		t.Errorf("held to their schemas: %v; want %d transitions, %d agent transitions, %d timings", counts, len(truth), len(agentTruth), completed)
	}
	if strings.Contains(logs.String(), "sim-secret") {
		t.Error("the client secret appears in the log")
	}
}

// waitSimulator waits until the simulator has sent every conversation,
// failing the test if the bridge (done) returns first or it takes over two
// minutes.
func waitSimulator(t *testing.T, sim *simulator.Server, done <-chan error) {
	t.Helper()
	select {
	case <-sim.Done():
	case err := <-done:
		t.Fatalf("run returned early: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("simulator did not finish")
	}
}

// logValue returns the value of key on the first log line containing msg.
func logValue(t testing.TB, logs fmt.Stringer, msg, key string) string {
	t.Helper()
	var v string
	if !testkit.Poll(10*time.Second, func() bool {
		for _, line := range strings.Split(logs.String(), "\n") {
			if !strings.Contains(line, msg) {
				continue
			}
			for _, f := range strings.Fields(line) {
				if val, ok := strings.CutPrefix(f, key+"="); ok {
					v = strings.Trim(val, `"`)
					return true
				}
			}
		}
		return false
	}) {
		t.Fatalf("no log line %q with %s", msg, key)
	}
	return v
}

// checkHTTP checks the health, readiness and metrics endpoints of a
// running bridge that has published want transitions.
func checkHTTP(t *testing.T, addr string, want int) {
	t.Helper()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	if code, body := get("/readyz"); code != 200 {
		t.Errorf("/readyz: %d %s", code, body)
	}
	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	total := 0
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "genesys_bridge_transitions_published_total{") {
			var n int
			fmt.Sscanf(line[strings.LastIndexByte(line, ' ')+1:], "%d", &n)
			total += n
		}
	}
	if total != want {
		t.Errorf("metrics count %d published transitions, want %d", total, want)
	}
	for _, name := range []string{"genesys_bridge_frame_to_ack_seconds_bucket", "genesys_bridge_events_total", `genesys_bridge_frames_rejected_total{reason="malformed"}`, "genesys_bridge_nats_connected 1", "genesys_bridge_publish_retries_total"} {
		if !strings.Contains(body, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// The demo runs the whole path on embedded defaults (embedded NATS,
// embedded simulator, no credentials) and publishes within seconds.
func TestDemo(t *testing.T) {
	cfg, err := loadConfig(lookupIn([]string{
		"NATS_EMBEDDED_ADDR=127.0.0.1:0",
		"NATS_EMBEDDED_STORE_DIR=" + t.TempDir(),
		"HTTP_ADDR=127.0.0.1:0",
	}), true)
	if err != nil {
		t.Fatal(err)
	}
	log, logs := testkit.Logger(t, slog.LevelDebug)
	out := &testkit.LogBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, log, out) }()

	url := logValue(t, logs, "started an embedded NATS server", "url")
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if !testkit.Poll(30*time.Second, func() bool { return streamMsgs(t, js, cfg.NATSStream) >= 3 }) {
		t.Fatalf("no transitions in the stream after 30s; demo output:\n%s", out.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(out.String(), "nats sub 'genesys.interactions.>'") || !strings.Contains(out.String(), "genesys.interactions.") {
		t.Errorf("demo output does not show transitions:\n%s", out.String())
	}
	// The address it prints is the one the embedded server listens on
	// (NATS_EMBEDDED_ADDR asked for any port).
	if !strings.Contains(out.String(), "' -s "+url+"\n") {
		t.Errorf("demo output does not give the address NATS listens on (%s):\n%s", url, out.String())
	}
	if !strings.Contains(out.String(), "live board: http://127.0.0.1:") {
		t.Errorf("demo output does not give the live board's address:\n%s", out.String())
	}
}

// compareTimings reads the timings the bridge published (with the consume
// package, as a downstream team would) and holds each completed
// interaction's to the durations of the simulator's ground truth: the time
// between its true transitions, by the status they left. A move no live
// timestamp records (a hold, an unhold, the start of ringing) is timed
// when the bridge saw it, so figures may differ from the truth by the
// frame's delivery delay.
func compareTimings(t *testing.T, truth []simulator.Truth, js jetstream.JetStream) {
	t.Helper()
	want := expectedTimings(truth)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	got := map[string]consume.Timings{}
	for tm, err := range consume.TimingsOf(ctx, js, consume.Config{Start: consume.All}) {
		if err != nil {
			t.Fatalf("read timings: %v (after %d of %d)", err, len(got), len(want))
		}
		if _, dup := got[tm.InteractionID]; dup {
			t.Errorf("timings of %s published twice", tm.InteractionID)
		}
		got[tm.InteractionID] = tm
		if len(got) == len(want) {
			break
		}
	}
	const slack = 250 * time.Millisecond
	bad := 0
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			bad++
			t.Errorf("no timings for %s", id)
			continue
		}
		near := func(a, b time.Duration) bool { return a-b <= slack && b-a <= slack }
		// Live frames never time the start of ringing nor the end of a
		// hold: the splits between waiting and ringing and between talk and
		// hold are timed when the bridge saw the frame (and the simulator's
		// clock runs ahead of this host's), their sums are not.
		if !near(g.Wait+g.Alert, w.Wait+w.Alert) || !near(g.Talk+g.Hold, w.Talk+w.Hold) ||
			!near(g.Wrapup, w.Wrapup) || g.Holds != w.Holds || g.Transfers != w.Transfers || g.Answered != w.Answered ||
			g.Abandoned != w.Abandoned || g.AbandonedIn != w.AbandonedIn || g.QueueID != w.QueueID {
			bad++
			if bad <= 5 {
				t.Errorf("timings of %s:\n got %+v\nwant %+v", id, g, w)
			}
		}
	}
	t.Logf("timings: %d completed interactions, %d published, %d differ from the truth", len(want), len(got), bad)
}

// expectedTimings computes each completed interaction's timings from the
// simulator's truth.
func expectedTimings(truth []simulator.Truth) map[string]consume.Timings {
	byID := map[string][]simulator.Truth{}
	for _, tr := range truth {
		byID[tr.InteractionID] = append(byID[tr.InteractionID], tr)
	}
	out := map[string]consume.Timings{}
	for id, trs := range byID {
		last := trs[len(trs)-1]
		if last.To != bridge.StatusCompleted {
			continue
		}
		tm := consume.Timings{InteractionID: id, ChannelType: string(last.Channel), QueueID: last.QueueID}
		for i, tr := range trs {
			switch tr.To {
			case bridge.StatusHeld:
				tm.Holds++
				tm.Answered = true
			case bridge.StatusConnected:
				tm.Answered = true
			case bridge.StatusQueued, bridge.StatusRinging, bridge.StatusIVR:
				if tr.From == bridge.StatusConnected || tr.From == bridge.StatusHeld {
					tm.Transfers++
				}
			}
			if i+1 == len(trs) {
				break
			}
			d := trs[i+1].At.Sub(tr.At)
			switch tr.To {
			case bridge.StatusQueued:
				tm.Wait += d
			case bridge.StatusRinging:
				tm.Alert += d
			case bridge.StatusConnected:
				tm.Talk += d
			case bridge.StatusHeld:
				tm.Hold += d
			case bridge.StatusWrapup:
				tm.Wrapup += d
			}
		}
		if !tm.Answered {
			tm.Abandoned, tm.AbandonedIn = true, string(trs[len(trs)-2].To)
		}
		out[id] = tm
	}
	return out
}
