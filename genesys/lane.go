package genesys

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/genesys-bridge/genesys-bridge/internal/retry"
	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// lane is a group of at most MaxTopicsPerChannel topics with its own
// channel, and the goroutine that holds it.
type lane struct {
	s      *Stream
	index  int
	topics []string
	filter DetailsFilter // queue and user ids, for the analytics query

	// gapFrom is when the lane last heard from Genesys, while it has no
	// socket (zero while it has one): the next socket starts after a gap.
	gapFrom time.Time
	// connected tells whether the last session got as far as a socket.
	connected bool
}

// run holds the lane until ctx ends or a permanent error: one session per
// socket, under the dialects' shared supervisor.
func (l *lane) run(ctx context.Context) error {
	s := l.s
	if !s.cfg.ResumeFrom.IsZero() {
		// Resuming after an earlier run: everything since it stopped is a
		// gap, and so is what it may still have held back then, waiting
		// for a gap's history (at most BackfillMaxWait).
		l.gapFrom = s.cfg.ResumeFrom.Add(-s.cfg.BackfillMaxWait)
		s.log.Info("resuming after an earlier run; back-filling since it stopped", "lane", l.index,
			"last_published", s.cfg.ResumeFrom.UTC().Format(time.RFC3339Nano))
	}
	return supervise(ctx, s.retry, 4*s.cfg.HeartbeatInterval, l.session, func(err error, attempt int, wait time.Duration) {
		if !l.connected {
			s.log.Warn("genesys connect failed; retrying", "lane", l.index, "err", err, "attempt", attempt, "wait", wait.String())
			return
		}
		s.log.Warn("genesys socket lost; reconnecting and back-filling the gap", "lane", l.index, "err", err,
			"since_last_frame", time.Since(l.gapFrom).Round(time.Millisecond).String(), "attempt", attempt, "wait", wait.String())
	})
}

// session connects the lane (back-filling the gap before it, if any) and
// holds the connection, replacing its channel make-before-break before it
// expires, until its socket dies.
func (l *lane) session(ctx context.Context) error {
	s := l.s
	l.connected = false
	cur, err := l.open(ctx, !l.gapFrom.IsZero())
	if err != nil {
		return err
	}
	l.connected = true
	defer func() { cur.close(nil) }()
	if !l.gapFrom.IsZero() {
		s.log.Warn("genesys socket restored", "lane", l.index, "channel_id", cur.ch.ID, "gap", time.Since(l.gapFrom).Round(time.Millisecond).String())
		if !s.openGap(ctx, l, l.gapFrom, cur.opened) {
			return ctx.Err()
		}
		if err := cur.release(ctx); err != nil {
			return err
		}
		l.gapFrom = time.Time{}
	}
	for {
		rotateAt, why := cur.rotateAt(s.cfg.ChannelMargin)
		timer := time.NewTimer(time.Until(rotateAt))
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-cur.dead:
			timer.Stop()
			l.gapFrom = cur.lastFrame()
			s.reconnects.Add(1)
			return fmt.Errorf("channel %s: %w", cur.ch.ID, cur.err)
		case <-cur.closing:
			timer.Stop()
			why = "server announced socket_closing"
		case <-timer.C:
		}
		next, died, err := l.rollover(ctx, cur, why)
		if err != nil {
			return err // permanent, or ctx ended
		}
		cur = next
		if died {
			s.reconnects.Add(1)
		}
	}
}

