package genesys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// Limits of the Notification Service.
const (
	// MaxTopicsPerChannel is how many topics one channel takes.
	MaxTopicsPerChannel = 1000
	// MaxChannels is how many channels one OAuth client may hold; the 21st
	// evicts the oldest unconnected one.
	MaxChannels = 20
	// MaxTopics is the most topics one bridge subscribes: one channel is
	// kept free so that a channel can be replaced make-before-break.
	MaxTopics = (MaxChannels - 1) * MaxTopicsPerChannel
)

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
	// ChannelMargin replaces a channel this long before it expires (at most
	// half its remaining life). Default 1h.
	ChannelMargin time.Duration
	// OpenInteractions, if set, lists the interactions believed open; after
	// a gap their history is fetched by id, whenever they started.
	OpenInteractions func(ctx context.Context) []string
	// BackfillLag is how far analytics lags: a gap's history is queried
	// this long after the gap ended. Default 1m.
	BackfillLag time.Duration
	// BackfillSlack starts a gap this long before the last frame seen.
	// Default 1m.
	BackfillSlack time.Duration
	// BackfillMaxWait bounds how long the frames of interactions that may
	// have changed in a gap wait for its history (the gap's deadline).
	// Default 5m.
	BackfillMaxWait time.Duration
	// ResumeFrom, if set, is when an earlier run last published: the first
	// socket of each lane is then treated as after a gap that began then
	// (less BackfillMaxWait: what that run may still have held back).
	ResumeFrom time.Time
	// Dialer dials the socket. Default: 15s handshake timeout.
	Dialer *websocket.Dialer
	Logger *slog.Logger
}

// Stream is the Notification Service source. It splits its topics over
// channels of at most 1,000 topics (lanes), holds one socket per lane,
// replaces a lane's channel make-before-break ahead of token and channel
// expiry and on socket_closing, reconnects a lane whose socket died, and
// back-fills the gap over REST. Read yields the decoded events of all
// lanes, live and back-filled.
type Stream struct {
	*feed
	cfg     StreamConfig
	log     *slog.Logger
	lanes   []*lane
	rollSem chan struct{} // one make-before-break at a time (channel ceiling)
	bf      sync.WaitGroup

	reconnects atomic.Uint64
	rollovers  atomic.Uint64
	backfilled atomic.Uint64
	gapSeq     atomic.Uint64
}

// lane is a group of at most MaxTopicsPerChannel topics with its own channel.
type lane struct {
	s      *Stream
	index  int
	topics []string
	filter DetailsFilter // queue and user ids, for the analytics query
}

// NewStream returns a Stream; Run starts it.
func NewStream(cfg StreamConfig) (*Stream, error) {
	if cfg.Client == nil {
		return nil, errors.New("genesys stream: no client")
	}
	if len(cfg.Topics) == 0 {
		return nil, errors.New("genesys stream: no topics to subscribe")
	}
	if len(cfg.Topics) > MaxTopics {
		return nil, fmt.Errorf("genesys stream: %d topics need %d channels, but Genesys allows %d channels per OAuth client and the bridge keeps one free to replace channels without a gap: at most %d topics per bridge; split the ids across deployments with separate OAuth clients",
			len(cfg.Topics), (len(cfg.Topics)+MaxTopicsPerChannel-1)/MaxTopicsPerChannel, MaxChannels, MaxTopics)
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 30 * time.Second
	}
	if cfg.ChannelMargin <= 0 {
		cfg.ChannelMargin = time.Hour
	}
	if cfg.BackfillLag <= 0 {
		cfg.BackfillLag = time.Minute
	}
	if cfg.BackfillSlack <= 0 {
		cfg.BackfillSlack = time.Minute
	}
	if cfg.BackfillMaxWait <= 0 {
		cfg.BackfillMaxWait = 5 * time.Minute
	}
	log := socketDefaults(&cfg.MaxFrameSize, &cfg.BackoffBase, &cfg.BackoffMax, &cfg.Dialer, cfg.Logger)
	s := &Stream{feed: newFeed(cfg.HeartbeatInterval), cfg: cfg, log: log, rollSem: make(chan struct{}, 1)}
	for i := 0; i < len(cfg.Topics); i += MaxTopicsPerChannel {
		l := &lane{s: s, index: len(s.lanes), topics: cfg.Topics[i:min(i+MaxTopicsPerChannel, len(cfg.Topics))]}
		for _, t := range l.topics {
			if id, ok := topicID(t, "v2.routing.queues."); ok {
				l.filter.QueueIDs = append(l.filter.QueueIDs, id)
			} else if id, ok := topicID(t, "v2.users."); ok {
				l.filter.UserIDs = append(l.filter.UserIDs, id)
			}
		}
		s.lanes = append(s.lanes, l)
	}
	return s, nil
}

