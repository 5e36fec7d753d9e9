package genesys

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// feed is the pull side shared by the dialects: sockets deliver items, the
// pipeline Reads them. Delivery blocks while the pipeline is busy, which
// is the bridge's backpressure.
type feed struct {
	out         chan item
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
	return &feed{out: make(chan item, 256), done: make(chan struct{}), heartbeat: heartbeat}
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
// io.EOF after a clean stop).
func (f *feed) Read(ctx context.Context) (bridge.Event, error) {
	select {
	case it := <-f.out:
		return it.ev, it.err
	case <-ctx.Done():
		return bridge.Event{}, ctx.Err()
	case <-f.done:
		select {
		case it := <-f.out:
			return it.ev, it.err
		default:
		}
		if f.runErr != nil {
			return bridge.Event{}, f.runErr
		}
		return bridge.Event{}, io.EOF
	}
}

// deliver hands an item to Read. While it waits (backpressure), the
// watchdog (if any) does not count silence against the socket.
func (f *feed) deliver(ctx context.Context, wd *watchdog, it item) bool {
	select {
	case f.out <- it:
		return true
	default:
	}
	if wd != nil {
		wd.busy.Store(true)
		defer func() { wd.busy.Store(false); wd.kick() }()
	}
	select {
	case f.out <- it:
		return true
	case <-ctx.Done():
		return false
	}
}

// socketDefaults fills the settings both dialects share with their
// documented defaults (1 MiB frames, backoff 500ms to 30s, a dialer with a
// 15s handshake timeout) and returns the logger to use.
func socketDefaults(maxFrame *int64, backoffBase, backoffMax *time.Duration, dialer **websocket.Dialer, logger *slog.Logger) *slog.Logger {
	if *maxFrame <= 0 {
		*maxFrame = 1 << 20
	}
	if *backoffBase <= 0 {
		*backoffBase = 500 * time.Millisecond
	}
	if *backoffMax <= 0 {
		*backoffMax = 30 * time.Second
	}
	if *dialer == nil {
		*dialer = &websocket.Dialer{HandshakeTimeout: 15 * time.Second, Proxy: http.ProxyFromEnvironment}
	}
	if logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return logger
}
