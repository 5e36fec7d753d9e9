package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/internal/handoff"
	"github.com/genesys-bridge/genesys-bridge/internal/retry"
	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// Config configures the JetStream publisher. Zero values are the documented
// defaults.
type Config struct {
	// Stream is the stream name. Default GENESYS_INTERACTIONS.
	Stream string
	// SubjectPrefix is the first tokens of every subject; the stream covers
	// <prefix>.>. Default genesys.interactions.
	SubjectPrefix string
	// TimingsPrefix is where completed interactions' timings go, in the
	// same stream: <prefix>.<channelType>.<idToken>. It must not overlap
	// SubjectPrefix, so consumers of the transitions never see them.
	// Default genesys.timings.
	TimingsPrefix string
	// Duplicates is the stream's duplicate window. Default 2m.
	Duplicates time.Duration
	// MaxAge is how long the stream keeps messages. Default 168h (7 days).
	MaxAge time.Duration
	// Replicas is the stream's replica count. Default 1.
	Replicas int
	// MaxPending bounds acknowledgements in flight. Default 4096.
	MaxPending int
	// AckTimeout is how long one publish waits for its acknowledgement
	// before it is retried with the same message id. Default 5s.
	AckTimeout time.Duration
	// RetryMax caps the delay between retries. Default 5s.
	RetryMax time.Duration
	Logger   *slog.Logger
}

// DefaultConfig is the configuration the zero values stand for.
func DefaultConfig() Config { return Config{}.withDefaults() }

func (c Config) withDefaults() Config {
	if c.Stream == "" {
		c.Stream = "GENESYS_INTERACTIONS"
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = "genesys.interactions"
	}
	if c.TimingsPrefix == "" {
		c.TimingsPrefix = "genesys.timings"
	}
	if c.Duplicates <= 0 {
		c.Duplicates = 2 * time.Minute
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 7 * 24 * time.Hour
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 4096
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = 5 * time.Second
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 5 * time.Second
	}
	return c
}

// Validate checks a configuration after defaults are applied.
func (c Config) Validate() error {
	if c.Replicas < 0 || c.Replicas > 5 {
		return fmt.Errorf("replicas %d: JetStream allows at least 1 and at most 5 (0 stands for 1)", c.Replicas)
	}
	c = c.withDefaults()
	if err := ValidatePrefix(c.SubjectPrefix); err != nil {
		return err
	}
	if err := ValidatePrefix(c.TimingsPrefix); err != nil {
		return fmt.Errorf("timings: %w", err)
	}
	if overlaps(c.TimingsPrefix, c.SubjectPrefix) {
		return fmt.Errorf("timings subject prefix %s overlaps the transitions' %s", c.TimingsPrefix, c.SubjectPrefix)
	}
	if !text.IsToken(c.Stream) {
		return fmt.Errorf("stream name %q must use only A-Z a-z 0-9 _ -", text.Truncate(c.Stream, 64))
	}
	if c.Duplicates < 100*time.Millisecond {
		return fmt.Errorf("duplicates window %s is below the server's minimum of 100ms", c.Duplicates)
	}
	if c.Duplicates > c.MaxAge {
		return fmt.Errorf("duplicates window %s is longer than the max age %s", c.Duplicates, c.MaxAge)
	}
	return nil
}

// JetStream publishes transitions to a JetStream stream. It implements
// bridge.Publisher.
type JetStream struct {
	cfg    Config
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	log    *slog.Logger

	replyPrefix string
	replies     *nats.Subscription

	// ops are the messages to the owner goroutine (own.go), which alone
	// holds the publishes in flight: new publishes, acknowledgements,
	// aborts, retries ended, Close.
	ops *handoff.Queue[op]
	// room holds a token per publish in flight: at MaxPending, a sender
	// waits (the owner takes a token back as a publish leaves the flight).
	room chan struct{}
	// toRetry hands the owner's failed publishes to the retry goroutine.
	toRetry chan []failure
	done    chan struct{} // closed when the owner ended, after Close
	retries atomic.Uint64
	wg      sync.WaitGroup
}