// rollover opens a replacement for cur, and only then closes cur. It
// reports whether the switch may have lost frames (a gap, back-filled):
// cur died before the replacement was up, or never drained.
func (l *lane) rollover(ctx context.Context, cur *conn, why string) (*conn, bool, error) {
	s := l.s
	select {
	case s.rollSem <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	defer func() { <-s.rollSem }()
	var next *conn
	err := s.retry.Do(ctx, time.Time{}, func(ctx context.Context) error {
		var err error
		// Gated: the new socket's frames are held until the old socket
		// has delivered its last ones, so the two never interleave.
		next, err = l.open(ctx, true)
		if permanent(err) {
			return retry.Permanent(err)
		}
		return err
	}, func(a retry.Attempt) {
		s.log.Warn("opening a replacement channel failed; retrying", "lane", l.index, "why", why, "err", a.Err, "attempt", a.N, "wait", a.Wait.String())
	})
	if err != nil {
		return nil, false, err
	}
	// The old socket may still hold frames sent before the new one was
	// subscribed: they reach no other socket. Read them all before
	// closing it.
	drained := cur.drain(ctx, next, rolloverSettle, max(time.Second, 2*s.cfg.HeartbeatInterval))
	died := cur.isDead() || drained == drainTimedOut
	cur.close(errRolledOver)
	// Both sockets carried the notifications sent while both were open:
	// the new one skips those the old one delivered, so no older frame is
	// applied again after newer ones.
	next.overlap.start(cur.delivered.since(next.dialed))
	if died && !s.openGap(ctx, l, cur.lastFrame(), next.opened) {
		next.close(ctx.Err())
		return nil, false, ctx.Err()
	}
	if err := next.release(ctx); err != nil {
		next.close(err)
		return nil, false, err
	}
	s.rollovers.Add(1)
	if died {
		s.log.Warn("genesys channel replaced after the old socket died or stopped answering", "lane", l.index, "why", why, "old_channel_id", cur.ch.ID,
			"channel_id", next.ch.ID, "err", cur.err, "drained", drained.String(), "gap", time.Since(cur.lastFrame()).Round(time.Millisecond).String())
	} else {
		s.log.Info("genesys channel replaced make-before-break; no gap", "lane", l.index, "why", why, "old_channel_id", cur.ch.ID, "channel_id", next.ch.ID,
			"drained", drained.String())
	}
	return next, died, nil
}

// rolloverSettle is how long a rollover goes on reading the old socket
// after it answered a ping, when no frame has yet proved it drained
// (traffic that quiet has little in flight; see drain).
const rolloverSettle = time.Second

// drainEnd tells how a drain ended.
type drainEnd int

const (
	drainCommon   drainEnd = iota // the old socket delivered a frame the new one has
	drainQuiet                    // it answered a ping and then settled
	drainDead                     // it died
	drainTimedOut                 // it answered nothing in time
)

func (d drainEnd) String() string {
	return [...]string{"common frame", "ping answered, then quiet", "socket died", "timed out"}[d]
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
	// announceClosing closes closing (socket_closing may come twice).
	announceClosing sync.Once
	gate            chan struct{} // closed when live frames may flow
	releaseGate     sync.Once
	wg              sync.WaitGroup
	s               *Stream

	// While the gate is closed the reader keeps reading, and holds what
	// it reads (at most recentCap items; then it waits for the gate): a
	// rollover can see which frames the new socket has. heldFPs are the
	// held event frames' fingerprints.
	hmu      sync.Mutex
	released bool
	held     []heldItem
	heldFPs  map[uint64]struct{}
	// progress is signalled when the reader delivers or holds an event.
	progress chan struct{}

	// delivered remembers the event frames this socket delivered lately;
	// overlap skips, on the socket that replaces another, what that one
	// already delivered (see overlap.go).
	delivered recentFrames
	overlap   overlap
	// pongs counts pong frames read; pong is signalled on each.
	pongs atomic.Uint64
	pong  chan struct{}
}

// heldItem is an item read while the gate was closed.
type heldItem struct {
	it    item
	fp    uint64 // an event frame's fingerprint
	event bool
	at    time.Time
}

// drain reads c, the socket next replaces, until it has delivered every
// frame sent to it before next was subscribed. Genesys promises no order
// between notifications and a ping's answer, so the pong alone proves
// nothing; a frame that both sockets received does: it was sent after
// next subscribed, so on c it comes after everything sent before that.
// Without traffic no such frame comes: then c is read until it answered a
// ping and delivered nothing for settle (unless next holds frames by then:
// c lags behind it, and drain waits on for a common frame). drain gives up
// after timeout, or when c dies.
//
// A frame byte-identical to one sent to c alone before next subscribed
// (Genesys repeats notifications) can end the drain early; that needs the
// repeat to reach next before c delivers the original.
func (c *conn) drain(ctx context.Context, next *conn, settle, timeout time.Duration) drainEnd {
	if c.isDead() {
		return drainDead
	}
	before := c.pongs.Load()
	if err := notificationPing(c.sock); err != nil {
		return drainDead
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	// quiet runs from the pong, and again from each frame c delivers after
	// it: c has settled when it delivered nothing for settle.
	quiet := time.NewTimer(settle)
	quiet.Stop()
	defer quiet.Stop()
	ponged := false
	for !c.caughtUp(next) {
		select {
		case <-c.progress:
			if ponged {
				quiet.Reset(settle)
			}
		case <-next.progress:
		case <-c.pong:
			if !ponged && c.pongs.Load() != before {
				ponged = true
				quiet.Reset(settle)
			}
		case <-quiet.C:
			if !next.holdsEvents() {
				return drainQuiet
			}
			// The new socket has frames the old one has not delivered:
			// the old one lags; wait for them (up to timeout).
		case <-c.dead:
			return drainDead
		case <-t.C:
			return drainTimedOut
		case <-ctx.Done():
			return drainTimedOut
		}
	}
	return drainCommon
}

// caughtUp reports whether c delivered, since next began dialing, an event
// frame that next holds.
func (c *conn) caughtUp(next *conn) bool {
	fps := c.delivered.since(next.dialed)
	next.hmu.Lock()
	defer next.hmu.Unlock()
	for _, fp := range fps {
		if _, ok := next.heldFPs[fp]; ok {
			return true
		}
	}
	return false
}

// holdsEvents reports whether event frames are held (the gate closed).
func (c *conn) holdsEvents() bool {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	return len(c.heldFPs) > 0
}

// signal notes progress for a drain waiting on it.
func (c *conn) signal() {
	select {
	case c.progress <- struct{}{}:
	default:
	}
}

// release lets the socket's frames flow: the held ones first, in order
// (through the overlap skip), then the reader delivers as it reads.
func (c *conn) release(ctx context.Context) error {
	var err error
	c.releaseGate.Do(func() {
		c.hmu.Lock()
		defer c.hmu.Unlock()
		for _, h := range c.held {
			if err = c.pass(ctx, h); err != nil {
				break
			}
		}
		c.held, c.heldFPs, c.released = nil, nil, true
		close(c.gate)
	})
	return err
}

// take delivers an item the reader read, or holds it while the gate is
// closed (waiting for the gate once recentCap items are held).
func (c *conn) take(ctx context.Context, h heldItem) error {
	c.hmu.Lock()
	if !c.released && len(c.held) >= recentCap {
		c.hmu.Unlock()
		c.sock.wd.busy.Store(true) // frames wait in the socket; not a silence
		select {
		case <-c.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
		c.sock.wd.busy.Store(false)
		c.sock.wd.kick()
		c.hmu.Lock()
	}
	if !c.released {
		c.held = append(c.held, h)
		if h.event {
			c.heldFPs[h.fp] = struct{}{}
		}
		c.hmu.Unlock()
		c.signal()
		return nil
	}
	c.hmu.Unlock()
	return c.pass(ctx, h)
}

// pass hands an item on to Read: an event frame unless it repeats the
// replaced socket's last frames.
func (c *conn) pass(ctx context.Context, h heldItem) error {
	if !h.event {
		c.s.deliver(ctx, c.sock.wd, h.it)
		return nil
	}
	if c.overlap.skip(h.fp, h.at) {
		return nil
	}
	if !c.s.deliver(ctx, c.sock.wd, h.it) {
		return ctx.Err()
	}
	c.delivered.add(h.fp, h.at)
	c.signal()
	return nil
}

func (c *conn) isDead() bool {
	select {
	case <-c.dead:
		return true
	default:
		return false
	}
}

func (c *conn) lastFrame() time.Time { return time.Unix(0, c.last.Load()) }

// close kills the socket (if still open) and waits for its reader.
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
			s.log.Error("topic rejected by Genesys", "topic", text.Truncate(r.ID, 200), "reason", r.RejectionReason, "channel_id", ch.ID)
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
		return nil, fmt.Errorf("connect socket: %w", redactURLError(err))
	}
	c := &conn{ch: ch, sock: watchSocket(ctx, ws, s.cfg.HeartbeatInterval, notificationPing), opened: time.Now(), dialed: dialed, s: s,
		dead: make(chan struct{}), closing: make(chan struct{}), gate: make(chan struct{}), pong: make(chan struct{}, 1),
		heldFPs: map[uint64]struct{}{}, progress: make(chan struct{}, 1)}
	if !gated {
		_ = c.release(ctx) // nothing is held yet
	}
	c.last.Store(c.opened.UnixNano())
	s.log.Info("genesys stream connected", "lane", l.index, "channel_id", ch.ID, "topics", permitted,
		"channel_expires", ch.Expires.Format(time.RFC3339))
	c.wg.Go(func() {
		c.err = s.readLoop(ctx, c)
		c.sock.close(nil)
		close(c.dead)
	})
	return c, nil
}

// readLoop reads the socket's frames: held while the gate is closed,
// delivered once it is open.
func (s *Stream) readLoop(ctx context.Context, c *conn) error {
	return s.readSocket(ctx, c.sock, s.cfg.MaxFrameSize, func(data []byte, now time.Time) error {
		c.last.Store(now.UnixNano())
		f, err := DecodeNotification(data, now)
		if err != nil {
			return c.take(ctx, heldItem{it: item{err: err}, at: now})
		}
		switch f.Kind {
		case FrameEvent:
			return c.take(ctx, heldItem{it: item{ev: f.Event}, fp: f.Fingerprint, event: true, at: now})
		case FramePong:
			c.pongs.Add(1)
			select {
			case c.pong <- struct{}{}:
			default:
			}
		case FrameSocketClosing:
			s.log.Info("genesys announced socket_closing", "channel_id", c.ch.ID, "reason", f.Reason)
			c.announceClosing.Do(func() { close(c.closing) })
		case FrameChannelGone:
			return fmt.Errorf("%w (%s)", errChannelGone, f.Reason)
		}
		return nil
	})
}
