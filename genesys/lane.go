package genesys

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/genesys/internal/wsock"
	"github.com/genesys-bridge/genesys-bridge/internal/retry"
	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// lane is a group of at most MaxTopicsPerChannel topics with its own
// channel, and the goroutine that holds it.
type lane struct {
	s     *Stream
	index int

	filter DetailsFilter // queue and user ids, for the analytics query (fixed)

	// Under s.mu: the roster may add agents while the lane runs.
	topics   []string
	agents   []string    // the agents of its activity topics, for the users details query
	chID     string      // the channel its topics are subscribed on now
	chClient *clientSlot // the client that created it
	// uncovered tells that the lane's last attempt found no client with
	// room (clients.go).
	uncovered bool

	// gapFrom is when the lane last heard from Genesys, while it has no
	// socket (zero while it has one): the next socket starts after a gap.
	gapFrom time.Time
	// connected tells whether the last session got as far as a socket.
	connected bool
	// followed tells whether the lane's agents' history before the
	// stream began has been asked for (fresh starts; see session).
	followed bool

	// heard is when the lane last took a frame (unix ns), and gaps (under
	// s.mu) the starts of its gaps whose history is awaited: the lane's
	// safe mark for a replica that takes it over (leases.go).
	heard atomic.Int64
	gaps  map[uint64]time.Time
	// inheritedUntil, if set, tells that the lane's next gap covers a
	// time another replica read it (a takeover), and until when it may
	// have published: bridge.Gap.InheritedUntil.
	inheritedUntil time.Time
	// earliest (under s.mu) is the earliest placement of an agent added
	// while the lane had no channel here: its next session's gap starts
	// no later.
	earliest time.Time
}

// newLane is lane index of s; it has heard nothing yet (its safe mark is
// its creation until then).
func newLane(s *Stream, index int) *lane {
	l := &lane{s: s, index: index}
	l.heard.Store(time.Now().UnixNano())
	return l
}

// unread records that the lane has no channel here now.
func (l *lane) unread() {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	l.chID, l.chClient = "", nil
}

// takeEarliest returns and clears the lane's earliest placement.
func (l *lane) takeEarliest() time.Time {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	e := l.earliest
	l.earliest = time.Time{}
	return e
}

