package wsock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// item is producer p's n-th item.
func item(p, n int) Item { return Item{Ev: bridge.Event{InteractionID: fmt.Sprintf("%d/%d", p, n)}} }

// taker records what Serve's take receives, and fails if two calls
// overlap.
type taker struct {
	busy atomic.Bool
	mu   sync.Mutex
	got  []string
	fail func(n int) error // the n-th take's error, if set
}

func (tk *taker) take(ev bridge.Event, err error) error {
	if !tk.busy.CompareAndSwap(false, true) {
		panic("take called concurrently")
	}
	defer tk.busy.Store(false)
	tk.mu.Lock()
	defer tk.mu.Unlock()
	tk.got = append(tk.got, ev.InteractionID)
	if tk.fail != nil {
		return tk.fail(len(tk.got))
	}
	return nil
}

func (tk *taker) taken() []string {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	return append([]string(nil), tk.got...)
}

// Serve: items delivered before it are taken first; several producers'
// items are all taken, one at a time, each producer's in its order
// (whether its goroutine or another took them); the feed's end is
// Serve's.
func TestFeedServe(t *testing.T) {
	f := NewFeed(time.Second)
	ctx := context.Background()
	f.Deliver(ctx, nil, item(0, 0)) // before Serve: queued
	tk := &taker{}
	served := make(chan error, 1)
	go func() { served <- f.Serve(ctx, tk.take) }()
	waitFor(t, func() bool { return len(tk.taken()) == 1 })
	const producers, each = 4, 2000
	var wg sync.WaitGroup
	for p := 1; p <= producers; p++ {
		wg.Go(func() {
			for n := range each {
				if !f.Deliver(ctx, nil, item(p, n)) {
					t.Errorf("producer %d: item %d not delivered", p, n)
					return
				}
			}
		})
	}
	wg.Wait()
	f.Finish(nil)
	if err := <-served; !errors.Is(err, io.EOF) {
		t.Fatalf("Serve after a clean finish = %v, want io.EOF", err)
	}
	got := tk.taken()
	if len(got) != 1+producers*each || got[0] != "0/0" {
		t.Fatalf("taken %d items (first %q), want %d with 0/0 first", len(got), got[0], 1+producers*each)
	}
	next := make([]int, producers+1)
	for _, id := range got[1:] {
		var p, n int
		fmt.Sscanf(id, "%d/%d", &p, &n)
		if n != next[p] {
			t.Fatalf("producer %d: item %d taken where %d was due", p, n, next[p])
		}
		next[p]++
	}
	// After Serve, delivering queues again, for Read.
	f2 := NewFeed(time.Second)
	sctx, stop := context.WithCancel(ctx)
	go func() { served <- f2.Serve(sctx, tk.take) }()
	stop()
	if err := <-served; !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve after ctx ended = %v", err)
	}
	f2.Deliver(ctx, nil, item(9, 0))
	if ev, err := f2.Read(ctx); err != nil || ev.InteractionID != "9/0" {
		t.Fatalf("Read after Serve = %v, %v", ev.InteractionID, err)
	}
}

// When take fails, Serve returns its error and take is not called again:
// later items are queued (no pipeline takes them).
func TestFeedServeTakeFails(t *testing.T) {
	f := NewFeed(time.Second)
	ctx := context.Background()
	stop := errors.New("pipeline stopped")
	tk := &taker{fail: func(n int) error {
		if n == 3 {
			return stop
		}
		return nil
	}}
	served := make(chan error, 1)
	go func() { served <- f.Serve(ctx, tk.take) }()
	for n := range 10 {
		f.Deliver(ctx, nil, item(1, n)) // queued while Serve starts, or taken
	}
	if err := <-served; !errors.Is(err, stop) {
		t.Fatalf("Serve = %v, want take's error", err)
	}
	if got := tk.taken(); len(got) != 3 {
		t.Fatalf("take called %d times, want 3 (not again after it failed): %v", len(got), got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
