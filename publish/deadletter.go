package publish

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// Headers of a dead letter.
const (
	HeaderReason     = "Genesys-Bridge-Reason"      // a bridge.Reason
	HeaderError      = "Genesys-Bridge-Error"       // why, in words (at most 1 KiB)
	HeaderTopic      = "Genesys-Topic"              // the Genesys topic the frame came on, when known
	HeaderReceivedAt = "Genesys-Bridge-Received-At" // RFC 3339, when the bridge rejected it
	HeaderTruncated  = "Genesys-Bridge-Truncated"   // "true" when the body is a prefix of the frame
)

// DeadLetterConfig configures the dead-letter stream. Zero values are the
// documented defaults.
type DeadLetterConfig struct {
	// Stream is the stream name. Default GENESYS_DEAD_LETTERS.
	Stream string
	// SubjectPrefix: each rejected frame goes to <prefix>.<reason>.
	// Default genesys.deadletters.
	SubjectPrefix string
	// MaxAge is how long the stream keeps a dead letter. Default 72h.
	MaxAge time.Duration
	// MaxBytes caps the stream; the oldest go first. Default 256 MiB.
	MaxBytes int64
	// Replicas is the stream's replica count. Default 1.
	Replicas int
	Logger   *slog.Logger
}

// DefaultDeadLetterConfig is the configuration the zero values stand for.
func DefaultDeadLetterConfig() DeadLetterConfig { return DeadLetterConfig{}.withDefaults() }

func (c DeadLetterConfig) withDefaults() DeadLetterConfig {
	if c.Stream == "" {
		c.Stream = "GENESYS_DEAD_LETTERS"
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = "genesys.deadletters"
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 72 * time.Hour
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 256 << 20
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate checks a configuration, and that its subjects stay apart from
// the transitions' stream (main).
func (c DeadLetterConfig) Validate(main Config) error {
	c, main = c.withDefaults(), main.withDefaults()
	if err := ValidatePrefix(c.SubjectPrefix); err != nil {
		return err
	}
	if !text.IsToken(c.Stream) {
		return fmt.Errorf("stream name %q must use only A-Z a-z 0-9 _ -", text.Truncate(c.Stream, 64))
	}
	if c.Stream == main.Stream {
		return fmt.Errorf("the dead letters need a stream of their own, not %s", c.Stream)
	}
	if overlaps(c.SubjectPrefix, main.SubjectPrefix) {
		return fmt.Errorf("subject prefix %s overlaps the transitions' %s", c.SubjectPrefix, main.SubjectPrefix)
	}
	if overlaps(c.SubjectPrefix, main.TimingsPrefix) {
		return fmt.Errorf("subject prefix %s overlaps the timings' %s", c.SubjectPrefix, main.TimingsPrefix)
	}
	if c.MaxBytes < 1<<20 {
		return fmt.Errorf("max bytes %d: at least 1 MiB", c.MaxBytes)
	}
	return nil
}

// overlaps reports whether one prefix's subjects can be the other's: one
// is the other, or its tokens begin the other's.
func overlaps(a, b string) bool {
	return a == b || strings.HasPrefix(a, b+".") || strings.HasPrefix(b, a+".")
}

// DeadLetters stores rejected frames, each with a bounded body and headers
// saying why, in a stream of their own (short max age, size-capped), on
// <prefix>.<reason>: the reason is one of bridge.Reasons, so no frame can
// choose its subject. Storing is asynchronous and never blocks the
// pipeline; a dead letter that cannot be stored is counted and logged.
type DeadLetters struct {
	cfg            DeadLetterConfig
	js             jetstream.JetStream
	stored, failed atomic.Uint64
	lastLog        atomic.Int64 // unix ns of the last failure logged
}

// NewDeadLetters provisions the dead-letter stream (see ensureStream).
func NewDeadLetters(ctx context.Context, nc *nats.Conn, cfg DeadLetterConfig) (*DeadLetters, error) {
	cfg = cfg.withDefaults()
	d := &DeadLetters{cfg: cfg}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(1024),
		jetstream.WithPublishAsyncTimeout(10*time.Second),
		jetstream.WithPublishAsyncAckHandler(func(jetstream.JetStream, *nats.Msg, *jetstream.PubAck) { d.stored.Add(1) }),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) { d.fail(m.Subject, err) }))
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	d.js = js
	if _, err := ensureStream(ctx, js, cfg.StreamConfig(), cfg.Logger); err != nil {
		return nil, err
	}
	return d, nil
}

// StreamConfig is the stream configuration the dead letters want.
func (c DeadLetterConfig) StreamConfig() jetstream.StreamConfig {
	cfg := c.withDefaults()
	return jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "Genesys frames the bridge rejected (genesys-bridge dead letters)",
		Subjects:    []string{cfg.SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      cfg.MaxAge,
		MaxBytes:    cfg.MaxBytes,
		Duplicates:  time.Minute,
		Replicas:    cfg.Replicas,
	}
}

// Subject is where a rejection for reason goes.
func (c DeadLetterConfig) Subject(reason bridge.Reason) string {
	return c.withDefaults().SubjectPrefix + "." + string(reason.Known())
}

// Put stores rej, received at, as a dead letter: body the frame (at most
// bridge.MaxRejectedInput bytes), headers the reason, the error, the topic
// and the time. It does not wait for the stream.
func (d *DeadLetters) Put(rej *bridge.RejectError, at time.Time) {
	msg := nats.NewMsg(d.cfg.Subject(rej.Reason))
	msg.Header[HeaderReason] = []string{string(rej.Reason.Known())}
	msg.Header[HeaderError] = []string{headerValue(rej.Msg, 1024)}
	if rej.Topic != "" {
		msg.Header[HeaderTopic] = []string{headerValue(rej.Topic, 256)}
	}
	msg.Header[HeaderReceivedAt] = []string{at.UTC().Format(time.RFC3339Nano)}
	if rej.Reason == bridge.ReasonOversize || len(rej.Input) >= bridge.MaxRejectedInput {
		msg.Header[HeaderTruncated] = []string{"true"}
	}
	msg.Data = rej.Input
	// With 1024 dead letters unacknowledged (NATS slow or gone) a new one
	// is counted as failed at once rather than stalling the reader.
	if _, err := d.js.PublishMsgAsync(msg, jetstream.WithStallWait(time.Millisecond)); err != nil {
		d.fail(msg.Subject, err)
	}
}

func (d *DeadLetters) fail(subject string, err error) {
	d.failed.Add(1)
	now := time.Now().UnixNano()
	if last := d.lastLog.Load(); now-last >= int64(time.Minute) && d.lastLog.CompareAndSwap(last, now) {
		d.cfg.Logger.Error("dead letter not stored (logged at most once a minute; see genesys_bridge_dead_letters_total)",
			"subject", subject, "err", err)
	}
}

// Counts returns the dead letters stored and those that could not be.
func (d *DeadLetters) Counts() (stored, failed uint64) { return d.stored.Load(), d.failed.Load() }

// headerValue makes s a header value: valid UTF-8 without control
// characters (a CR or LF would end the header), at most n bytes.
func headerValue(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	return text.Truncate(s, n)
}