// topicID returns the id of a conversation topic with the given prefix.
func topicID(topic, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(topic, prefix)
	if !ok {
		return "", false
	}
	id, tail, ok := strings.Cut(rest, ".")
	tail, _, _ = strings.Cut(tail, ".")
	return id, ok && id != "" && tail == "conversations"
}

// Lanes reports how many channels the stream holds.
func (s *Stream) Lanes() int { return len(s.lanes) }

// Reconnects counts sockets that died and were replaced after a gap.
func (s *Stream) Reconnects() uint64 { return s.reconnects.Load() }

// Rollovers counts channels replaced make-before-break (no gap).
func (s *Stream) Rollovers() uint64 { return s.rollovers.Load() }

// Backfilled counts conversations fetched over REST after gaps.
func (s *Stream) Backfilled() uint64 { return s.backfilled.Load() }

// Errors that end a socket and say why.
var (
	errChannelGone = errors.New("channel gone")
	errHeartbeat   = errors.New("missed heartbeats")
	errRolledOver  = errors.New("replaced by a new channel")
	// ErrNoTopicPermitted means the server rejected every topic of a channel.
	ErrNoTopicPermitted = errors.New("genesys: no topic was permitted")
)

func permanent(err error) bool {
	return errors.Is(err, ErrBadCredentials) || errors.Is(err, ErrNoTopicPermitted)
}

// Run holds every lane until ctx ends or a permanent error (bad
// credentials, every topic of a channel rejected) occurs; then it stops the
// others and returns that error (nil when ctx ended).
func (s *Stream) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for _, l := range s.lanes {
		wg.Go(func() {
			if err := l.run(ctx); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		})
	}
	wg.Wait()
	cancel()
	s.bf.Wait()
	s.finish(first)
	return first
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
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

// run supervises one lane: connect, replace before expiry, reconnect and
// back-fill after a death.
func (l *lane) run(ctx context.Context) error {
	s := l.s
	var cur *conn
	defer func() {
		if cur != nil {
			cur.close(nil)
		}
	}()
	var gapFrom time.Time
	if !s.cfg.ResumeFrom.IsZero() {
		// Resuming after an earlier run: everything since it stopped is a
		// gap, and so is what it may still have held back then, waiting
		// for a gap's history (at most BackfillMaxWait).
		gapFrom = s.cfg.ResumeFrom.Add(-s.cfg.BackfillMaxWait)
		s.log.Info("resuming after an earlier run; back-filling since it stopped", "lane", l.index,
			"last_published", s.cfg.ResumeFrom.UTC().Format(time.RFC3339Nano))
	}
	attempt := 0
	for {
		if cur == nil {
			c, err := l.open(ctx, !gapFrom.IsZero())
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if permanent(err) {
					return err
				}
				attempt++
				wait := Backoff(attempt, s.cfg.BackoffBase, s.cfg.BackoffMax)
				s.log.Warn("genesys connect failed; retrying", "lane", l.index, "err", err, "attempt", attempt, "wait", wait.String())
				if !sleepCtx(ctx, wait) {
					return nil
				}
				continue
			}
			cur = c
			if !gapFrom.IsZero() {
				s.log.Warn("genesys socket restored", "lane", l.index, "channel_id", c.ch.ID, "gap", time.Since(gapFrom).Round(time.Millisecond).String())
				if !s.openGap(ctx, l, gapFrom, c.opened) {
					return nil
				}
				c.release()
				gapFrom = time.Time{}
			}
		}
		rotateAt, why := cur.rotateAt(s.cfg.ChannelMargin)
		timer := time.NewTimer(time.Until(rotateAt))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-cur.dead:
			timer.Stop()
			gapFrom = cur.lastFrame()
			s.reconnects.Add(1)
			if time.Since(cur.opened) > 4*s.cfg.HeartbeatInterval {
				attempt = 0
			}
			attempt++
			wait := Backoff(attempt, s.cfg.BackoffBase, s.cfg.BackoffMax)
			s.log.Warn("genesys socket lost; reconnecting and back-filling the gap", "lane", l.index, "channel_id", cur.ch.ID,
				"err", cur.err, "since_last_frame", time.Since(gapFrom).Round(time.Millisecond).String(), "attempt", attempt, "wait", wait.String())
			cur = nil
			if !sleepCtx(ctx, wait) {
				return nil
			}
			continue
		case <-cur.closing:
			timer.Stop()
			why = "server announced socket_closing"
		case <-timer.C:
		}
		next, died, err := l.rollover(ctx, cur, why)
		if err != nil {
			if permanent(err) {
				return err
			}
			return nil // ctx ended
		}
		cur = next
		if died {
			s.reconnects.Add(1)
		}
	}
}

