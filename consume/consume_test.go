package consume_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/consume"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
	"github.com/genesys-bridge/genesys-bridge/publish"
)

func setup(t *testing.T) *embedded {
	t.Helper()
	e := exampleStream()
	t.Cleanup(e.close)
	return e
}

// collect reads until n transitions came (or the deadline), as
// "id:from>to" strings.
func collect(t *testing.T, e *embedded, cfg consume.Config, n int) ([]string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var got []string
	for tr, err := range consume.Transitions(ctx, e.js, cfg) {
		if err != nil {
			return got, err
		}
		got = append(got, tr.InteractionID+":"+tr.FromStatus+">"+tr.ToStatus)
		if len(got) == n {
			break
		}
	}
	return got, nil
}

func TestFilters(t *testing.T) {
	e := setup(t)
	tests := []struct {
		name string
		cfg  consume.Config
		want string
	}{
		{"chat only", consume.Config{Channels: []string{"chat"}, Start: consume.All}, "chat-1:>queued chat-1:queued>completed"},
		{"into ringing", consume.Config{Statuses: []string{"ringing"}, Start: consume.All}, "call-1:queued>ringing call-2:queued>ringing"},
		{"one interaction", consume.Config{Interaction: "call-2", Start: consume.All}, "call-2:>queued call-2:queued>ringing"},
		{"one queue", consume.Config{Queue: "q-support", Start: consume.All}, "chat-1:>queued chat-1:queued>completed"},
		{"voice completions", consume.Config{Channels: []string{"voice", "chat"}, Statuses: []string{"completed"}, Start: consume.All},
			"call-1:wrapup>completed chat-1:queued>completed"},
		{"from a time", consume.Config{Start: consume.At, From: time.Now().Add(-time.Hour), Interaction: "chat-1"}, "chat-1:>queued chat-1:queued>completed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := strings.Fields(tt.want)
			got, err := collect(t, e, tt.cfg, len(want))
			if err != nil || strings.Join(got, " ") != tt.want {
				t.Fatalf("got %v (%v), want %s", got, err, tt.want)
			}
		})
	}
}

// New delivers only what is published after the subscription began (the
// sample, published before, never comes); no timings ever reach a reader
// of transitions.
func TestStartNewAndNoTimingsAmongTransitions(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Interactions keep coming until the reader has what it needs: it sees
	// the first one published after it subscribed, whenever that is.
	go func() {
		for i := 0; ctx.Err() == nil; i++ {
			e.publishInteraction(fmt.Sprintf("late-%d", i), bridge.ChannelEmail, move{bridge.StatusQueued, 0, "q", ""}, move{bridge.StatusCompleted, 9, "", ""})
		}
	}()
	var got []string
	for tr, err := range consume.Transitions(ctx, e.js, consume.Config{}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, tr.InteractionID+":"+tr.ToStatus)
		if len(got) == 4 {
			break
		}
	}
	for _, g := range got {
		if !strings.HasPrefix(g, "late-") {
			t.Fatalf("got %v: %s was published before the subscription", got, g)
		}
	}
	if len(got) != 4 {
		t.Fatalf("got %v", got)
	}
}

// A durable consumer resumes after what its loop handled: nothing
// handled comes again, nothing is lost (what the client had fetched ahead
// is handed back and comes again, possibly after later messages).
func TestDurableResumes(t *testing.T) {
	e := setup(t)
	cfg := consume.Config{Durable: "reader", Start: consume.All, Channels: []string{"voice"}}
	first, err := collect(t, e, cfg, 3)
	if err != nil || strings.Join(first, " ") != "call-1:>queued call-1:queued>ringing call-1:ringing>connected" {
		t.Fatalf("first read %v %v", first, err)
	}
	rest, err := collect(t, e, cfg, 6)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(rest)
	want := []string{"call-1:connected>held", "call-1:connected>wrapup", "call-1:held>connected", "call-1:wrapup>completed", "call-2:>queued", "call-2:queued>ringing"}
	if !slices.Equal(rest, want) {
		t.Fatalf("after %v the second reader got %v, want %v", first, rest, want)
	}
}

