package wsock

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/internal/handoff"
	"github.com/genesys-bridge/genesys-bridge/internal/retry"
)

// Feed is the pull side shared by the dialects: sockets deliver items, the
// pipeline Reads them. Delivery blocks while the pipeline is busy, which
// is the bridge's backpressure.
type Feed struct {
	q           *handoff.Queue[Item]
	batch       []Item // taken from q; batch[next:] not read yet (Read's goroutine only)
	next        int
	done        chan struct{}
	runErr      error
	LastHealthy atomic.Int64
	heartbeat   time.Duration
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

// Deliver hands an item to Read. While it waits (backpressure), the
// watchdog (if any) does not count silence against the socket.
func (f *Feed) Deliver(ctx context.Context, wd *Watchdog, it Item) bool {
	if f.q.TryPush(it) {
		return true
	}
	if wd != nil {
		wd.Busy.Store(true)
		defer func() { wd.Busy.Store(false); wd.Kick() }()
	}
	return f.q.Push(ctx, it)
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
