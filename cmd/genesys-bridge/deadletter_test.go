package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
	"github.com/genesys-bridge/genesys-bridge/publish"
)

// Hostile and broken frames sent on the live socket each become a dead
// letter on <prefix>.<reason>, with headers saying why and a bounded body;
// no frame chooses its subject or breaks a header; and every valid
// transition is still published.
func TestDeadLetters(t *testing.T) {
	h := startHarness(t, simulator.Config{Conversations: 40}, map[string]string{"GENESYS_MAX_FRAME_BYTES": "4096"})
	testkit.Eventually(t, 30*time.Second, "a socket", func() bool { return h.sim.Sockets() > 0 })
	frames := []struct {
		frame  string
		reason string
	}{
		{`not json {`, "malformed"},
		{`{"topicName":"v2.users.u1.conversations","eventBody":{"id":"a\r\nEvil: 1","participants":[]}}`, "schema"},
		{`{"result":"500","message":"?"}`, "unknown"},
		{"{\"topicName\":\"v2.users.u1.conversations\",\"eventBody\":{\"id\":\"\xff\xfe\"}}", "malformed"},
		{`{"topicName":"v2.users.u1.conversations","eventBody":{"pad":"` + strings.Repeat("a", 5000) + `"}}`, "oversize"},
	}
	for _, f := range frames {
		if h.sim.Inject([]byte(f.frame)) == 0 {
			t.Fatal("no socket took the frame")
		}
	}
	// Genesys repeats frames: a rejected frame repeated is one dead letter
	// (its id is its reason, topic and body's).
	if h.sim.Inject([]byte(frames[0].frame)) == 0 {
		t.Fatal("no socket took the frame")
	}
	h.finish() // every valid transition published, once, in order; the bridge stopped, its dead letters settled

	nc, err := nats.Connect(h.nats)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	dl := publish.DefaultDeadLetterConfig()
	testkit.Eventually(t, 30*time.Second, "the dead letters", func() bool {
		s, err := js.Stream(t.Context(), dl.Stream)
		return err == nil && s.CachedInfo().State.Msgs >= uint64(len(frames))
	})
	if n := validateStream(t, h.nats, dl.Stream)["dead-letter-headers"]; n != len(frames) {
		t.Errorf("%d dead letters' headers held to their schema, want %d", n, len(frames))
	}
	got := readAll(t, js, dl.Stream)
	if len(got) != len(frames) {
		t.Fatalf("%d dead letters, want %d (the repeat stored once)", len(got), len(frames))
	}
	ids := map[string]bool{}
	for _, m := range got {
		id := m.Headers().Get(jetstream.MsgIDHeader)
		if len(id) != 32 || ids[id] {
			t.Errorf("dead letter id %q: want 32 hex digits, one per frame", id)
		}
		ids[id] = true
	}
	for i, m := range got {
		want := frames[i]
		if m.Subject() != dl.SubjectPrefix+"."+want.reason {
			t.Errorf("dead letter %d on %s, want %s.%s", i, m.Subject(), dl.SubjectPrefix, want.reason)
		}
		hd := m.Headers()
		for name, vals := range hd {
			for _, v := range vals {
				if strings.ContainsAny(v, "\r\n") || strings.Contains(name, "Evil") {
					t.Errorf("dead letter %d: header %s=%q carries a line break from the frame", i, name, v)
				}
			}
		}
		if hd.Get(publish.HeaderReason) != want.reason || hd.Get(publish.HeaderError) == "" || hd.Get(publish.HeaderReceivedAt) == "" {
			t.Errorf("dead letter %d: headers %v", i, hd)
		}
		if want.reason == "oversize" {
			if hd.Get(publish.HeaderTruncated) != "true" || len(m.Data()) > 256 {
				t.Errorf("oversize dead letter: truncated %q, %d bytes", hd.Get(publish.HeaderTruncated), len(m.Data()))
			}
		} else if !bytes.Equal(m.Data(), []byte(want.frame)) {
			t.Errorf("dead letter %d body %q, want the frame %q", i, m.Data(), want.frame)
		}
	}
	if topic := got[1].Headers().Get(publish.HeaderTopic); topic != "v2.users.u1.conversations" {
		t.Errorf("the schema dead letter names topic %q", topic)
	}
	if e := got[1].Headers().Get(publish.HeaderError); !strings.Contains(e, "Evil: 1") {
		t.Errorf("the schema dead letter's error %q lost the id", e)
	}
}

// readAll reads every message of a stream with an ordered consumer.
func readAll(t *testing.T, js jetstream.JetStream, stream string) []jetstream.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil
	}
	n := s.CachedInfo().State.Msgs
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.Msg
	for range n {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}
