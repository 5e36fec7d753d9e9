package genesys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// MaxTopicsPerChannel is the Notification Service's limit of topics on one channel.
const MaxTopicsPerChannel = 1000

// StreamConfig configures a Stream. Zero values are the documented defaults.
type StreamConfig struct {
	Client *Client
	Topics []string
	// HeartbeatInterval is the server's heartbeat period. The stream pings
	// when nothing arrived for one interval and declares the socket dead
	// after two intervals of silence. Default 30s.
	HeartbeatInterval time.Duration
	// MaxFrameSize bounds one frame; a larger frame is rejected (counted)
	// and skipped without closing the socket. Default 1 MiB.
	MaxFrameSize int64
	// BackoffBase and BackoffMax bound the reconnect delay (exponential with
	// jitter). Defaults 500ms and 30s.
	BackoffBase, BackoffMax time.Duration
	// Dialer dials the socket. Default: 15s handshake timeout.
	Dialer *websocket.Dialer
	Logger *slog.Logger
}

// Stream is the Notification Service source: it creates a channel,
// subscribes the topics, holds the socket and reconnects, and yields the
// decoded events through Read.
type Stream struct {
	cfg StreamConfig
	log *slog.Logger
	out chan item

	done   chan struct{}
	runErr error

	// LastHealthy is the unix-nano time of the last frame received.
	lastHealthy atomic.Int64
	reconnects  atomic.Uint64
}

type item struct {
	ev  bridge.Event
	err error
}

// NewStream returns a Stream; Run starts it.
func NewStream(cfg StreamConfig) (*Stream, error) {
	if cfg.Client == nil {
		return nil, errors.New("genesys stream: no client")
	}
	if len(cfg.Topics) == 0 {
		return nil, errors.New("genesys stream: no topics to subscribe")
	}
	if len(cfg.Topics) > MaxTopicsPerChannel {
		return nil, fmt.Errorf("genesys stream: %d topics, but one channel holds at most %d", len(cfg.Topics), MaxTopicsPerChannel)
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 30 * time.Second
	}
	if cfg.MaxFrameSize <= 0 {
		cfg.MaxFrameSize = 1 << 20
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = 500 * time.Millisecond
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 30 * time.Second
	}
	if cfg.Dialer == nil {
		cfg.Dialer = &websocket.Dialer{HandshakeTimeout: 15 * time.Second, Proxy: http.ProxyFromEnvironment}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Stream{cfg: cfg, log: log, out: make(chan item, 256), done: make(chan struct{})}, nil
}

// Reconnects counts sockets replaced after the first.
func (s *Stream) Reconnects() uint64 { return s.reconnects.Load() }

// Healthy reports whether a frame arrived within two heartbeat intervals.
func (s *Stream) Healthy() bool {
	last := s.lastHealthy.Load()
	return last != 0 && time.Since(time.Unix(0, last)) < 2*s.cfg.HeartbeatInterval
}

// Read returns the next event. A *bridge.RejectError reports one rejected
// frame; reading may go on. After Run ended, Read returns its error (or
// io.EOF after a clean stop).
func (s *Stream) Read(ctx context.Context) (bridge.Event, error) {
	select {
	case it := <-s.out:
		return it.ev, it.err
	case <-ctx.Done():
		return bridge.Event{}, ctx.Err()
	case <-s.done:
		select {
		case it := <-s.out:
			return it.ev, it.err
		default:
		}
		if s.runErr != nil {
			return bridge.Event{}, s.runErr
		}
		return bridge.Event{}, io.EOF
	}
}

// Errors that end a socket and say why.
var (
	errSocketClosing = errors.New("server announced socket_closing")
	errChannelGone   = errors.New("channel gone")
	errHeartbeat     = errors.New("missed heartbeats")
	// ErrNoTopicPermitted means the server rejected every topic.
	ErrNoTopicPermitted = errors.New("genesys: no topic was permitted")
)

// Run connects and reconnects until ctx ends or a permanent error (bad
// credentials, every topic rejected) occurs. It returns nil when ctx ended.
func (s *Stream) Run(ctx context.Context) error {
	err := s.run(ctx)
	s.runErr = err
	close(s.done)
	return err
}

func (s *Stream) run(ctx context.Context) error {
	attempt := 0
	for first := true; ; first = false {
		started := time.Now()
		err := s.session(ctx, first)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrBadCredentials) || errors.Is(err, ErrNoTopicPermitted) {
			return err
		}
		s.reconnects.Add(1)
		// A socket that lived a while earns a fresh backoff.
		if time.Since(started) > 4*s.cfg.HeartbeatInterval {
			attempt = 0
		}
		var wait time.Duration
		if !errors.Is(err, errSocketClosing) {
			attempt++
			wait = Backoff(attempt, s.cfg.BackoffBase, s.cfg.BackoffMax)
		}
		var gap time.Duration
		if last := s.lastHealthy.Load(); last != 0 {
			gap = time.Since(time.Unix(0, last))
		}
		s.log.Warn("genesys socket lost; reconnecting", "err", err, "attempt", attempt,
			"wait", wait.String(), "since_last_frame", gap.Round(time.Millisecond).String())
		if wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
		}
	}
}

