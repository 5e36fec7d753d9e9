package publish

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

func TestIDToken(t *testing.T) {
	tests := []struct {
		name, id string
		verbatim bool
	}{
		{"uuid", "3f2a1b4c-1111-4222-8333-444455556666", true},
		{"simple", "abc_DEF-123", true},
		{"dot", "a.b", false},
		{"star", "*", false},
		{"gt", ">", false},
		{"space", "a b", false},
		{"leading underscore", "_0123456789abcdef0123456789abcdef", false},
		{"too long", strings.Repeat("a", 65), false},
		{"64 bytes", strings.Repeat("a", 64), true},
		{"unicode", "ü", false},
		{"nul", "a\x00b", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, hashed := IDToken(tt.id)
			if hashed == tt.verbatim {
				t.Fatalf("IDToken(%q) hashed=%v", tt.id, hashed)
			}
			if tt.verbatim && tok != tt.id {
				t.Fatalf("IDToken(%q) = %q, want it verbatim", tt.id, tok)
			}
			if !text.IsToken(tok) {
				t.Fatalf("IDToken(%q) = %q is not a safe token", tt.id, tok)
			}
			if again, _ := IDToken(tt.id); again != tok {
				t.Fatalf("not deterministic")
			}
		})
	}
}

func FuzzIDToken(f *testing.F) {
	for _, s := range []string{"a", "a.b", "*", ">", "_", "3f2a1b4c-1111-4222-8333-444455556666", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		tok, hashed := IDToken(id)
		if !text.IsToken(tok) || len(tok) > 64 {
			t.Fatalf("IDToken(%q) = %q", id, tok)
		}
		if !hashed && tok != id {
			t.Fatalf("verbatim token %q differs from id %q", tok, id)
		}
		if hashed && !strings.HasPrefix(tok, "_") {
			t.Fatalf("hashed token %q lacks the '_' mark", tok)
		}
	})
}

func TestValidatePrefix(t *testing.T) {
	for _, p := range []string{"genesys.interactions", "a", "a-b.c_d"} {
		if err := ValidatePrefix(p); err != nil {
			t.Errorf("ValidatePrefix(%q): %v", p, err)
		}
	}
	for _, p := range []string{"", "a..b", "a.*", "a.>", ".a", "a.", "a b", strings.Repeat("a", 201)} {
		if err := ValidatePrefix(p); err == nil {
			t.Errorf("ValidatePrefix(%q) accepted", p)
		}
	}
}

func transition(id string, n int) bridge.Transition {
	at := time.Date(2026, 11, 27, 9, 0, n, 0, time.UTC)
	return bridge.Transition{
		ID:            bridge.TransitionID(id, uint64(n)+1, "", bridge.StatusQueued),
		InteractionID: id, ChannelType: bridge.ChannelVoice, ToStatus: bridge.StatusQueued,
		OccurredAt: at, ObservedAt: at,
	}
}

func publishWait(t *testing.T, j *JetStream, tr bridge.Transition) *testkit.Receipt {
	t.Helper()
	r := testkit.NewReceipt()
	j.Publish(t.Context(), &tr, r)
	select {
	case <-r.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("no acknowledgement")
	}
	return r
}

