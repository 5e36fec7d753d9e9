package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Bucket is a token bucket, safe for concurrent use.
type Bucket struct {
	rate  float64 // tokens a second
	burst float64

	mu     sync.Mutex
	tokens float64
	last   time.Time
	waited time.Duration
}

// PerMinute returns a bucket of perMinute tokens a minute, starting full
// with burst tokens (at least 1).
func PerMinute(perMinute, burst int) *Bucket {
	b := max(1, float64(burst))
	return &Bucket{rate: float64(max(1, perMinute)) / 60, burst: b, tokens: b, last: time.Now()}
}

// Wait takes a token, waiting until one accrued or ctx ended (then it
// takes none and returns ctx's error).
func (b *Bucket) Wait(ctx context.Context) error {
	for {
		b.mu.Lock()
		now := time.Now()
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
		if b.tokens >= 1 {
			b.tokens--
			b.mu.Unlock()
			return nil
		}
		wait := time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
		b.waited += wait
		b.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Waited is how long waiters were told to wait, in total.
func (b *Bucket) Waited() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.waited
}
