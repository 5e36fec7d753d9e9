package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Policy says how often and how long to retry. The zero Policy retries
// forever, waiting 100ms to 30s.
type Policy struct {
	// Base is the first wait (before jitter); each later one doubles.
	Base time.Duration
	// Max caps one wait.
	Max time.Duration
	// Attempts bounds the calls (0: unbounded).
	Attempts int
	// Immediate is how many retries go without waiting, before backoff
	// starts (for a loop whose first failure often means "the outage is
	// already over").
	Immediate int
}

func (p Policy) bounds() (time.Duration, time.Duration) {
	base, cap := p.Base, p.Max
	if base <= 0 {
		base = 100 * time.Millisecond
	}
	if cap <= 0 {
		cap = 30 * time.Second
	}
	return base, max(base, cap)
}

// Delay is the wait before retry n (1-based), with full jitter: between
// half and all of min(Max, Base*2^(n-1)); zero for the Immediate ones.
func (p Policy) Delay(n int) time.Duration {
	if n <= p.Immediate {
		return 0
	}
	n -= p.Immediate
	base, cap := p.bounds()
	d := base
	for i := 1; i < n && d < cap; i++ {
		d *= 2
	}
	d = min(d, cap)
	return d/2 + rand.N(d/2+1)
}

// Backoff counts the retries of one loop that never ends by itself (a
// supervisor): Next gives the next wait, Reset starts over after a
// healthy spell.
type Backoff struct {
	p Policy
	n int
}

// Backoff returns a fresh counter of p.
func (p Policy) Backoff() *Backoff { return &Backoff{p: p} }

// Next counts one more failure and returns it (1-based) and the wait
// before the next try.
func (b *Backoff) Next() (int, time.Duration) {
	b.n++
	return b.n, b.p.Delay(b.n)
}

// Reset forgets the failures counted so far.
func (b *Backoff) Reset() { b.n = 0 }

// Attempt is what a retry notification reports.
type Attempt struct {
	N    int           // the attempt that failed, 1-based
	Wait time.Duration // the wait before the next one
	Err  error         // why it failed
}

// Do calls op until it returns nil, a permanent error (Permanent), or the
// attempts run out, or waiting would pass deadline (zero: none), or ctx
// ends. Before each wait it calls notify (if not nil). It returns nil or
// op's last error (unwrapped from Permanent); when ctx ended first, an
// error that wraps both ctx's and op's last.
func (p Policy) Do(ctx context.Context, deadline time.Time, op func(ctx context.Context) error, notify func(Attempt)) error {
	for n := 1; ; n++ {
		err := op(ctx)
		if err == nil {
			return nil
		}
		if pe, ok := errors.AsType[*permanentError](err); ok {
			return pe.err
		}
		wait := p.Delay(n)
		if after, ok := err.(*afterError); ok {
			err = after.err
			wait = max(wait, after.d)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		}
		if p.Attempts > 0 && n >= p.Attempts {
			return err
		}
		if !deadline.IsZero() && time.Now().Add(wait).After(deadline) {
			return err
		}
		if notify != nil {
			notify(Attempt{N: n, Wait: wait, Err: err})
		}
		if !Sleep(ctx, wait) {
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		}
	}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as one retrying cannot fix: Do returns it at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type afterError struct {
	err error
	d   time.Duration
}

func (e *afterError) Error() string { return e.err.Error() }
func (e *afterError) Unwrap() error { return e.err }

// After marks err (as op returns it) as transient with a wait the server
// asked for (Retry-After): the wait is at least d.
func After(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &afterError{err, d}
}

// Sleep waits d, or until ctx ends; it reports whether ctx is still live.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