// inflight is one publish, from Publish until its receipt is completed;
// then it goes back to a pool with its message, headers and payload
// buffer, for the next publish (nothing holds them once the receipt is
// completed: the client copies what it sends).
type inflight struct {
	ctx         context.Context
	msg         *nats.Msg
	id          string
	interaction string
	r           bridge.Receipt
	sent        time.Time // when it was sent: the sweep fails it after AckTimeout
	noWait      bool      // at MaxPending, fail at once (ErrFull) instead of waiting for room
	token       uint64    // its reply token while in flight
	msgRoom     nats.Msg
	// The headers beyond Nats-Msg-Id this use set (extra), and those an
	// earlier use set that this one has not (stale: send removes them).
	// Kept, a header's slice is reused.
	extra, stale         []string
	extraRoom, staleRoom [4]string
	// idValue is the Nats-Msg-Id header's value slice, in the header from
	// the start and never replaced (the retry publishes with no options,
	// which would set it anew): reset writes the id into it.
	idValue []string
	// buf holds this use's subject, reply subject and state header: they
	// are strings over it (text), valid for this use only. That is safe
	// because nothing keeps them past it: the client copies what it sends
	// before PublishMsg returns, and a retry runs before the receipt is
	// completed. The next use overwrites the bytes only while it replaces
	// every such string.
	buf []byte
}

var inflights = sync.Pool{New: func() any {
	p := new(inflight)
	p.msgRoom.Header = make(nats.Header, 6)
	p.msg = &p.msgRoom
	p.idValue = []string{""}
	p.msg.Header[jetstream.MsgIDHeader] = p.idValue
	p.extra, p.stale = p.extraRoom[:0], p.staleRoom[:0]
	return p
}}

// newInflight returns a publish with Nats-Msg-Id = id, no subject and no
// other header yet, and its buffers emptied.
func newInflight(ctx context.Context, id, interaction string, r bridge.Receipt) *inflight {
	p := inflights.Get().(*inflight)
	p.reset(ctx, id, interaction, r)
	return p
}

// reset makes p a new publish, keeping its room.
func (p *inflight) reset(ctx context.Context, id, interaction string, r bridge.Receipt) {
	p.ctx, p.id, p.interaction, p.r, p.noWait = ctx, id, interaction, r, false
	m := p.msg
	m.Subject, m.Reply, m.Data, p.buf = "", "", m.Data[:0], p.buf[:0]
	p.stale = append(p.stale[:0], p.extra...)
	p.extra = p.extra[:0]
	p.idValue[0] = id
}

// text returns what was appended to p.buf since start, as a string over
// it (see buf).
func (p *inflight) text(start int) string {
	if len(p.buf) == start {
		return ""
	}
	return unsafe.String(&p.buf[start], len(p.buf)-start)
}

// set sets the one value of the header key (not Nats-Msg-Id).
func (p *inflight) set(key, value string) {
	p.extra = append(p.extra, key)
	if i := slices.Index(p.stale, key); i >= 0 {
		p.stale = slices.Delete(p.stale, i, i+1)
	}
	setHeader(p.msg.Header, key, value)
}

// headersDone removes the headers an earlier use set and this one did not.
func (p *inflight) headersDone() {
	for _, k := range p.stale {
		delete(p.msg.Header, k)
	}
	p.stale = p.stale[:0]
}

// setHeader sets the one value of key, reusing its slice.
func setHeader(h nats.Header, key, value string) {
	if vs := h[key]; len(vs) == 1 {
		vs[0] = value
		return
	}
	h[key] = []string{value}
}

// release returns p to the pool once its receipt is completed.
func release(p *inflight) {
	if cap(p.msg.Data) > 4096 {
		p.msg.Data = nil
	}
	if cap(p.buf) > 4096 {
		p.buf = nil
	}
	p.ctx, p.r, p.id, p.interaction = nil, nil, "", ""
	inflights.Put(p)
}

type failure struct {
	p   *inflight
	err error
}

// ErrStreamConflict means an existing stream cannot be made to fit the
// configuration; retrying cannot help.
var ErrStreamConflict = errors.New("stream conflict")

// Provision is New, retried while JetStream is not ready (NATS still
// connecting, no leader yet) with the bridge's retry policy, each attempt
// bounded by 10s, until ctx ends. A stream that cannot be made to fit
// (ErrStreamConflict) is not retried.
func Provision(ctx context.Context, nc *nats.Conn, cfg Config) (*JetStream, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var pub *JetStream
	err := retry.Policy{Base: time.Second, Max: 30 * time.Second}.Do(ctx, time.Time{}, func(ctx context.Context) error {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		var err error
		pub, err = New(actx, nc, cfg)
		if errors.Is(err, ErrStreamConflict) {
			return retry.Permanent(err)
		}
		return err
	}, func(a retry.Attempt) {
		log.Warn("JetStream not ready; retrying", "err", a.Err, "attempt", a.N, "wait", a.Wait.String(), "status", nc.Status().String())
	})
	if err != nil {
		return nil, err
	}
	return pub, nil
}

