package genesys

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

// feed is the pull side shared by the dialects: sockets deliver items, the
// pipeline Reads them. Delivery blocks while the pipeline is busy, which
// is the bridge's backpressure.
type feed struct {
	q           *handoff.Queue[item]
	batch       []item // taken from q; batch[next:] not read yet (Read's goroutine only)
	next        int
	done        chan struct{}
	runErr      error
	lastHealthy atomic.Int64
	heartbeat   time.Duration
}

type item struct {
	ev  bridge.Event
	err error
}

func newFeed(heartbeat time.Duration) *feed {
	return &feed{q: handoff.New[item](256), done: make(chan struct{}), heartbeat: heartbeat}
}

// finish records Run's result; Read returns it once the items are drained.
func (f *feed) finish(err error) {
	f.runErr = err
	close(f.done)
}

// Healthy reports whether a frame arrived within two heartbeat intervals.
func (f *feed) Healthy() bool {
	last := f.lastHealthy.Load()
	return last != 0 && time.Since(time.Unix(0, last)) < 2*f.heartbeat
}

// Read returns the next event. A *bridge.RejectError reports one rejected
// frame; reading may go on. After Run ended, Read returns its error (or
// io.EOF after a clean stop). It is called from one goroutine.
func (f *feed) Read(ctx context.Context) (bridge.Event, error) {
	for {
		if f.next < len(f.batch) {
			it := f.batch[f.next]
			f.batch[f.next] = item{}
			f.next++
			return it.ev, it.err
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

// deliver hands an item to Read. While it waits (backpressure), the
// watchdog (if any) does not count silence against the socket.
func (f *feed) deliver(ctx context.Context, wd *watchdog, it item) bool {
	if f.q.TryPush(it) {
		return true
	}
	if wd != nil {
		wd.busy.Store(true)
		defer func() { wd.busy.Store(false); wd.kick() }()
	}
	return f.q.Push(ctx, it)
}

// SocketConfig holds the settings both dialects share. Zero values are
// the documented defaults.
type SocketConfig struct {
	// MaxFrameSize bounds one frame; a larger frame is rejected (counted)
	// and skipped without closing the socket. Default 1 MiB.
	MaxFrameSize int64
	// BackoffBase and BackoffMax bound the reconnect delay (exponential with
	// jitter, internal/retry). Defaults 500ms and 30s.
	BackoffBase, BackoffMax time.Duration
	// Dialer dials the socket. Default: Transport{}.Dialer().
	Dialer *websocket.Dialer
	Logger *slog.Logger
}

func (c SocketConfig) withDefaults() SocketConfig {
	if c.MaxFrameSize <= 0 {
		c.MaxFrameSize = 1 << 20
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = 500 * time.Millisecond
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 30 * time.Second
	}
	if c.Dialer == nil {
		c.Dialer = Transport{}.Dialer()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// retryPolicy is the reconnect policy.
func (c *SocketConfig) retryPolicy() retry.Policy {
	return retry.Policy{Base: c.BackoffBase, Max: c.BackoffMax}
}
