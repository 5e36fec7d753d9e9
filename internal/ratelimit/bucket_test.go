package ratelimit

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// A full bucket lets its burst through at once, then one request every
// 1/rate: 60 a minute with a burst of 5 is 5 at once and 60 more in the
// next minute.
func TestPace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := PerMinute(60, 5)
		start := time.Now()
		var done []time.Duration
		for range 65 {
			if err := b.Wait(t.Context()); err != nil {
				t.Fatal(err)
			}
			done = append(done, time.Since(start))
		}
		if done[4] != 0 || done[5] != time.Second || done[64] != time.Minute {
			t.Errorf("the 5th at %s, the 6th at %s, the 65th at %s; want 0, 1s, 1m", done[4], done[5], done[64])
		}
	})
}

// Concurrent waiters share the rate; one whose context ends takes no
// token.
func TestConcurrentAndCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := PerMinute(120, 1) // one every 500ms
		ctx, cancel := context.WithTimeout(t.Context(), 1200*time.Millisecond)
		defer cancel()
		var mu sync.Mutex
		got, failed := 0, 0
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				err := b.Wait(ctx)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed++
				} else {
					got++
				}
			})
		}
		wg.Wait()
		// At 0 (the burst), 500ms and 1s: three in 1.2 s.
		if got != 3 || failed != 7 {
			t.Errorf("%d passed, %d cancelled; want 3 and 7", got, failed)
		}
		// The cancelled ones took nothing: the next is due at 1.5 s.
		time.Sleep(300 * time.Millisecond)
		start := time.Now()
		if err := b.Wait(t.Context()); err != nil || time.Since(start) != 0 {
			t.Errorf("after the cancellations the next waited %s (%v); want none", time.Since(start), err)
		}
	})
}