func streamInfo(t *testing.T, nc *nats.Conn, name string) *jetstream.StreamInfo {
	t.Helper()
	js, _ := jetstream.New(nc)
	s, err := js.Stream(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestEnsureStream(t *testing.T) {
	ns := testkit.StartNATS(t)
	nc := ns.Connect(t)
	j, err := New(t.Context(), nc, Config{})
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	info := streamInfo(t, nc, "GENESYS_INTERACTIONS")
	if got := info.Config; got.Subjects[0] != "genesys.interactions.>" || got.Duplicates != 2*time.Minute ||
		got.MaxAge != 168*time.Hour || got.Storage != jetstream.FileStorage {
		t.Fatalf("stream config %+v", got)
	}

	// An operator's own setting survives; the bridge's settings are updated.
	js, _ := jetstream.New(nc)
	cfg := info.Config
	cfg.MaxBytes = 1 << 30
	if _, err := js.UpdateStream(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	j, err = New(t.Context(), nc, Config{Duplicates: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	info = streamInfo(t, nc, "GENESYS_INTERACTIONS")
	if info.Config.Duplicates != 5*time.Minute || info.Config.MaxBytes != 1<<30 {
		t.Fatalf("after update: duplicates %s, max bytes %d", info.Config.Duplicates, info.Config.MaxBytes)
	}

	// A stream whose storage cannot be changed is a clear, permanent error.
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "MEM", Subjects: []string{"mem.>"}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	_, err = New(t.Context(), nc, Config{Stream: "MEM", SubjectPrefix: "mem"})
	if !errors.Is(err, ErrStreamConflict) {
		t.Fatalf("memory stream: err = %v, want ErrStreamConflict", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"bad prefix", Config{SubjectPrefix: "a.*"}, "subject prefix"},
		{"bad stream", Config{Stream: "A.B"}, "stream name"},
		{"tiny window", Config{Duplicates: time.Millisecond}, "minimum"},
		{"window over age", Config{Duplicates: time.Hour, MaxAge: time.Minute}, "longer than the max age"},
		{"replicas", Config{Replicas: 7}, "at most 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestPublishDuplicateAndHostileID(t *testing.T) {
	ns := testkit.StartNATS(t)
	nc := ns.Connect(t)
	j, err := New(t.Context(), nc, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()

	tr := transition("3f2a1b4c-1111-4222-8333-444455556666", 1)
	if r := publishWait(t, j, tr); r.Err() != nil || r.Duplicate() {
		t.Fatalf("first publish: err %v duplicate %v", r.Err(), r.Duplicate())
	}
	if r := publishWait(t, j, tr); r.Err() != nil || !r.Duplicate() {
		t.Fatalf("second publish: err %v duplicate %v, want a duplicate acknowledgement", r.Err(), r.Duplicate())
	}

	hostile := transition("evil.>*id", 2)
	if r := publishWait(t, j, hostile); r.Err() != nil {
		t.Fatal(r.Err())
	}
	js, _ := jetstream.New(nc)
	s, _ := js.Stream(t.Context(), "GENESYS_INTERACTIONS")
	tok, _ := IDToken("evil.>*id")
	m, err := s.GetLastMsgForSubject(t.Context(), "genesys.interactions.voice.queued."+tok)
	if err != nil {
		t.Fatalf("hostile id not on its hashed subject: %v", err)
	}
	if got := m.Header.Get(HeaderInteractionID); got != "evil.>*id" {
		t.Fatalf("header %s = %q", HeaderInteractionID, got)
	}
	if n := streamInfo(t, nc, "GENESYS_INTERACTIONS").State.Msgs; n != 2 {
		t.Fatalf("stream holds %d messages, want 2", n)
	}
}

// Publishes in flight while the server restarts are retried with the same
// id: after the restart the stream holds each transition exactly once.
func TestPublishAcrossServerRestart(t *testing.T) {
	ns := testkit.StartNATS(t)
	nc := ns.Connect(t)
	j, err := New(t.Context(), nc, Config{AckTimeout: 500 * time.Millisecond, RetryMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	const n = 2000
	receipts := make([]*testkit.Receipt, n)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for i := range n {
		if i == n/2 {
			ns.Restart()
		}
		tr := transition(fmt.Sprintf("conv-%04d", i), i)
		receipts[i] = testkit.NewReceipt()
		j.Publish(ctx, &tr, receipts[i])
	}
	for i, r := range receipts {
		<-r.Done()
		if r.Err() != nil {
			t.Fatalf("transition %d: %v", i, r.Err())
		}
	}
	if got := streamInfo(t, nc, "GENESYS_INTERACTIONS").State.Msgs; got != n {
		t.Fatalf("stream holds %d messages, want %d", got, n)
	}
	if j.Retries() == 0 {
		t.Fatal("no publish was retried: the restart did not exercise the retry path")
	}
	t.Logf("%d retries", j.Retries())
}

// The stream is the state store: Load returns the state published with an
// interaction's last transition; a compare-and-set on a stale version is a
// conflict carrying the stream's state; a retry of a stored transition is a
// duplicate, not a conflict.
func TestStateAndCompareAndSet(t *testing.T) {
	ns := testkit.StartNATS(t)
	nc := ns.Connect(t)
	j, err := New(t.Context(), nc, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	const id = "3f2a1b4c-1111-4222-8333-444455556666"
	if _, found, err := j.Load(t.Context(), id); err != nil || found {
		t.Fatalf("Load of an unknown interaction: found %v, %v", found, err)
	}
	t1 := transition(id, 1)
	t1.State = bridge.State{Channel: bridge.ChannelVoice, Status: bridge.StatusQueued, Seq: 1, Anchor: t1.OccurredAt, StepAt: t1.OccurredAt, Horizon: t1.OccurredAt}
	t1.CheckVersion = true
	r := publishWait(t, j, t1)
	if r.Err() != nil || r.Duplicate() {
		t.Fatalf("first: %v dup %v", r.Err(), r.Duplicate())
	}
	st, found, err := j.Load(t.Context(), id)
	if err != nil || !found || st.Status != bridge.StatusQueued || st.Seq != 1 || !st.Anchor.Equal(t1.OccurredAt) || st.Version == 0 {
		t.Fatalf("Load = %+v %v %v", st, found, err)
	}
	// The same transition again, built on version 0 (a retry after a lost ack).
	if r := publishWait(t, j, t1); r.Err() != nil || !r.Duplicate() {
		t.Fatalf("retry: err %v dup %v; want a duplicate", r.Err(), r.Duplicate())
	}
	// Another transition built on version 0: another writer is ahead.
	t2 := transition(id, 2)
	t2.ToStatus, t2.FromStatus = bridge.StatusRinging, bridge.StatusQueued
	t2.ID = bridge.TransitionID(id, 2, bridge.StatusQueued, bridge.StatusRinging)
	t2.State = bridge.State{Channel: bridge.ChannelVoice, Status: bridge.StatusRinging, Seq: 2}
	t2.CheckVersion = true
	r = publishWait(t, j, t2)
	var conflict *bridge.ConflictError
	if !errors.As(r.Err(), &conflict) || conflict.State.Status != bridge.StatusQueued || conflict.State.Version != st.Version {
		t.Fatalf("stale compare-and-set: %v", r.Err())
	}
	// Built on the right version, it is stored.
	t2.ExpectVersion = st.Version
	if r := publishWait(t, j, t2); r.Err() != nil {
		t.Fatal(r.Err())
	}
	if st, _, _ := j.Load(t.Context(), id); st.Status != bridge.StatusRinging {
		t.Fatalf("after the second transition Load says %s", st.Status)
	}
}

func TestRetryable(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{nats.ErrTimeout, true},
		{nats.ErrDisconnected, true},
		{nats.ErrNoResponders, true},
		{nats.ErrConnectionClosed, false},
		{nats.ErrMaxPayload, false},
		{&jetstream.APIError{Code: 503, ErrorCode: 10008}, true},
		{&jetstream.APIError{Code: 409, ErrorCode: 10158}, true},
		{&jetstream.APIError{Code: 400, ErrorCode: 10054}, false},
	} {
		if got := retryable(tt.err); got != tt.want {
			t.Errorf("retryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// States reads, in one pass, the last state of every interaction with a
// transition since a time: hashed ids come back raw, versions are the
// stream sequences.
func TestStates(t *testing.T) {
	ns := testkit.StartNATS(t)
	nc := ns.Connect(t)
	j, err := New(t.Context(), nc, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	before := time.Now().Add(-time.Second)
	ids := []string{"3f2a1b4c-1111-4222-8333-444455556666", "hostile id.*>", "3f2a1b4c-1111-4222-8333-444455557777"}
	statuses := []bridge.Status{bridge.StatusQueued, bridge.StatusRinging, bridge.StatusConnected}
	var last uint64
	for i, id := range ids {
		for n, s := range statuses[:i+1] {
			tr := transition(id, n)
			tr.ToStatus = s
			tr.ID = bridge.TransitionID(id, uint64(n+1), "", s)
			tr.State = bridge.State{Channel: bridge.ChannelVoice, Status: s, Seq: uint64(n + 1)}
			r := publishWait(t, j, tr)
			if r.Err() != nil {
				t.Fatal(r.Err())
			}
			last++
		}
	}
	got, err := j.States(t.Context(), before)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("States = %v", got)
	}
	for i, id := range ids {
		st := got[id]
		if st.Status != statuses[i] || st.Seq != uint64(i+1) || st.Version == 0 {
			t.Errorf("%q: %+v", id, st)
		}
	}
	if got[ids[2]].Version != last {
		t.Errorf("version %d, want the stream sequence %d", got[ids[2]].Version, last)
	}
	if none, err := j.States(t.Context(), time.Now().Add(time.Hour)); err != nil || len(none) != 0 {
		t.Errorf("States since later: %v %v", none, err)
	}
}

// When the caller's context ends, publishes still waiting for their
// acknowledgement (here the server is gone) fail at once with the
// context's error, not after the ack timeout, and Close returns.
func TestPublishContextEndFailsWhatIsInFlight(t *testing.T) {
	ns := testkit.StartNATS(t)
	nc := ns.Connect(t)
	j, err := New(t.Context(), nc, Config{AckTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ns.Stop()
	ctx, cancel := context.WithCancel(t.Context())
	const n = 50
	receipts := make([]*testkit.Receipt, n)
	for i := range n {
		tr := transition(fmt.Sprintf("conv-%04d", i), i)
		receipts[i] = testkit.NewReceipt()
		j.Publish(ctx, &tr, receipts[i])
	}
	cancel()
	deadline := time.After(30 * time.Second) // far below the hour-long ack timeout
	for i, r := range receipts {
		select {
		case <-r.Done():
		case <-deadline:
			t.Fatalf("receipt %d not completed after the context ended", i)
		}
		if !errors.Is(r.Err(), context.Canceled) {
			t.Fatalf("receipt %d: err %v, want context.Canceled", i, r.Err())
		}
	}
	j.Close()
	r := testkit.NewReceipt()
	j.Publish(t.Context(), new(bridge.Transition), r)
	if err := r.Wait(time.Second); !errors.Is(err, ErrClosed) {
		t.Fatalf("Publish after Close: %v, want ErrClosed", err)
	}
}

func TestDeadLetterConfig(t *testing.T) {
	dl := DefaultDeadLetterConfig()
	if got := dl.Subject("x.>"); got != "genesys.deadletters.unknown" {
		t.Errorf("Subject of a reason not listed = %s, want the unknown subject", got)
	}
	if got := dl.Subject(bridge.ReasonSchema); got != "genesys.deadletters.schema" {
		t.Errorf("Subject(schema) = %s", got)
	}
	for _, tc := range []struct {
		dl   DeadLetterConfig
		want string
	}{
		{DeadLetterConfig{}, ""},
		{DeadLetterConfig{SubjectPrefix: "genesys.interactions"}, "overlaps"},
		{DeadLetterConfig{SubjectPrefix: "genesys.interactions.dead"}, "overlaps"},
		{DeadLetterConfig{SubjectPrefix: "genesys"}, "overlaps"},
		{DeadLetterConfig{SubjectPrefix: "genesys.interactionsx"}, ""},
		{DeadLetterConfig{Stream: "GENESYS_INTERACTIONS"}, "stream of their own"},
		{DeadLetterConfig{SubjectPrefix: "a.*"}, "token"},
		{DeadLetterConfig{MaxBytes: 1000}, "at least 1 MiB"},
	} {
		err := tc.dl.Validate(Config{})
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: Validate = %v, want %q", tc.dl, err, tc.want)
		}
	}
	if got := headerValue("a\r\nEvil: 1\x00\xff", 100); got != "a  Evil: 1 \uFFFD" {
		t.Errorf("headerValue = %q", got)
	}
}

// A dead letter's id is its reason's, topic's and body's: the same frame
// repeated has the same id, any difference another.
func TestDeadLetterID(t *testing.T) {
	base := bridge.RejectError{Reason: bridge.ReasonSchema, Topic: "v2.users.u1.conversations", Input: []byte(`{"x":1}`)}
	id := DeadLetterID(&base)
	if len(id) != 32 {
		t.Fatalf("id %q: want 32 hex digits", id)
	}
	again := base
	again.Msg = "another wording of the same rejection"
	if DeadLetterID(&again) != id {
		t.Error("the same frame got another id")
	}
	for name, change := range map[string]func(*bridge.RejectError){
		"reason": func(r *bridge.RejectError) { r.Reason = bridge.ReasonMalformed },
		"topic":  func(r *bridge.RejectError) { r.Topic = "v2.users.u2.conversations" },
		"body":   func(r *bridge.RejectError) { r.Input = []byte(`{"x":2}`) },
		"split":  func(r *bridge.RejectError) { r.Topic, r.Input = r.Topic+"{", r.Input[1:] },
	} {
		r := base
		change(&r)
		if DeadLetterID(&r) == id {
			t.Errorf("a different %s, the same id", name)
		}
	}
}