// HeaderInteractionID carries the raw interaction id when its subject token
// had to be hashed.
const HeaderInteractionID = "Genesys-Interaction-Id"

// New provisions the stream (see EnsureStream) and returns a publisher.
func New(ctx context.Context, nc *nats.Conn, cfg Config) (*JetStream, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	j := &JetStream{cfg: cfg, nc: nc, log: log, ops: handoff.New[op](2*cfg.MaxPending + 64), room: make(chan struct{}, cfg.MaxPending),
		toRetry: make(chan []failure), done: make(chan struct{})}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	j.js = js
	if err := j.EnsureStream(ctx); err != nil {
		return nil, err
	}
	if err := j.startAcks(); err != nil {
		return nil, fmt.Errorf("subscribe to acknowledgements: %w", err)
	}
	status := j.nc.StatusChanged(nats.RECONNECTING, nats.CLOSED)
	j.wg.Go(func() { j.own(status) })
	j.wg.Go(j.retryLoop)
	return j, nil
}

// LastStored returns when the stream stored its last message (zero if the
// stream is empty): where an earlier run stopped.
func (j *JetStream) LastStored(ctx context.Context) (time.Time, error) {
	info, err := j.stream.Info(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("stream info: %w", err)
	}
	if info.State.LastSeq == 0 {
		return time.Time{}, nil
	}
	return info.State.LastTime, nil
}

// Retries counts publishes sent again after a failure.
func (j *JetStream) Retries() uint64 { return j.retries.Load() }

// StreamConfig is the stream configuration the publisher wants.
func (c Config) StreamConfig() jetstream.StreamConfig {
	c = c.withDefaults()
	return jetstream.StreamConfig{
		Name:        c.Stream,
		Description: "Genesys Cloud interaction state transitions (genesys-bridge)",
		Subjects:    []string{c.SubjectPrefix + ".>", c.TimingsPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      c.MaxAge,
		Duplicates:  c.Duplicates,
		Replicas:    c.Replicas,
	}
}

// EnsureStream creates the stream, or updates the settings the bridge owns
// (subjects, duplicate window, max age, replicas) on an existing one and
// leaves every other setting an operator made alone.
func (j *JetStream) EnsureStream(ctx context.Context) error {
	s, err := ensureStream(ctx, j.js, j.cfg.StreamConfig(), j.log)
	if err != nil {
		return err
	}
	j.stream = s
	return nil
}

// MissingSubjects returns the subjects of want that have lacks.
func MissingSubjects(have, want []string) []string {
	var missing []string
	for _, s := range want {
		if !slices.Contains(have, s) {
			missing = append(missing, s)
		}
	}
	return missing
}

// ensureStream creates the stream want describes, or updates on an
// existing one the settings the bridge owns (subjects, duplicate window,
// max age, replicas, and max bytes where want sets it) and leaves every
// other setting an operator made alone.
func ensureStream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig, log *slog.Logger) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if s, err = js.CreateStream(ctx, want); err != nil {
			return nil, fmt.Errorf("create stream %s: %w", want.Name, err)
		}
		log.Info("stream created", "stream", want.Name, "subjects", want.Subjects, "max_age", want.MaxAge.String(),
			"duplicates", want.Duplicates.String(), "replicas", want.Replicas)
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up stream %s: %w", want.Name, err)
	}
	have := s.CachedInfo().Config
	if have.Storage != want.Storage {
		return nil, fmt.Errorf("%w: stream %s exists with %s storage; the bridge needs file storage and a stream's storage cannot change: delete it or set another stream name", ErrStreamConflict, want.Name, have.Storage)
	}
	next := have
	var changed []string
	if missing := MissingSubjects(have.Subjects, want.Subjects); len(missing) > 0 {
		next.Subjects = append(slices.Clone(have.Subjects), missing...)
		changed = append(changed, "subjects")
	}
	if have.Duplicates != want.Duplicates {
		next.Duplicates = want.Duplicates
		changed = append(changed, "duplicates")
	}
	if have.MaxAge != want.MaxAge {
		next.MaxAge = want.MaxAge
		changed = append(changed, "max_age")
	}
	if have.Replicas != want.Replicas {
		next.Replicas = want.Replicas
		changed = append(changed, "replicas")
	}
	if want.MaxBytes > 0 && have.MaxBytes != want.MaxBytes {
		next.MaxBytes = want.MaxBytes
		changed = append(changed, "max_bytes")
	}
	if len(changed) == 0 {
		log.Info("stream ready", "stream", want.Name, "subjects", want.Subjects)
		return s, nil
	}
	if s, err = js.UpdateStream(ctx, next); err != nil {
		return nil, fmt.Errorf("update stream %s (%v): %w", want.Name, changed, err)
	}
	log.Info("stream updated", "stream", want.Name, "changed", changed)
	return s, nil
}