func TestBadFilters(t *testing.T) {
	e := setup(t)
	for _, cfg := range []consume.Config{
		{Channels: []string{"voice.>"}},
		{Statuses: []string{"a b"}},
		{Interaction: "a b"},
		{Interaction: "a@b"},
		{Start: consume.At},
		{Stream: "NO_SUCH_STREAM"},
	} {
		if _, err := collect(t, e, cfg, 1); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}

// The consumer's defaults are the bridge's (held here: the package does
// not import the bridge's).
func TestDefaultsAreTheBridges(t *testing.T) {
	pc := publish.DefaultConfig()
	if consume.DefaultStream != pc.Stream || consume.DefaultSubjectPrefix != pc.SubjectPrefix || consume.DefaultTimingsPrefix != pc.TimingsPrefix {
		t.Fatalf("consume defaults %s %s %s, the bridge's %s %s %s", consume.DefaultStream, consume.DefaultSubjectPrefix,
			consume.DefaultTimingsPrefix, pc.Stream, pc.SubjectPrefix, pc.TimingsPrefix)
	}
}

// A reader outlives a server restart: the client reconnects and the
// consumer (ordered: re-created; durable: kept in the store) delivers
// what is published afterwards.
func TestReadersOutliveAServerRestart(t *testing.T) {
	for _, durable := range []string{"", "restart-reader"} {
		t.Run("durable="+durable, func(t *testing.T) {
			n := testkit.StartNATS(t)
			nc := n.Connect(t)
			pub, err := publish.New(t.Context(), nc, publish.Config{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pub.Close)
			js, _ := jetstream.New(nc)
			e := &embedded{nc: nc, js: js, pub: pub}
			if err := e.publishInteraction("before", bridge.ChannelChat, move{bridge.StatusQueued, 0, "q", ""}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			got := make(chan string, 16)
			go func() {
				for tr, err := range consume.Transitions(ctx, js, consume.Config{Start: consume.All, Durable: durable}) {
					if err != nil {
						got <- "error: " + err.Error()
						continue
					}
					got <- tr.InteractionID
				}
				close(got)
			}()
			expect := func(id string) {
				t.Helper()
				for {
					select {
					case g, ok := <-got:
						if !ok {
							t.Fatalf("the reader stopped before %s", id)
						}
						if g == id {
							return
						}
						t.Logf("read %s", g)
					case <-ctx.Done():
						t.Fatalf("%s never came", id)
					}
				}
			}
			expect("before")
			n.Restart()
			if err := e.publishInteraction("after", bridge.ChannelChat, move{bridge.StatusQueued, 0, "q", ""}); err != nil {
				t.Fatal(err)
			}
			expect("after")
		})
	}
}

// Selectable is the bridge's rule for an id used as is in the subject.
func TestSelectableIsTheBridgesRule(t *testing.T) {
	for _, id := range []string{"", "a", "3f2a1b4c-1111-4222-8333-444455556666", "_x", "a_b-C9", "a@b", "a.b", "é",
		strings.Repeat("a", 64), strings.Repeat("a", 65), "a b", "*"} {
		_, hashed := publish.IDToken(id)
		if consume.Selectable(id) == hashed {
			t.Errorf("Selectable(%q) = %v, but the bridge hashes it: %v", id, consume.Selectable(id), hashed)
		}
	}
}

// A message that is not a transition is yielded as a *PayloadError and the
// reading goes on.
func TestUnreadablePayloadIsSkipped(t *testing.T) {
	e := setup(t)
	if _, err := e.js.Publish(t.Context(), "genesys.interactions.voice.queued.junk-1", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	if err := e.publishInteraction("after-junk", bridge.ChannelVoice, move{bridge.StatusQueued, 0, "q", ""}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	sawJunk := false
	for tr, err := range consume.Transitions(ctx, e.js, consume.Config{Start: consume.All}) {
		if pe, ok := errors.AsType[*consume.PayloadError](err); ok {
			sawJunk = pe.Subject == "genesys.interactions.voice.queued.junk-1" && pe.Sequence > 0
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if tr.InteractionID == "after-junk" {
			break
		}
	}
	if !sawJunk {
		t.Fatal("the unreadable message was not reported as a *PayloadError")
	}
}
