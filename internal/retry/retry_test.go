package retry

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestDelay(t *testing.T) {
	p := Policy{Base: 100 * time.Millisecond, Max: time.Second, Immediate: 1}
	for _, tc := range []struct {
		n      int
		lo, hi time.Duration
	}{
		{1, 0, 0},
		{2, 50 * time.Millisecond, 100 * time.Millisecond},
		{3, 100 * time.Millisecond, 200 * time.Millisecond},
		{5, 400 * time.Millisecond, 800 * time.Millisecond},
		{6, 500 * time.Millisecond, time.Second},
		{60, 500 * time.Millisecond, time.Second},
	} {
		for range 200 {
			if d := p.Delay(tc.n); d < tc.lo || d > tc.hi {
				t.Fatalf("Delay(%d) = %v, want within [%v, %v]", tc.n, d, tc.lo, tc.hi)
			}
		}
	}
	var zero Policy
	if d := zero.Delay(1); d < 50*time.Millisecond || d > 100*time.Millisecond {
		t.Fatalf("zero policy's first delay %v, want 50-100ms", d)
	}
}

func TestBackoffReset(t *testing.T) {
	b := Policy{Base: time.Second, Max: time.Minute}.Backoff()
	b.Next()
	b.Next()
	if n, _ := b.Next(); n != 3 {
		t.Fatalf("third failure counted as %d", n)
	}
	b.Reset()
	if n, d := b.Next(); n != 1 || d > time.Second {
		t.Fatalf("after Reset: attempt %d wait %v, want 1 and at most 1s", n, d)
	}
}

var errBoom = errors.New("boom")

func TestDo(t *testing.T) {
	for _, tc := range []struct {
		name     string
		p        Policy
		deadline time.Duration // from the start; 0: none
		fails    int           // calls that fail before one succeeds (-1: all)
		wrap     func(error) error
		want     error
		calls    int
		waited   time.Duration // at least
	}{
		{name: "succeeds at once", p: Policy{Base: time.Second}, fails: 0, calls: 1},
		{name: "succeeds after failures", p: Policy{Base: time.Second, Max: time.Second}, fails: 3, calls: 4, waited: 1500 * time.Millisecond},
		{name: "permanent stops", p: Policy{Base: time.Second}, fails: -1, wrap: Permanent, want: errBoom, calls: 1},
		{name: "attempts run out", p: Policy{Base: time.Second, Attempts: 3}, fails: -1, want: errBoom, calls: 3},
		{name: "deadline", p: Policy{Base: time.Second, Max: time.Second, Immediate: 1}, deadline: 400 * time.Millisecond, fails: -1, want: errBoom, calls: 2},
		{name: "retry-after used", p: Policy{Base: time.Millisecond, Attempts: 2}, fails: -1,
			wrap: func(err error) error { return After(err, time.Minute) }, want: errBoom, calls: 2, waited: time.Minute},
		{name: "immediate retries", p: Policy{Base: time.Hour, Immediate: 2}, fails: 2, calls: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				var deadline time.Time
				if tc.deadline > 0 {
					deadline = start.Add(tc.deadline)
				}
				calls, notified := 0, 0
				err := tc.p.Do(context.Background(), deadline, func(context.Context) error {
					calls++
					if tc.fails >= 0 && calls > tc.fails {
						return nil
					}
					if tc.wrap != nil {
						return tc.wrap(errBoom)
					}
					return errBoom
				}, func(a Attempt) {
					notified++
					if a.N != notified || !errors.Is(a.Err, errBoom) {
						t.Errorf("notified %+v as retry %d", a, notified)
					}
				})
				if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
					t.Fatalf("Do = %v, want %v", err, tc.want)
				}
				if err != nil && err != errBoom {
					t.Fatalf("Do returned %#v, want the op's error itself", err)
				}
				if calls != tc.calls {
					t.Fatalf("%d calls, want %d", calls, tc.calls)
				}
				if waited := time.Since(start); waited < tc.waited {
					t.Fatalf("waited %v, want at least %v", waited, tc.waited)
				}
			})
		})
	}
}

func TestDoStopsWhenContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := Policy{Base: time.Second, Max: time.Second}.Do(ctx, time.Time{}, func(context.Context) error { return errBoom }, nil)
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errBoom) {
			t.Fatalf("Do = %v, want the context's error and the last one", err)
		}
	})
}