// Publish sends t asynchronously with Nats-Msg-Id = t.ID and completes r
// when the stream acknowledged it, where the acknowledgement is read
// (acks.go); nothing waits per message. Failures that may pass (timeouts, disconnects, no responders, a
// stream leader election) are retried with the same id until ctx ends; a
// duplicate acknowledgement is a success.
func (j *JetStream) Publish(ctx context.Context, t *bridge.Transition, r bridge.Receipt) {
	p := newInflight(ctx, t.ID, t.InteractionID, r)
	msg := p.msg
	p.buf = appendSubject(p.buf, j.cfg.SubjectPrefix, t)
	msg.Subject = p.text(0)
	if _, hashed := IDToken(t.InteractionID); hashed {
		p.set(HeaderInteractionID, t.InteractionID)
	}
	if t.CheckVersion {
		// The compare-and-set: the server stores it only if the last
		// message on <prefix>.*.*.<idToken> is the one this writer built
		// on. (The check filters by wildcard, which costs the server; the
		// pipeline asks for it only where another writer may have moved
		// the state.)
		p.set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(t.ExpectVersion, 10))
		p.set(jetstream.ExpectedLastSubjSeqSubjHeader, j.interactionFilter(t.InteractionID))
	}
	start := len(p.buf)
	p.buf = appendState(p.buf, &t.State)
	p.set(HeaderState, p.text(start))
	msg.Data = t.AppendJSON(msg.Data)
	j.send(p)
}

// ErrClosed completes what is published after Close.
var ErrClosed = errors.New("publish: publisher closed")

// send hands p to the owner, which sends it; its acknowledgement settles
// it. It waits for room while MaxPending publishes are in flight (a dead
// letter does not: ErrFull), until p's context ends; a publisher closed
// completes it at once, with ErrClosed.
func (j *JetStream) send(p *inflight) {
	p.headersDone()
	select {
	case j.room <- struct{}{}: // room now: the usual case, one channel operation
		j.enqueue(p)
	default:
		if p.noWait {
			j.settle(p, false, 0, ErrFull)
			return
		}
		j.waitRoom(p)
	}
}

// waitRoom waits for room for p, then hands it to the owner; or completes
// it if p's context ends or the publisher closes first.
func (j *JetStream) waitRoom(p *inflight) {
	select {
	case j.room <- struct{}{}:
		j.enqueue(p)
	case <-p.ctx.Done():
		j.settle(p, false, 0, fmt.Errorf("publish %s: %w", p.msg.Subject, p.ctx.Err()))
	case <-j.done:
		j.settle(p, false, 0, ErrClosed)
	}
}

// enqueue hands p, which holds a room token, to the owner.
func (j *JetStream) enqueue(p *inflight) {
	ctx := p.ctx
	if !j.ops.Push(ctx, op{kind: opSend, p: p}) {
		<-j.room
		err := ErrClosed
		if ctx.Err() != nil {
			err = fmt.Errorf("publish %s: %w", p.msg.Subject, ctx.Err())
		}
		j.settle(p, false, 0, err)
	}
}

// ErrFull completes a publish that would not wait for room (a dead
// letter) while MaxPending publishes are in flight.
var ErrFull = errors.New("publish: MaxPending publishes in flight")

