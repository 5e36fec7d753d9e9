package wsock

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/internal/handoff"
	"github.com/genesys-bridge/genesys-bridge/internal/retry"
)

// Feed is the side shared by the dialects where sockets deliver items to
// the pipeline: it Reads them, or (Serve, bridge.PushSource) the
// delivering goroutine hands each to the pipeline itself. Delivery blocks
// while the pipeline is busy, which is the bridge's backpressure.
type Feed struct {
	q           *handoff.Queue[Item]
	batch       []Item // taken from q; batch[next:] not read yet (Read's goroutine only)
	next        int
	done        chan struct{}
	runErr      error
	LastHealthy atomic.Int64
	heartbeat   time.Duration

	// While Serve runs, take is the pipeline's, called with mu held (one
	// item at a time, in one order): by a delivering goroutine that gets
	// mu at once, after what q holds (items delivered while another held
	// it, taken first so that each producer's order holds), or by Serve's
	// goroutine for what q holds. takeErr is what take returned when it
	// failed (take is not called again).
	mu      sync.Mutex
	take    func(bridge.Event, error) error
	takeErr error
	failed  chan struct{} // closed when take failed
	flushed []Item        // q's items being taken (mu held)
}

type Item struct {
	Ev  bridge.Event
	Err error
}

func NewFeed(heartbeat time.Duration) *Feed {
	return &Feed{q: handoff.New[Item](256), done: make(chan struct{}), heartbeat: heartbeat}
}

// Finish records Run's result; Read returns it once the items are drained.
func (f *Feed) Finish(err error) {
	f.runErr = err
	close(f.done)
}

// Healthy reports whether a frame arrived within two heartbeat intervals.
func (f *Feed) Healthy() bool {
	last := f.LastHealthy.Load()
	return last != 0 && time.Since(time.Unix(0, last)) < 2*f.heartbeat
}

// Read returns the next event. A *bridge.RejectError reports one rejected
// frame; reading may go on. After Run ended, Read returns its error (or
// io.EOF after a clean stop). It is called from one goroutine.
func (f *Feed) Read(ctx context.Context) (bridge.Event, error) {
	for {
		if f.next < len(f.batch) {
			it := f.batch[f.next]
			f.batch[f.next] = Item{}
			f.next++
			return it.Ev, it.Err
		}
		f.batch, _ = f.q.Take(f.batch)
		f.next = 0
		if len(f.batch) > 0 {
			continue
		}
		select {
		case <-f.q.Ready():
		case <-ctx.Done():
			return bridge.Event{}, ctx.Err()
		case <-f.done:
			// Run has ended: what is queued is all there is.
			if f.batch, _ = f.q.Take(f.batch); len(f.batch) > 0 {
				continue
			}
			if f.runErr != nil {
				return bridge.Event{}, f.runErr
			}
			return bridge.Event{}, io.EOF
		}
	}
}

// Deliver hands an item to the pipeline: while Serve runs, itself if no
// other goroutine is handing items over at the moment, else (and without
// Serve) through the queue Read and Serve take from. While it waits
// (backpressure), the watchdog (if any) does not count silence against
// the socket.
func (f *Feed) Deliver(ctx context.Context, wd *Watchdog, it Item) bool {
	if f.mu.TryLock() {
		if f.take != nil {
			if wd != nil {
				wd.Busy.Store(true) // taking may wait for a busy pipeline
			}
			taken := f.flushLocked() && f.takeLocked(it)
			f.mu.Unlock()
			if wd != nil {
				wd.Busy.Store(false)
				wd.Kick()
			}
			if taken {
				return true
			}
			// The pipeline stopped taking: queue it, as for Read.
		} else {
			f.mu.Unlock()
		}
	}
	if f.q.TryPush(it) {
		return true
	}
	if wd != nil {
		wd.Busy.Store(true)
		defer func() { wd.Busy.Store(false); wd.Kick() }()
	}
	return f.q.Push(ctx, it)
}

// Serve implements bridge.PushSource: take receives every item delivered
// until ctx ends, the feed finished (Run's error, or io.EOF, once what was
// delivered is taken) or take fails.
func (f *Feed) Serve(ctx context.Context, take func(bridge.Event, error) error) error {
	f.mu.Lock()
	f.take, f.takeErr, f.failed = take, nil, make(chan struct{})
	failed := f.failed
	// What Read had taken from the queue and not returned yet comes
	// first (a Read before Serve; none in the bridge).
	for ; f.next < len(f.batch) && f.takeErr == nil; f.next++ {
		f.takeLocked(f.batch[f.next])
		f.batch[f.next] = Item{}
	}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.take = nil
		f.mu.Unlock()
	}()
	flush := func() error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.flushLocked()
		return f.takeErr
	}
	for {
		if err := flush(); err != nil {
			return err
		}
		select {
		case <-f.q.Ready():
		case <-failed:
		case <-ctx.Done():
			return ctx.Err()
		case <-f.done:
			if err := flush(); err != nil {
				return err
			}
			if f.runErr != nil {
				return f.runErr
			}
			return io.EOF
		}
	}
}

// flushLocked hands what the queue holds to take (mu held). It reports
// whether take holds (did not fail, now or before).
func (f *Feed) flushLocked() bool {
	for f.takeErr == nil {
		f.flushed, _ = f.q.Take(f.flushed[:0])
		if len(f.flushed) == 0 {
			break
		}
		for i, it := range f.flushed {
			f.flushed[i] = Item{}
			if !f.takeLocked(it) {
				return false // the rest of the batch: no pipeline to take it
			}
		}
	}
	return f.takeErr == nil
}

// takeLocked hands one item to take (mu held).
func (f *Feed) takeLocked(it Item) bool {
	if f.takeErr != nil {
		return false
	}
	if err := f.take(it.Ev, it.Err); err != nil {
		f.takeErr = err
		close(f.failed)
		return false
	}
	return true
}

// Config holds the settings both dialects share. Zero values are
// the documented defaults.
type Config struct {
	// MaxFrameSize bounds one frame; a larger frame is rejected (counted)
	// and skipped without closing the socket. Default 1 MiB.
	MaxFrameSize int64
	// BackoffBase and BackoffMax bound the reconnect delay (exponential with
	// jitter, internal/retry). Defaults 500ms and 30s.
	BackoffBase, BackoffMax time.Duration
	// Dialer dials the socket (each dialect sets its default).
	Dialer *websocket.Dialer
	Logger *slog.Logger
}

func (c Config) WithDefaults() Config {
	if c.MaxFrameSize <= 0 {
		c.MaxFrameSize = 1 << 20
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = 500 * time.Millisecond
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// RetryPolicy is the reconnect policy.
func (c *Config) RetryPolicy() retry.Policy {
	return retry.Policy{Base: c.BackoffBase, Max: c.BackoffMax}
}
