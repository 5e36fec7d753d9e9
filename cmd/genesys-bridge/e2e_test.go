package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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
	Body    struct {
		ID            string  `json:"id"`
		InteractionID string  `json:"interactionId"`
		ChannelType   string  `json:"channelType"`
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
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	total := int(info.State.Msgs)
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
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
	info, err := s.Info(ctx)
	if err != nil {
		return 0
	}
	return int(info.State.Msgs)
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
	seen := map[key]int{}
	gotOrder := map[string][]string{}
	var missing, dup, extra, wrongSubject int
	for _, p := range got {
		from := ""
		if p.Body.FromStatus != nil {
			from = *p.Body.FromStatus
		}
		k := key{p.Body.InteractionID, p.Body.ChannelType, from, p.Body.ToStatus}
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
	t.Logf("transitions expected %d, found %d, missing %d, duplicated %d, extra %d, wrong subject %d, out of order %d, marked incomplete %d",
		len(truth), len(got), missing, dup, extra, wrongSubject, outOfOrder, incomplete)
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

	t.Setenv("GENESYS_CLIENT_ID", "sim-client")
	t.Setenv("GENESYS_CLIENT_SECRET", "sim-secret")
	t.Setenv("GENESYS_API_URL", sim.URL)
	t.Setenv("GENESYS_LOGIN_URL", sim.URL)
	t.Setenv("GENESYS_QUEUE_IDS", strings.Join(pop.Queues, ","))
	t.Setenv("GENESYS_USER_IDS", strings.Join(pop.Agents[:4], ","))
	t.Setenv("NATS_URL", natsURL)
	t.Setenv("HTTP_ADDR", "127.0.0.1:0")
	cfg, err := loadConfig(false)
	if err != nil {
		t.Fatal(err)
	}
	log, logs := testkit.Logger(t, slog.LevelDebug)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, log, io.Discard) }()

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
	deadline := time.Now().Add(time.Minute)
	for streamMsgs(t, js, cfg.NATSStream) < len(truth) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	checkHTTP(t, logValue(t, logs, "serving /healthz", "addr"), len(truth))
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	compare(t, truth, readStream(t, natsURL, cfg.NATSStream), cfg.NATSPrefix)
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
func logValue(t *testing.T, logs *testkit.LogBuffer, msg, key string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(logs.String(), "\n") {
			if !strings.Contains(line, msg) {
				continue
			}
			for _, f := range strings.Fields(line) {
				if v, ok := strings.CutPrefix(f, key+"="); ok {
					return strings.Trim(v, `"`)
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no log line %q with %s", msg, key)
	return ""
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
	for _, name := range []string{"genesys_bridge_frame_to_ack_seconds_bucket", "genesys_bridge_events_total", `genesys_bridge_frames_rejected_total{reason="malformed"}`, "genesys_bridge_nats_connected 1"} {
		if !strings.Contains(body, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// The demo runs the whole path on embedded defaults (embedded NATS,
// embedded simulator, no credentials) and publishes within seconds.
func TestDemo(t *testing.T) {
	setEnv(t, map[string]string{
		"NATS_EMBEDDED_ADDR":      "127.0.0.1:0",
		"NATS_EMBEDDED_STORE_DIR": t.TempDir(),
		"HTTP_ADDR":               "127.0.0.1:0",
	})
	cfg, err := loadConfig(true)
	if err != nil {
		t.Fatal(err)
	}
	log, logs := testkit.Logger(t, slog.LevelDebug)
	out := &testkit.LogBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, log, out) }()

	url := logValue(t, logs, "started an embedded NATS server", "url")
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	deadline := time.Now().Add(30 * time.Second)
	for streamMsgs(t, js, cfg.NATSStream) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("no transitions in the stream after 30s; demo output:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(out.String(), "nats sub 'genesys.interactions.>'") || !strings.Contains(out.String(), "genesys.interactions.") {
		t.Errorf("demo output does not show transitions:\n%s", out.String())
	}
}