// PublishTimings sends a completed interaction's timings on
// <timings prefix>.<channelType>.<idToken> with Nats-Msg-Id = t.ID, under
// Publish's contract (asynchronous, retried with the same id until ctx
// ends). They carry no state: the interaction's state is on its
// transitions' subjects alone.
func (j *JetStream) PublishTimings(ctx context.Context, t *bridge.Timings, r bridge.Receipt) {
	p := newInflight(ctx, t.ID, t.InteractionID, r)
	p.buf = appendTimingsSubject(p.buf, j.cfg.TimingsPrefix, t)
	p.msg.Subject = p.text(0)
	if _, hashed := IDToken(t.InteractionID); hashed {
		p.set(HeaderInteractionID, t.InteractionID)
	}
	p.msg.Data = t.AppendJSON(p.msg.Data)
	j.send(p)
}

// settle completes p's receipt, after freeing p (the receiver may
// publish again at once).
func (j *JetStream) settle(p *inflight, duplicate bool, seq uint64, err error) {
	r := p.r
	release(p)
	r.Complete(duplicate, seq, err)
}

// retryLoop retries failed publishes one at a time, in the order they
// failed, and tells the owner when a batch is done, until Close.
func (j *JetStream) retryLoop() {
	for batch := range j.toRetry {
		for _, f := range batch {
			j.retry(f.p, f.err)
		}
		j.ops.Push(context.Background(), op{kind: opRetried, n: len(batch)})
	}
}

// retry settles a publish whose first send failed with err: a failed
// compare-and-set is resolved, an error that cannot pass fails it, and
// anything else is sent again with the same id (synchronously), at once
// and then with backoff, until ctx ends.
func (j *JetStream) retry(p *inflight, err error) {
	// The first retry is immediate: by the time one failure is seen the
	// outage behind it may be over, and the publishes failed with it must
	// not each wait out a backoff.
	policy := retry.Policy{Base: 50 * time.Millisecond, Max: j.cfg.RetryMax, Immediate: 1}
	first := true
	err = policy.Do(p.ctx, time.Time{}, func(ctx context.Context) error {
		if !first {
			j.retries.Add(1)
			actx, cancel := context.WithTimeout(ctx, j.cfg.AckTimeout)
			ack, sendErr := j.js.PublishMsg(actx, p.msg)
			cancel()
			if sendErr == nil {
				j.settle(p, ack.Duplicate, ack.Sequence, nil)
				return nil
			}
			err = sendErr
		}
		first = false
		if ctx.Err() != nil {
			return retry.Permanent(ctx.Err())
		}
		if apiErr, ok := errors.AsType[*jetstream.APIError](err); ok && apiErr.ErrorCode == errWrongLastSequence {
			dup, seq, err := j.resolveWrongSequence(ctx, p)
			j.settle(p, dup, seq, err)
			return nil
		}
		if !retryable(err) {
			return retry.Permanent(err)
		}
		return err
	}, func(a retry.Attempt) {
		level := slog.LevelDebug
		if a.N > 1 {
			level = slog.LevelWarn
		}
		j.log.Log(p.ctx, level, "publish failed; retrying with the same message id", "subject", p.msg.Subject, "msg_id", p.id,
			"attempt", a.N, "wait", a.Wait.String(), "err", a.Err)
	})
	if err != nil {
		j.settle(p, false, 0, fmt.Errorf("publish %s: %w", p.msg.Subject, err))
	}
}

// retryable reports whether a publish error may pass. Server errors other
// than "unavailable" (a missing leader) and "duplicate in process" are
// permanent: a message over the size limit will never fit.
func retryable(err error) bool {
	switch {
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrMaxPayload), errors.Is(err, nats.ErrBadSubject):
		return false
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		// 503: no leader; 10158: the same message id is being stored right
		// now (another replica's publish, still in consensus): a retry is
		// then acknowledged as a duplicate.
		return apiErr.Code == 503 || apiErr.ErrorCode == errDuplicateInProcess
	}
	return true
}

// errDuplicateInProcess is the server's "duplicate message id is in
// process" code.
const errDuplicateInProcess = 10158

// Close lets what is in flight settle (acknowledged, or failed when its
// context ends) and stops the publisher; later publishes complete with
// ErrClosed.
func (j *JetStream) Close() {
	j.ops.Push(context.Background(), op{kind: opClose}) // refused once the owner ended
	<-j.done
	j.wg.Wait()
	_ = j.replies.Unsubscribe()
}