// session runs one channel and socket until it fails.
func (s *Stream) session(ctx context.Context, first bool) error {
	c := s.cfg.Client
	ch, err := c.CreateChannel(ctx)
	if err != nil {
		return err
	}
	results, err := c.Subscribe(ctx, ch.ID, s.cfg.Topics)
	if err != nil {
		return err
	}
	permitted := 0
	for _, r := range results {
		if r.State == "Rejected" {
			s.log.Error("topic rejected by Genesys", "topic", truncate(r.ID, 200), "reason", r.RejectionReason, "channel_id", ch.ID)
			continue
		}
		permitted++
	}
	if permitted == 0 {
		return fmt.Errorf("%w: all %d topics rejected (check the OAuth client's permissions and the ids)", ErrNoTopicPermitted, len(s.cfg.Topics))
	}

	conn, resp, err := s.cfg.Dialer.DialContext(ctx, ch.ConnectURI, nil)
	if err != nil {
		if resp != nil {
			return &APIError{Op: "connect socket", Status: resp.StatusCode, CorrelationID: resp.Header.Get("ININ-Correlation-Id")}
		}
		return fmt.Errorf("connect socket: %s", scrubURLError(err))
	}
	defer conn.Close()
	s.log.Info("genesys stream connected", "channel_id", ch.ID, "topics", permitted, "channel_expires", ch.Expires.Format(time.RFC3339))

	sock := &socket{conn: conn}
	wd := &watchdog{interval: s.cfg.HeartbeatInterval, ping: sock.ping, kill: sock.kill}
	wd.kick()
	wdCtx, stopWD := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { wd.run(wdCtx) })
	// Closing the socket unblocks the reader when ctx ends.
	stopClose := context.AfterFunc(ctx, func() { sock.kill(ctx.Err()) })
	defer func() {
		stopClose()
		stopWD()
		wg.Wait()
	}()
	return s.readLoop(ctx, sock, wd)
}

func (s *Stream) readLoop(ctx context.Context, sock *socket, wd *watchdog) error {
	for {
		_, r, err := sock.conn.NextReader()
		if err != nil {
			if why := sock.reason(); why != nil {
				return why
			}
			return fmt.Errorf("read socket: %w", err)
		}
		now := time.Now()
		wd.kick()
		s.lastHealthy.Store(now.UnixNano())
		data, err := readFrame(r, s.cfg.MaxFrameSize)
		if err != nil {
			if errors.Is(err, errOversize) {
				s.deliver(ctx, wd, item{err: bridge.Reject(bridge.ReasonOversize, data,
					"frame larger than %d bytes skipped", s.cfg.MaxFrameSize)})
				continue
			}
			return fmt.Errorf("read frame: %w", err)
		}
		f, err := DecodeNotification(data, now)
		if err != nil {
			s.deliver(ctx, wd, item{err: err})
			continue
		}
		switch f.Kind {
		case FrameEvent:
			if !s.deliver(ctx, wd, item{ev: f.Event}) {
				return ctx.Err()
			}
		case FrameSocketClosing:
			return fmt.Errorf("%w (%s)", errSocketClosing, f.Reason)
		case FrameChannelGone:
			return fmt.Errorf("%w (%s)", errChannelGone, f.Reason)
		}
	}
}

// deliver hands an item to Read. While it waits (backpressure), the
// watchdog does not count silence against the socket.
func (s *Stream) deliver(ctx context.Context, wd *watchdog, it item) bool {
	select {
	case s.out <- it:
		return true
	default:
	}
	wd.busy.Store(true)
	defer func() { wd.busy.Store(false); wd.kick() }()
	select {
	case s.out <- it:
		return true
	case <-ctx.Done():
		return false
	}
}

var errOversize = errors.New("frame too large")

// readFrame reads one message of at most limit bytes. A larger message is
// drained and reported with errOversize and its first bytes, so the
// socket stays usable.
func readFrame(r io.Reader, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
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

// socket serialises writes and remembers why it was killed.
type socket struct {
	conn *websocket.Conn
	wmu  sync.Mutex
	mu   sync.Mutex
	why  error
}

var pingFrame = []byte(`{"message":"ping"}`)

func (s *socket) ping() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return s.conn.WriteMessage(websocket.TextMessage, pingFrame)
}

func (s *socket) kill(why error) {
	s.mu.Lock()
	if s.why == nil {
		s.why = why
	}
	s.mu.Unlock()
	_ = s.conn.Close()
}

func (s *socket) reason() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.why
}

// watchdog pings a quiet socket after one heartbeat interval and kills it
// after two intervals without any frame. Time spent waiting for the
// consumer (busy) does not count.
type watchdog struct {
	interval time.Duration
	ping     func() error
	kill     func(error)
	last     atomic.Int64
	busy     atomic.Bool
}

func (w *watchdog) kick() { w.last.Store(time.Now().UnixNano()) }

func (w *watchdog) run(ctx context.Context) {
	tick := time.NewTicker(w.interval / 4)
	defer tick.Stop()
	pinged := int64(0) // the kick time a ping was sent for
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if w.busy.Load() {
			continue
		}
		last := w.last.Load()
		quiet := time.Since(time.Unix(0, last))
		switch {
		case quiet >= 2*w.interval:
			w.kill(fmt.Errorf("%w: nothing received for %s", errHeartbeat, quiet.Round(time.Second)))
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
