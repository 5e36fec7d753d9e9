package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

func TestParsePubAck(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     pubAck
		scanned  bool // read by hand, not by encoding/json
		apiError int  // the server's err_code, for an error
		invalid  bool
	}{
		{"usual", `{"stream":"GENESYS_INTERACTIONS","seq":42}`, pubAck{seq: 42}, true, 0, false},
		{"duplicate", `{"stream":"S","seq":7,"duplicate":true}`, pubAck{seq: 7, duplicate: true}, true, 0, false},
		{"domain", `{"stream":"S","domain":"hub","seq":9}`, pubAck{seq: 9}, true, 0, false},
		{"largest sequence read by hand", `{"stream":"S","seq":9999999999999999999}`, pubAck{seq: 9999999999999999999}, true, 0, false},
		{"a field the server may add", `{"stream":"S","seq":3,"batch":"b","count":2}`, pubAck{seq: 3}, false, 0, false},
		{"spaces", `{ "stream": "S", "seq": 5 }`, pubAck{seq: 5}, false, 0, false},
		{"escaped stream name", `{"stream":"S\u0041","seq":5}`, pubAck{seq: 5}, false, 0, false},
		{"wrong last sequence", `{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"}}`, pubAck{}, false, 10071, false},
		{"no leader", `{"error":{"code":503,"err_code":10008,"description":"JetStream system temporarily unavailable"}}`, pubAck{}, false, 10008, false},
		{"no stream", `{"seq":5}`, pubAck{}, false, 0, true},
		{"not JSON", `+OK`, pubAck{}, false, 0, true},
		{"empty", ``, pubAck{}, false, 0, true},
		{"truncated", `{"stream":"S","seq":5`, pubAck{}, false, 0, true},
		{"sequence overflows", `{"stream":"S","seq":99999999999999999999999}`, pubAck{}, false, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := scanPubAck([]byte(tt.in)); ok != tt.scanned {
				t.Errorf("read by hand: %v, want %v", ok, tt.scanned)
			}
			got, err := parsePubAck([]byte(tt.in))
			switch {
			case tt.invalid:
				if !errors.Is(err, jetstream.ErrInvalidJSAck) {
					t.Fatalf("err %v, want ErrInvalidJSAck", err)
				}
			case tt.apiError != 0:
				apiErr, ok := errors.AsType[*jetstream.APIError](err)
				if !ok || int(apiErr.ErrorCode) != tt.apiError {
					t.Fatalf("err %v, want the server's error %d", err, tt.apiError)
				}
			case err != nil:
				t.Fatal(err)
			case got != tt.want:
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// FuzzScanPubAck: whatever the hand-written reader accepts, encoding/json
// reads the same way.
func FuzzScanPubAck(f *testing.F) {
	for _, s := range []string{`{"stream":"S","seq":42}`, `{"stream":"S","seq":7,"duplicate":true}`, `{"stream":"S","domain":"d","seq":9}`,
		`{"stream":"S","seq":01}`, `{"stream":"","seq":1}`, `{"stream":"S","seq":1,"duplicate":false}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := scanPubAck(data)
		if !ok {
			return
		}
		var want struct {
			Stream    string `json:"stream"`
			Seq       uint64 `json:"seq"`
			Duplicate bool   `json:"duplicate"`
		}
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("read by hand as %+v, but encoding/json rejects %q: %v", got, data, err)
		}
		if want.Stream == "" || got.seq != want.Seq || got.duplicate != want.Duplicate {
			t.Fatalf("%q: read by hand as %+v, encoding/json reads %+v", data, got, want)
		}
	})
}

// An acknowledgement that never comes fails the publish after AckTimeout
// (one sweep, no timer per message), and it is sent again with the same
// id until the context ends.
func TestLostAcknowledgementIsRetried(t *testing.T) {
	ns := testkit.StartNATS(t)
	nc := ns.Connect(t)
	j, err := New(t.Context(), nc, Config{AckTimeout: 100 * time.Millisecond, RetryMax: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	// A subscriber that never answers: the message is delivered, its
	// acknowledgement never comes.
	silent, err := nc.Subscribe("silent.>", func(*nats.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Unsubscribe()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r := testkit.NewReceipt()
	j.send(withSubject(newInflight(ctx, "id-1", "conv-1", r), "silent.x"))
	testkit.Eventually(t, 30*time.Second, "two retries", func() bool { return j.Retries() >= 2 })
	select {
	case <-r.Done():
		t.Fatalf("settled without an acknowledgement: %v", r.Err())
	default:
	}
	cancel()
	select {
	case <-r.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("not settled after the context ended")
	}
	if !errors.Is(r.Err(), context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", r.Err())
	}
}

// With room for one publish in flight, every publish waits for the one
// before it to be acknowledged, and all are.
func TestMaxPendingWaitsForRoom(t *testing.T) {
	ns := testkit.StartNATS(t)
	nc := ns.Connect(t)
	j, err := New(t.Context(), nc, Config{MaxPending: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	const n = 200
	receipts := make([]*testkit.Receipt, n)
	for i := range n {
		tr := transition(fmt.Sprintf("conv-%04d", i), i)
		receipts[i] = testkit.NewReceipt()
		j.Publish(t.Context(), &tr, receipts[i])
		if inFlight := len(j.room); inFlight > 1 {
			t.Fatalf("%d publishes in flight, MaxPending 1", inFlight)
		}
	}
	for i, r := range receipts {
		select {
		case <-r.Done():
		case <-time.After(30 * time.Second):
			t.Fatalf("receipt %d not completed", i)
		}
		if r.Err() != nil {
			t.Fatalf("receipt %d: %v", i, r.Err())
		}
	}
	if got := streamInfo(t, nc, "GENESYS_INTERACTIONS").State.Msgs; got != n {
		t.Fatalf("stream holds %d messages, want %d", got, n)
	}
}

// A publish's room is reused: each use sends exactly the headers it set,
// none an earlier use left.
func TestReusedPublishHeaders(t *testing.T) {
	p := inflights.New().(*inflight)
	uses := []map[string]string{
		{HeaderState: "s1", HeaderInteractionID: "raw id", jetstream.ExpectedLastSubjSeqHeader: "4"},
		{},
		{HeaderState: "s2"},
		{jetstream.ExpectedLastSubjSeqHeader: "7", HeaderState: "s3"},
		{HeaderInteractionID: "other"},
	}
	for i, use := range uses {
		id := fmt.Sprintf("id-%d", i)
		p.reset(t.Context(), id, "conv", nil)
		for k, v := range use {
			p.set(k, v)
		}
		p.headersDone()
		want := nats.Header{jetstream.MsgIDHeader: {id}}
		for k, v := range use {
			want[k] = []string{v}
		}
		if !reflect.DeepEqual(p.msg.Header, want) {
			t.Fatalf("use %d: headers %v, want %v", i, p.msg.Header, want)
		}
	}
}

func withSubject(p *inflight, subject string) *inflight {
	p.msg.Subject = subject
	return p
}

func TestFlights(t *testing.T) {
	var f flights
	a, b := new(inflight), new(inflight)
	ta := f.put(a, 1)
	tb := f.put(b, 2)
	if ta == tb || f.n != 2 {
		t.Fatalf("tokens %x %x, %d in flight", ta, tb, f.n)
	}
	if got := f.take(ta); got != a {
		t.Fatalf("take(%x) = %p, want %p", ta, got, a)
	}
	if got := f.take(ta); got != nil {
		t.Fatalf("a token taken twice: %p", got)
	}
	c := new(inflight)
	tc := f.put(c, 3) // reuses a's slot
	if tc&0xffffffff != ta&0xffffffff {
		t.Fatalf("slot not reused: %x after %x", tc, ta)
	}
	if got := f.take(ta); got != nil {
		t.Fatalf("a late acknowledgement took the slot's new publish: %p", got)
	}
	for _, tok := range []uint64{tc, tb} {
		if f.take(tok) == nil {
			t.Fatalf("take(%x) found nothing", tok)
		}
	}
	if f.n != 0 || f.take(1<<40|7) != nil {
		t.Fatalf("%d left in flight", f.n)
	}
}
