package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/bridge"
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
	js     jetstream.JetStream
	stream jetstream.Stream
	log    *slog.Logger

	pending chan *inflight
	retries atomic.Uint64
	wg      sync.WaitGroup
	closeMu sync.RWMutex // held shared by Publish, so Close cannot close pending under it
	closed  bool
}

type inflight struct {
	ctx         context.Context
	msg         *nats.Msg
	id          string
	interaction string
	check       bool // compare-and-set: expect is the last sequence on <prefix>.*.*.<idToken>
	expect      uint64
	fut         jetstream.PubAckFuture
	sendErr     error
	r           *bridge.Receipt
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
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(cfg.MaxPending),
		jetstream.WithPublishAsyncTimeout(cfg.AckTimeout))
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	j := &JetStream{cfg: cfg, js: js, log: log, pending: make(chan *inflight, cfg.MaxPending)}
	if err := j.EnsureStream(ctx); err != nil {
		return nil, err
	}
	j.wg.Go(j.collect)
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

// Config returns the effective configuration.
func (j *JetStream) Config() Config { return j.cfg }

// StreamConfig is the stream configuration the publisher wants.
func (c Config) StreamConfig() jetstream.StreamConfig {
	c = c.withDefaults()
	return jetstream.StreamConfig{
		Name:        c.Stream,
		Description: "Genesys Cloud interaction state transitions (genesys-bridge)",
		Subjects:    []string{c.SubjectPrefix + ".>"},
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
	want := j.cfg.StreamConfig()
	s, err := j.js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if j.stream, err = j.js.CreateStream(ctx, want); err != nil {
			return fmt.Errorf("create stream %s: %w", want.Name, err)
		}
		j.log.Info("stream created", "stream", want.Name, "subjects", want.Subjects[0], "max_age", want.MaxAge.String(),
			"duplicates", want.Duplicates.String(), "replicas", want.Replicas)
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up stream %s: %w", want.Name, err)
	}
	j.stream = s
	have := s.CachedInfo().Config
	if have.Storage != want.Storage {
		return fmt.Errorf("%w: stream %s exists with %s storage; the bridge needs file storage and a stream's storage cannot change: delete it or set another stream name", ErrStreamConflict, want.Name, have.Storage)
	}
	next := have
	var changed []string
	if !slices.Contains(have.Subjects, want.Subjects[0]) {
		next.Subjects = append(slices.Clone(have.Subjects), want.Subjects[0])
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
	if len(changed) == 0 {
		j.log.Info("stream ready", "stream", want.Name, "subjects", want.Subjects[0])
		return nil
	}
	if _, err := j.js.UpdateStream(ctx, next); err != nil {
		return fmt.Errorf("update stream %s (%v): %w", want.Name, changed, err)
	}
	j.log.Info("stream updated", "stream", want.Name, "changed", changed)
	return nil
}

// Publish sends t asynchronously with Nats-Msg-Id = t.ID and completes r
// when the stream acknowledged it. Failures that may pass (timeouts,
// disconnects, no responders, a stream leader election) are retried with
// the same id until ctx ends; a duplicate acknowledgement is a success.
func (j *JetStream) Publish(ctx context.Context, t *bridge.Transition, r *bridge.Receipt) error {
	j.closeMu.RLock()
	defer j.closeMu.RUnlock()
	if j.closed {
		return errors.New("publish: publisher closed")
	}
	msg := nats.NewMsg(Subject(j.cfg.SubjectPrefix, t))
	if _, hashed := IDToken(t.InteractionID); hashed {
		msg.Header.Set(HeaderInteractionID, t.InteractionID)
	}
	msg.Header.Set(HeaderState, encodeState(&t.State))
	msg.Data = t.AppendJSON(make([]byte, 0, 384))
	p := &inflight{ctx: ctx, msg: msg, id: t.ID, interaction: t.InteractionID, check: t.CheckVersion, expect: t.ExpectVersion, r: r}
	p.fut, p.sendErr = j.send(p)
	select {
	case j.pending <- p:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// collect waits for acknowledgements in publish order and retries failures.
func (j *JetStream) collect() {
	for p := range j.pending {
		j.settle(p)
	}
}

func (j *JetStream) settle(p *inflight) {
	// The usual case first, without the retry machinery: the first send
	// is acknowledged.
	if p.sendErr == nil {
		select {
		case ack := <-p.fut.Ok():
			p.r.Complete(ack.Duplicate, ack.Sequence, nil)
			return
		case err := <-p.fut.Err():
			p.sendErr = err
		case <-p.ctx.Done():
			p.sendErr = p.ctx.Err()
		}
	}
	// The first retry is immediate: acks are settled in order, so by the
	// time one failure is seen the outage behind it may be over, and the
	// messages after it must not each wait out a backoff.
	policy := retry.Policy{Base: 50 * time.Millisecond, Max: j.cfg.RetryMax, Immediate: 1}
	first := true
	err := policy.Do(p.ctx, time.Time{}, func(ctx context.Context) error {
		if !first {
			j.retries.Add(1)
			p.fut, p.sendErr = j.send(p)
		}
		first = false
		err := p.sendErr
		if ctx.Err() != nil {
			return retry.Permanent(ctx.Err())
		}
		if err == nil {
			select {
			case ack := <-p.fut.Ok():
				p.r.Complete(ack.Duplicate, ack.Sequence, nil)
				return nil
			case err = <-p.fut.Err():
			case <-ctx.Done():
				return retry.Permanent(ctx.Err())
			}
		}
		if apiErr, ok := errors.AsType[*jetstream.APIError](err); ok && apiErr.ErrorCode == errWrongLastSequence {
			j.resolveWrongSequence(ctx, p)
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
		p.r.Complete(false, 0, fmt.Errorf("publish %s: %w", p.msg.Subject, err))
	}
}

// send publishes p with its message id and, when asked, the compare-and-set
// on the interaction's last sequence: the server stores it only if the last
// message on <prefix>.*.*.<idToken> is the one this writer built on. (The
// check filters by wildcard, which costs the server; the pipeline asks for
// it only where another writer may have moved the state.)
func (j *JetStream) send(p *inflight) (jetstream.PubAckFuture, error) {
	if !p.check {
		return j.js.PublishMsgAsync(p.msg, jetstream.WithMsgID(p.id))
	}
	return j.js.PublishMsgAsync(p.msg, jetstream.WithMsgID(p.id), jetstream.WithExpectLastSequenceForSubject(p.expect, j.interactionFilter(p.interaction)))
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

// Close stops accepting publishes and waits until every accepted publish is
// settled (acknowledged, or failed because its context ended).
func (j *JetStream) Close() {
	j.closeMu.Lock()
	if !j.closed {
		j.closed = true
		close(j.pending)
	}
	j.closeMu.Unlock()
	j.wg.Wait()
}