// earlier is the earlier of a and b, b if a is zero.
func earlier(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// agentIDs is a copy of the lane's agents.
func (l *lane) agentIDs() []string {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	return slices.Clone(l.agents)
}

// run holds the lane until ctx ends or a permanent error: while its lease
// is held, if the lanes are shared between replicas (leases.go).
func (l *lane) run(ctx context.Context) error {
	if l.s.cfg.Leases != nil {
		return l.leased(ctx)
	}
	if !l.s.cfg.ResumeFrom.IsZero() {
		// Resuming after an earlier run: everything since it stopped is a
		// gap, and so is what it may still have held back then, waiting
		// for a gap's history (at most BackfillMaxWait).
		l.gapFrom = l.s.cfg.ResumeFrom.Add(-l.s.cfg.BackfillMaxWait)
		l.s.log.Info("resuming after an earlier run; back-filling since it stopped", "lane", l.index,
			"last_published", l.s.cfg.ResumeFrom.UTC().Format(time.RFC3339Nano))
	}
	return l.supervise(ctx)
}

// supervise holds the lane until ctx ends or a permanent error: one
// session per socket, under the dialects' shared supervisor.
func (l *lane) supervise(ctx context.Context) error {
	s := l.s
	return wsock.Supervise(ctx, s.retry, 4*s.cfg.HeartbeatInterval, Permanent, l.session, func(err error, attempt int, wait time.Duration) {
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
// expires, until its socket dies. The lane's goroutine owns the
// connection's state: each socket's reader only reads, decodes and sends
// it frames, in order; this goroutine alone decides what is delivered,
// held or skipped, and hands frames to the feed.
func (l *lane) session(ctx context.Context) error {
	s := l.s
	l.connected = false
	cur, err := l.open(ctx, false)
	if err != nil {
		return err
	}
	l.connected = true
	defer func() { cur.close(nil); l.unread() }()
	// Agents placed on the lane while it had no channel here are
	// subscribed now: their history since they were placed is the gap's.
	earliest := l.takeEarliest()
	if !l.gapFrom.IsZero() {
		// The gap is announced before any frame of the new socket is
		// taken: those frames wait in the reader's channel meanwhile.
		s.log.Warn("genesys socket restored", "lane", l.index, "channel_id", cur.ch.ID, "gap", time.Since(l.gapFrom).Round(time.Millisecond).String())
		if !s.openGap(ctx, l, earlier(l.gapFrom, earliest), cur.opened) {
			return ctx.Err()
		}
		l.gapFrom = time.Time{}
		l.followed = true // the gap back-fills its agents
		earliest = time.Time{}
	}
	if !l.followed || !earliest.IsZero() {
		// A fresh start: what the lane's agents were doing when their
		// topics were subscribed is their history (their first
		// transition is where they were, not their first change).
		l.followed = true
		if ids := l.agentIDs(); len(ids) > 0 {
			g := &bridge.Gap{ID: s.gapSeq.Add(1), From: earlier(cur.dialed, earliest).Add(-s.cfg.BackfillSlack), To: cur.opened,
				Deadline: cur.opened.Add(s.cfg.BackfillMaxWait), Only: ids}
			s.gapOpened(l, g.ID, g.From)
			if !s.Deliver(ctx, nil, wsock.Item{Ev: bridge.Event{Kind: bridge.KindGapOpened, Gap: g}}) {
				return ctx.Err()
			}
			s.bf.Go(func() { s.backfillAgents(ctx, l, g, ids) })
		}
	}
	rotate := time.NewTimer(0)
	defer rotate.Stop()
	for {
		rotateAt, why := cur.rotateAt(s.cfg.ChannelMargin)
		if cur.announced { // socket_closing came while its frames were held
			rotateAt, why = time.Now(), "server announced socket_closing"
		}
		rotate.Reset(time.Until(rotateAt))
		for rolling := false; !rolling; {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case f, ok := <-cur.frames:
				if !ok {
					l.gapFrom = cur.last
					s.reconnects.Add(1)
					return fmt.Errorf("channel %s: %w", cur.ch.ID, cur.readErr)
				}
				closing, err := l.take(ctx, cur, f)
				if err != nil {
					return err
				}
				if closing {
					rolling, why = true, "server announced socket_closing"
				}
			case <-rotate.C:
				rolling = true
			}
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

// take handles a frame of c, whose frames flow: an event is delivered
// unless it repeats the replaced socket's last frames; a rejected frame
// is delivered as such. It reports socket_closing.
func (l *lane) take(ctx context.Context, c *conn, f sockFrame) (closing bool, err error) {
	c.last = f.at
	l.heard.Store(f.at.UnixNano())
	switch {
	case f.err != nil:
		if !l.s.Deliver(ctx, c.sock.WD, wsock.Item{Err: f.err}) {
			return false, ctx.Err()
		}
	case f.kind == FrameEvent:
		if c.overlap.skip(f.fp, f.at) {
			return false, nil
		}
		if !l.s.Deliver(ctx, c.sock.WD, wsock.Item{Ev: f.ev}) {
			return false, ctx.Err()
		}
		c.delivered.add(f.fp, f.at)
	case f.kind == FrameMembership:
		if !l.s.join(ctx, f.member, f.at, l) {
			return false, ctx.Err()
		}
	case f.kind == FrameSocketClosing:
		l.s.log.Info("genesys announced socket_closing", "channel_id", c.ch.ID, "reason", f.reason)
		return true, nil
	}
	return false, nil
}

// rollover opens a replacement for cur, and only then closes cur. It
// reports whether the switch may have lost frames (a gap, back-filled):
// cur died before the replacement was up, or never drained. cur's frames
// are taken while the replacement opens.
func (l *lane) rollover(ctx context.Context, cur *conn, why string) (*conn, bool, error) {
	s := l.s
	opened := make(chan openResult, 1)
	go func() { opened <- l.openReplacement(ctx, why) }()
	var r openResult
	for waiting := true; waiting; {
		select {
		case r = <-opened:
			waiting = false
		case f, ok := <-cur.framesOrNil():
			if !ok {
				cur.ended = true // it died: the switch is a gap
				continue
			}
			if _, err := l.take(ctx, cur, f); err != nil {
				r = <-opened // ctx ended: so does the opening
				if r.err == nil {
					r.next.close(err)
				}
				return nil, false, err
			}
		}
	}
	if r.err != nil {
		return nil, false, r.err
	}
	next := r.next
	// The old socket may still hold frames sent before the new one was
	// subscribed: they reach no other socket. Read them all before
	// closing it; the new socket's frames are held meanwhile.
	d := drain{l: l, cur: cur, next: next}
	drained, err := d.run(ctx, rolloverSettle, max(time.Second, 2*s.cfg.HeartbeatInterval))
	if err != nil {
		next.close(err)
		return nil, false, err
	}
	died := cur.ended || drained == drainDead || drained == drainTimedOut
	cur.close(errRolledOver)
	// Both sockets carried the notifications sent while both were open:
	// the new one skips those the old one delivered, so no older frame is
	// applied again after newer ones.
	next.overlap.start(cur.delivered.since(next.dialed))
	if died && !s.openGap(ctx, l, cur.last, next.opened) {
		next.close(ctx.Err())
		return nil, false, ctx.Err()
	}
	closing := false
	for _, f := range d.held {
		c, err := l.take(ctx, next, f)
		if err != nil {
			next.close(err)
			return nil, false, err
		}
		closing = closing || c
	}
	if closing {
		next.announced = true
	}
	s.rollovers.Add(1)
	if died {
		s.log.Warn("genesys channel replaced after the old socket died or stopped answering", "lane", l.index, "why", why, "old_channel_id", cur.ch.ID,
			"channel_id", next.ch.ID, "err", cur.readErr, "drained", drained.String(), "gap", time.Since(cur.last).Round(time.Millisecond).String())
	} else {
		s.log.Info("genesys channel replaced make-before-break; no gap", "lane", l.index, "why", why, "old_channel_id", cur.ch.ID, "channel_id", next.ch.ID,
			"drained", drained.String())
	}
	return next, died, nil
}

// openResult is a replacement channel, or why there is none.
type openResult struct {
	next *conn
	err  error
}

// openReplacement opens cur's replacement (one rollover of a client at a
// time), retrying until it is up, ctx ends or an error is permanent.
func (l *lane) openReplacement(ctx context.Context, why string) openResult {
	s := l.s
	var next *conn
	err := s.retry.Do(ctx, time.Time{}, func(ctx context.Context) error {
		var err error
		next, err = l.open(ctx, true)
		if Permanent(err) {
			return retry.Permanent(err)
		}
		return err
	}, func(a retry.Attempt) {
		s.log.Warn("opening a replacement channel failed; retrying", "lane", l.index, "why", why, "err", a.Err, "attempt", a.N, "wait", a.Wait.String())
	})
	return openResult{next: next, err: err}
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

// conn is one channel and its socket. Its reader goroutine reads the
// socket, decodes each frame and sends it on frames, in order; everything
// else belongs to the lane's goroutine, which receives them.
type conn struct {
	ch     Channel
	sock   *wsock.Socket
	opened time.Time
	dialed time.Time      // when dialing began: the server may send from then on
	frames chan sockFrame // the reader's frames; closed when it ended
	stop   chan struct{}  // closed by close: the reader sends no more
	wg     sync.WaitGroup
	// readErr is why the reader ended; the reader writes it before it
	// closes frames, the lane reads it after.
	readErr error

	// The lane's goroutine's alone.
	last      time.Time // when the last frame taken was read
	ended     bool      // frames was seen closed
	announced bool      // socket_closing came while its frames were held
	// delivered remembers the event frames this socket delivered lately;
	// overlap skips, on the socket that replaces another, what that one
	// already delivered (see overlap.go).
	delivered recentFrames
	overlap   overlap
}

// sockFrame is a frame as the reader read it: an event (ev, fp), a
// rejected frame (err), or a control frame (kind, reason).
type sockFrame struct {
	kind   FrameKind
	ev     bridge.Event
	member Membership
	fp     uint64 // an event frame's fingerprint
	err    error
	reason string
	at     time.Time
}

// framesOrNil is c's frames, nil (never ready) once they ended.
func (c *conn) framesOrNil() chan sockFrame {
	if c.ended {
		return nil
	}
	return c.frames
}

// drain reads cur, the socket next replaces, until it has delivered every
// frame sent to it before next was subscribed, holding next's frames
// (in held). Genesys promises no order between notifications and a ping's
// answer, so the pong alone proves nothing; a frame that both sockets
// received does: it was sent after next subscribed, so on cur it comes
// after everything sent before that. Without traffic no such frame comes:
// then cur is read until it answered a ping and delivered nothing for
// settle (unless next holds frames by then: cur lags behind it, and the
// drain waits on for a common frame). It gives up after timeout, or when
// cur dies.
//
// A frame byte-identical to one sent to cur alone before next subscribed
// (Genesys repeats notifications) can end the drain early; that needs the
// repeat to reach next before cur delivers the original.
type drain struct {
	l         *lane
	cur, next *conn
	held      []sockFrame         // next's frames, in order
	heldFPs   map[uint64]struct{} // of the held events
	curSince  map[uint64]struct{} // events cur delivered since next began dialing
}

func (d *drain) run(ctx context.Context, settle, timeout time.Duration) (drainEnd, error) {
	cur, next := d.cur, d.next
	if cur.ended {
		return drainDead, nil
	}
	if err := wsock.NotificationPing(cur.sock); err != nil {
		return drainDead, nil
	}
	d.heldFPs, d.curSince = map[uint64]struct{}{}, map[uint64]struct{}{}
	for _, fp := range cur.delivered.since(next.dialed) {
		d.curSince[fp] = struct{}{}
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	// quiet runs from the pong, and again from each frame cur delivers
	// after it: cur has settled when it delivered nothing for settle.
	quiet := time.NewTimer(settle)
	quiet.Stop()
	defer quiet.Stop()
	ponged := false
	for {
		nextFrames := next.framesOrNil()
		if len(d.held) >= recentCap {
			nextFrames = nil // full: next's reader waits (back-pressure)
		}
		select {
		case f, ok := <-cur.frames:
			if !ok {
				cur.ended = true
				return drainDead, nil
			}
			if f.kind == FramePong && !ponged {
				ponged = true
				quiet.Reset(settle)
			}
			if _, err := d.l.take(ctx, cur, f); err != nil {
				return drainTimedOut, err
			}
			if f.kind == FrameEvent && f.err == nil {
				if ponged {
					quiet.Reset(settle)
				}
				if !f.at.Before(next.dialed) {
					d.curSince[f.fp] = struct{}{}
					if _, ok := d.heldFPs[f.fp]; ok {
						return drainCommon, nil
					}
				}
			}
		case f, ok := <-nextFrames:
			if !ok {
				next.ended = true // its death shows once it is current
				continue
			}
			next.last = f.at
			d.held = append(d.held, f)
			if f.kind == FrameEvent && f.err == nil {
				d.heldFPs[f.fp] = struct{}{}
				if _, ok := d.curSince[f.fp]; ok {
					return drainCommon, nil
				}
			}
		case <-quiet.C:
			if len(d.heldFPs) == 0 {
				return drainQuiet, nil
			}
			// The new socket has frames the old one has not delivered:
			// the old one lags; wait for them (up to timeout).
		case <-t.C:
			return drainTimedOut, nil
		case <-ctx.Done():
			return drainTimedOut, ctx.Err()
		}
	}
}

// close kills the socket (if still open) and waits for its reader.
func (c *conn) close(why error) {
	c.sock.Kill(why)
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
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

// open creates a channel with the client the lane is placed on now
// (clients.go), subscribes the lane's topics and connects the socket, and
// starts its reader: its frames wait for the lane to take them. A
// replacement (the lane holding a channel already) takes the client's one
// spare channel: one at a time per client.
func (l *lane) open(ctx context.Context, replacing bool) (*conn, error) {
	s := l.s
	slot, err := l.placed()
	if err != nil {
		return nil, err
	}
	if replacing {
		select {
		case slot.roll <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		defer func() { <-slot.roll }()
	}
	cl := slot.c
	ch, err := cl.CreateChannel(ctx)
	if err != nil {
		if errors.Is(err, ErrBadCredentials) && !s.refuse(slot, err) {
			// The others may hold the lane: not the end of the stream.
			return nil, fmt.Errorf("%w: OAuth client %s: %v", errClientRefused, cl.ID(), err)
		}
		return nil, err
	}
	s.accepted(slot)
	s.mu.Lock()
	snapshot := len(l.topics)
	topics := slices.Clone(l.topics[:min(snapshot, MaxTopicsPerChannel)])
	s.mu.Unlock()
	results, err := cl.Subscribe(ctx, ch.ID, topics)
	if err != nil {
		return nil, err
	}
	// Agents that joined meanwhile were subscribed on the old channel (if
	// any): subscribe them here too; from now on a joining agent is
	// subscribed on this channel.
	s.mu.Lock()
	l.chID, l.chClient = ch.ID, slot
	added := slices.Clone(l.topics[snapshot:])
	total := len(l.topics)
	s.mu.Unlock()
	added = added[:min(len(added), MaxTopicsPerChannel-len(topics))]
	if over := total - MaxTopicsPerChannel; over > 0 {
		// Replicas placing agents at once can fill a lane beyond a
		// channel: the first 1,000 topics are read.
		s.log.Error("a lane holds more topics than a channel takes: the last are not read", "lane", l.index, "topics", total, "not_read", over)
	}
	if len(added) > 0 {
		more, err := cl.AddSubscriptions(ctx, ch.ID, added)
		if err != nil {
			return nil, err
		}
		results, topics = append(results, more...), append(topics, added...)
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
		return nil, fmt.Errorf("%w: all %d topics rejected (check the OAuth client's permissions and the ids)", ErrNoTopicPermitted, len(topics))
	}
	dialed := time.Now()
	ws, resp, err := s.cfg.Dialer.DialContext(ctx, ch.ConnectURI, nil)
	if err != nil {
		if resp != nil {
			return nil, &APIError{Op: "connect socket", Status: resp.StatusCode, CorrelationID: resp.Header.Get("ININ-Correlation-Id")}
		}
		return nil, fmt.Errorf("connect socket: %w", text.RedactURLError(err))
	}
	c := &conn{ch: ch, sock: wsock.Watch(ctx, ws, s.cfg.HeartbeatInterval, wsock.NotificationPing), opened: time.Now(), dialed: dialed,
		frames: make(chan sockFrame, connFrames), stop: make(chan struct{})}
	c.last = c.opened
	s.log.Info("genesys stream connected", "lane", l.index, "client_id", cl.ID(), "channel_id", ch.ID, "topics", permitted,
		"channel_expires", ch.Expires.Format(time.RFC3339))
	c.wg.Go(func() {
		err := s.readLoop(ctx, c)
		c.sock.Close(nil)
		c.readErr = err
		close(c.frames)
	})
	return c, nil
}

// connFrames is how many decoded frames wait between a socket's reader
// and its lane; then the reader waits (and the watchdog with it).
const connFrames = 64

// readLoop reads c's socket, decodes each frame and sends it to the lane,
// until the socket ends, the channel is gone or c is closed.
func (s *Stream) readLoop(ctx context.Context, c *conn) error {
	return s.ReadSocket(ctx, c.sock, s.cfg.MaxFrameSize, func(data []byte, now time.Time, rejected error) error {
		if rejected != nil { // nothing to decode: data is the frame's first bytes
			return c.send(ctx, sockFrame{err: rejected, at: now})
		}
		var sf sockFrame
		switch f, err := DecodeNotification(data, now); {
		case err != nil:
			sf = sockFrame{err: err, at: now}
		case f.Kind == FrameChannelGone:
			return fmt.Errorf("%w (%s)", errChannelGone, f.Reason)
		default:
			sf = sockFrame{kind: f.Kind, ev: f.Event, member: f.Member, fp: f.Fingerprint, reason: f.Reason, at: now}
		}
		return c.send(ctx, sf)
	})
}

// send hands f to the lane; while the lane does not take it, frames wait
// in the socket, which the watchdog does not count as silence.
func (c *conn) send(ctx context.Context, f sockFrame) error {
	select {
	case c.frames <- f:
		return nil
	default:
	}
	c.sock.WD.Busy.Store(true)
	defer func() { c.sock.WD.Busy.Store(false); c.sock.WD.Kick() }()
	select {
	case c.frames <- f:
		return nil
	case <-c.stop:
		if why := c.sock.Reason(); why != nil {
			return why
		}
		return errRolledOver
	case <-ctx.Done():
		return ctx.Err()
	}
}
