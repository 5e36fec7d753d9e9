package wsock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// Socket is one WebSocket of either dialect: writes are serialised, the
// reason it was killed is kept, a watchdog pings it when quiet and kills
// it when silent, and it is killed when its context ends.
type Socket struct {
	conn *websocket.Conn
	WD   *Watchdog
	wmu  sync.Mutex // serialises writes
	mu   sync.Mutex // guards why
	why  error

	wg        sync.WaitGroup
	stopWatch context.CancelFunc
	stopKill  func() bool
}

// Watch wraps ws and starts its watchdog: ping is sent after one
// interval without a frame, and the socket is killed after two. close
// stops it.
func Watch(ctx context.Context, ws *websocket.Conn, interval time.Duration, ping func(*Socket) error) *Socket {
	s := &Socket{conn: ws}
	s.WD = &Watchdog{interval: interval, ping: func() error { return ping(s) }, kill: s.Kill}
	s.WD.Kick()
	wctx, cancel := context.WithCancel(ctx)
	s.stopWatch = cancel
	s.wg.Go(func() { s.WD.run(wctx) })
	s.stopKill = context.AfterFunc(ctx, func() { s.Kill(ctx.Err()) })
	return s
}

// close kills the socket (if still open) and stops its watchdog.
func (s *Socket) Close(why error) {
	s.Kill(why)
	s.stopKill()
	s.stopWatch()
	s.wg.Wait()
}

var pingFrame = []byte(`{"message":"ping"}`)

// notificationPing sends the Notification Service's ping message, which
// the server answers with a pong frame after the frames queued before it.
func NotificationPing(s *Socket) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return s.conn.WriteMessage(websocket.TextMessage, pingFrame)
}

// controlPing sends a WebSocket ping control frame.
func ControlPing(s *Socket) error {
	return s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(10*time.Second))
}

func (s *Socket) WriteJSON(v any) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return s.conn.WriteJSON(v)
}

// kill closes the socket; the first reason given is the one reason reports.
func (s *Socket) Kill(why error) {
	s.mu.Lock()
	if s.why == nil {
		s.why = why
	}
	s.mu.Unlock()
	_ = s.conn.Close()
}

func (s *Socket) Reason() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.why
}

// ReadSocket is the one read loop of both dialects. It reads sock's frames
// until the socket ends or handle fails, and returns why. Each frame kicks
// the watchdog and marks the feed healthy; a frame over maxFrame bytes is
// rejected without closing the socket: handle gets its rejection (and its
// first bytes); the others go to handle with the time they arrived. data is
// valid only until handle returns: one buffer serves every frame.
func (f *Feed) ReadSocket(ctx context.Context, sock *Socket, maxFrame int64, handle func(data []byte, now time.Time, rejected error) error) error {
	var buf bytes.Buffer
	var limited io.LimitedReader // one for every frame, not one allocated per frame
	for {
		_, r, err := sock.conn.NextReader()
		if err != nil {
			if why := sock.Reason(); why != nil {
				return why
			}
			return fmt.Errorf("read socket: %w", err)
		}
		now := time.Now()
		sock.WD.last.Store(now.UnixNano()) // kick, without a second clock read
		f.LastHealthy.Store(now.UnixNano())
		data, err := readFrame(r, maxFrame, &buf, &limited)
		var rejected error
		if errors.Is(err, errOversize) {
			rejected = bridge.Reject(bridge.ReasonOversize, data, "frame larger than %d bytes skipped", maxFrame)
		} else if err != nil {
			return fmt.Errorf("read frame: %w", err)
		}
		if err := handle(data, now, rejected); err != nil {
			return err
		}
	}
}

var errOversize = errors.New("frame too large")

// readFrame reads one message of at most limit bytes into buf (reset
// first). A larger message is drained and reported with errOversize and
// its first bytes, so the socket stays usable. lr is the caller's, reused.
func readFrame(r io.Reader, limit int64, buf *bytes.Buffer, lr *io.LimitedReader) ([]byte, error) {
	buf.Reset()
	if buf.Cap() > 1<<20 {
		*buf = bytes.Buffer{} // let one huge frame's buffer go
	}
	*lr = io.LimitedReader{R: r, N: limit + 1}
	n, err := buf.ReadFrom(lr)
	lr.R = nil
	if err != nil {
		return nil, err
	}
	if n > limit {
		if _, err := io.Copy(io.Discard, r); err != nil {
			return nil, err
		}
		b := buf.Bytes()
		return b[:min(len(b), 256)], errOversize
	}
	return buf.Bytes(), nil
}

// ErrHeartbeat is why a silent socket was killed.
var ErrHeartbeat = errors.New("missed heartbeats")

// Watchdog pings a quiet socket after one heartbeat interval and kills it
// after two intervals without any frame. Time spent waiting for the
// consumer (busy) does not count.
type Watchdog struct {
	interval time.Duration
	ping     func() error
	kill     func(error)
	last     atomic.Int64
	Busy     atomic.Bool
}

func (w *Watchdog) Kick() { w.last.Store(time.Now().UnixNano()) }

func (w *Watchdog) run(ctx context.Context) {
	tick := time.NewTicker(w.interval / 4)
	defer tick.Stop()
	pinged := int64(0) // the kick time a ping was sent for
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if w.Busy.Load() {
			continue
		}
		last := w.last.Load()
		quiet := time.Since(time.Unix(0, last))
		switch {
		case quiet >= 2*w.interval:
			w.kill(fmt.Errorf("%w: nothing received for %s", ErrHeartbeat, quiet.Round(time.Second)))
			return
		case quiet >= w.interval && pinged != last:
			pinged = last
			if err := w.ping(); err != nil {
				w.kill(fmt.Errorf("send ping: %w", err))
				return
			}
		}
	}
}