// rollover opens a replacement for cur, and only then closes cur. It
// reports whether cur died before the replacement was up (a gap).
func (l *lane) rollover(ctx context.Context, cur *conn, why string) (*conn, bool, error) {
	s := l.s
	select {
	case s.rollSem <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	defer func() { <-s.rollSem }()
	var next *conn
	for attempt := 1; ; attempt++ {
		var err error
		// Gated: the new socket's frames wait until the old socket has
		// delivered its last ones, so the two never interleave.
		if next, err = l.open(ctx, true); err == nil {
			break
		}
		if ctx.Err() != nil || permanent(err) {
			return nil, false, err
		}
		wait := Backoff(attempt, s.cfg.BackoffBase, s.cfg.BackoffMax)
		s.log.Warn("opening a replacement channel failed; retrying", "lane", l.index, "why", why, "err", err, "attempt", attempt, "wait", wait.String())
		if !sleepCtx(ctx, wait) {
			return nil, false, ctx.Err()
		}
	}
	// The old socket may still hold frames sent before the new one was
	// subscribed: they reach no other socket. Read them all (up to the
	// answer to a ping sent now) before closing it.
	cur.drain(ctx, max(time.Second, 2*s.cfg.HeartbeatInterval))
	died := cur.isDead()
	cur.close(errRolledOver)
	// Both sockets carried the notifications sent while both were open:
	// the new one skips those the old one delivered, so no older frame is
	// applied again after newer ones.
	next.overlap.start(cur.delivered.since(next.dialed))
	if died && !s.openGap(ctx, l, cur.lastFrame(), next.opened) {
		next.close(ctx.Err())
		return nil, false, ctx.Err()
	}
	next.release()
	s.rollovers.Add(1)
	if died {
		s.log.Warn("genesys channel replaced after the old socket died", "lane", l.index, "why", why, "old_channel_id", cur.ch.ID,
			"channel_id", next.ch.ID, "err", cur.err, "gap", time.Since(cur.lastFrame()).Round(time.Millisecond).String())
	} else {
		s.log.Info("genesys channel replaced make-before-break; no gap", "lane", l.index, "why", why, "old_channel_id", cur.ch.ID, "channel_id", next.ch.ID)
	}
	return next, died, nil
}

// conn is one channel and its socket.
type conn struct {
	ch      Channel
	sock    *socket
	opened  time.Time
	dialed  time.Time // when dialing began: the server may send from then on
	last    atomic.Int64
	dead    chan struct{}
	err     error // why the socket ended; valid after dead is closed
	closing chan struct{}
	once    sync.Once
	gate    chan struct{} // closed when live frames may flow
	gateMu  sync.Once
	wg      sync.WaitGroup

	// delivered remembers the event frames this socket delivered lately;
	// overlap skips, on the socket that replaces another, what that one
	// already delivered (see overlap.go).
	delivered recentFrames
	overlap   overlap
	// pongs counts pong frames read; pong is signalled on each.
	pongs atomic.Uint64
	pong  chan struct{}
}

// drain waits until the socket has delivered every frame the server queued
// on it before now: it sends a ping and waits for its pong, which the
// server sends after them. It gives up after timeout, or when the socket
// dies.
func (c *conn) drain(ctx context.Context, timeout time.Duration) {
	if c.isDead() {
		return
	}
	before := c.pongs.Load()
	if err := c.sock.ping(); err != nil {
		return
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for c.pongs.Load() == before {
		select {
		case <-c.pong:
		case <-c.dead:
			return
		case <-t.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// release lets the socket's frames flow.
func (c *conn) release() { c.gateMu.Do(func() { close(c.gate) }) }

func (c *conn) isDead() bool {
	select {
	case <-c.dead:
		return true
	default:
		return false
	}
}

func (c *conn) lastFrame() time.Time { return time.Unix(0, c.last.Load()) }

// close kills the socket (if still open) and waits for its goroutines.
func (c *conn) close(why error) {
	c.sock.kill(why)
	c.wg.Wait()
}

// rotateAt is when the channel must be replaced: before its token is due
// for replacement, or margin before it expires (at most half its life).
func (c *conn) rotateAt(margin time.Duration) (time.Time, string) {
	at, why := c.opened.Add(24*time.Hour), "channel age"
	if !c.ch.Expires.IsZero() {
		life := c.ch.Expires.Sub(c.opened)
		at, why = c.ch.Expires.Add(-min(margin, life/2)), "channel expiry approaching"
	}
	if !c.ch.TokenRefreshAt.IsZero() && c.ch.TokenRefreshAt.Before(at) {
		at, why = c.ch.TokenRefreshAt, "access token due for rotation"
	}
	return at, why
}

// open creates a channel, subscribes the lane's topics and connects the
// socket. The returned conn is delivering events, or, if gated, will once
// release is called (after a gap, history from the back-fill goes first).
func (l *lane) open(ctx context.Context, gated bool) (*conn, error) {
	s := l.s
	cl := s.cfg.Client
	ch, err := cl.CreateChannel(ctx)
	if err != nil {
		return nil, err
	}
	results, err := cl.Subscribe(ctx, ch.ID, l.topics)
	if err != nil {
		return nil, err
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
		return nil, fmt.Errorf("%w: all %d topics rejected (check the OAuth client's permissions and the ids)", ErrNoTopicPermitted, len(l.topics))
	}
	dialed := time.Now()
	ws, resp, err := s.cfg.Dialer.DialContext(ctx, ch.ConnectURI, nil)
	if err != nil {
		if resp != nil {
			return nil, &APIError{Op: "connect socket", Status: resp.StatusCode, CorrelationID: resp.Header.Get("ININ-Correlation-Id")}
		}
		return nil, fmt.Errorf("connect socket: %s", scrubURLError(err))
	}
	c := &conn{ch: ch, sock: &socket{conn: ws}, opened: time.Now(), dialed: dialed, dead: make(chan struct{}), closing: make(chan struct{}),
		gate: make(chan struct{}), pong: make(chan struct{}, 1)}
	if !gated {
		c.release()
	}
	c.last.Store(c.opened.UnixNano())
	s.log.Info("genesys stream connected", "lane", l.index, "channel_id", ch.ID, "topics", permitted,
		"channel_expires", ch.Expires.Format(time.RFC3339))
	wd := &watchdog{interval: s.cfg.HeartbeatInterval, ping: c.sock.ping, kill: c.sock.kill}
	wd.kick()
	wdCtx, stopWD := context.WithCancel(ctx)
	c.wg.Go(func() { wd.run(wdCtx) })
	c.wg.Go(func() {
		stop := context.AfterFunc(ctx, func() { c.sock.kill(ctx.Err()) })
		defer stop()
		defer stopWD()
		c.err = s.readLoop(ctx, c, wd)
		close(c.dead)
	})
	return c, nil
}

func (s *Stream) readLoop(ctx context.Context, c *conn, wd *watchdog) error {
	defer c.sock.conn.Close()
	select {
	case <-c.gate:
	default:
		wd.busy.Store(true) // frames wait in the socket; not a silence
		select {
		case <-c.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
		wd.busy.Store(false)
		wd.kick()
	}
	for {
		_, r, err := c.sock.conn.NextReader()
		if err != nil {
			if why := c.sock.reason(); why != nil {
				return why
			}
			return fmt.Errorf("read socket: %w", err)
		}
		now := time.Now()
		wd.kick()
		c.last.Store(now.UnixNano())
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
			if c.overlap.skip(f.Fingerprint, now) {
				continue
			}
			if !s.deliver(ctx, wd, item{ev: f.Event}) {
				return ctx.Err()
			}
			c.delivered.add(f.Fingerprint, now)
		case FramePong:
			c.pongs.Add(1)
			select {
			case c.pong <- struct{}{}:
			default:
			}
		case FrameSocketClosing:
			s.log.Info("genesys announced socket_closing", "channel_id", c.ch.ID, "reason", f.Reason)
			c.once.Do(func() { close(c.closing) })
		case FrameChannelGone:
			return fmt.Errorf("%w (%s)", errChannelGone, f.Reason)
		}
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

func (s *socket) writeJSON(v any) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return s.conn.WriteJSON(v)
}

// wsPing sends a WebSocket ping control frame.
func (s *socket) wsPing() error {
	return s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(10*time.Second))
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
