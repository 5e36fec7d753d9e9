package wsock

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// The watchdog pings after one quiet interval, kills the socket after two,
// and does not count time the consumer spends blocked.
func TestWatchdog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var pings int
		var killed error
		w := &Watchdog{interval: 30 * time.Second,
			ping: func() error { mu.Lock(); pings++; mu.Unlock(); return nil },
			kill: func(err error) { mu.Lock(); killed = err; mu.Unlock() }}
		w.Kick()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go w.run(ctx)
		state := func() (int, error) { mu.Lock(); defer mu.Unlock(); return pings, killed }

		time.Sleep(29 * time.Second)
		synctest.Wait()
		if p, k := state(); p != 0 || k != nil {
			t.Fatalf("after 29s: %d pings, killed %v", p, k)
		}
		time.Sleep(9 * time.Second) // checks run every quarter interval
		synctest.Wait()
		if p, k := state(); p != 1 || k != nil {
			t.Fatalf("after 38s: %d pings, killed %v; want one ping", p, k)
		}
		// A frame (the pong) arrives: the silence starts over.
		w.Kick()
		time.Sleep(50 * time.Second)
		synctest.Wait()
		if p, k := state(); p != 2 || k != nil {
			t.Fatalf("50s after a pong: %d pings, killed %v", p, k)
		}
		// The consumer blocks the reader for ten minutes: not a dead socket.
		w.Busy.Store(true)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if _, k := state(); k != nil {
			t.Fatalf("killed while the consumer was busy: %v", k)
		}
		w.Busy.Store(false)
		w.Kick()
		time.Sleep(59 * time.Second)
		synctest.Wait()
		if _, k := state(); k != nil {
			t.Fatalf("killed after 59s of silence: %v", k)
		}
		time.Sleep(9 * time.Second)
		synctest.Wait()
		if _, k := state(); !errors.Is(k, ErrHeartbeat) {
			t.Fatalf("after 68s of silence: killed = %v, want ErrHeartbeat", k)
		}
	})
}
