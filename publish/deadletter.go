package publish

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
// choose its subject. They go through the transitions' publisher (the
// same sending, acknowledgements and retries), each with a deterministic
// Nats-Msg-Id: a frame Genesys repeats is stored once. Storing never
// blocks the pipeline: with MaxPending publishes in flight (NATS slow or
// gone) a dead letter fails at once; one that cannot be stored is counted
// and logged.
type DeadLetters struct {
	cfg            DeadLetterConfig
	pub            *JetStream
	ctx            context.Context // the publishes' (retries end with it)
	cancel         context.CancelFunc
	inflight       sync.WaitGroup
	stored, failed atomic.Uint64
	lastLog        atomic.Int64 // unix ns of the last failure logged
}

// NewDeadLetters provisions the dead-letter stream (see ensureStream) on
// pub's connection; dead letters are published through pub.
func NewDeadLetters(ctx context.Context, pub *JetStream, cfg DeadLetterConfig) (*DeadLetters, error) {
	cfg = cfg.withDefaults()
	if _, err := ensureStream(ctx, pub.js, cfg.StreamConfig(), cfg.Logger); err != nil {
		return nil, err
	}
	d := &DeadLetters{cfg: cfg, pub: pub}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d, nil
}

// Close waits up to wait for the dead letters in flight, then gives up on
// the rest (counted failed). Call it before the publisher's Close.
func (d *DeadLetters) Close(wait time.Duration) {
	done := make(chan struct{})
	go func() { d.inflight.Wait(); close(done) }()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
	d.cancel()
	<-done
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
	p := newInflight(d.ctx, DeadLetterID(rej), "", nil)
	p.buf = append(p.buf, d.cfg.Subject(rej.Reason)...)
	p.msg.Subject = p.text(0)
	p.set(HeaderReason, string(rej.Reason.Known()))
	p.set(HeaderError, headerValue(rej.Msg, 1024))
	if rej.Topic != "" {
		p.set(HeaderTopic, headerValue(rej.Topic, 256))
	}
	p.set(HeaderReceivedAt, at.UTC().Format(time.RFC3339Nano))
	if rej.Reason == bridge.ReasonOversize || len(rej.Input) >= bridge.MaxRejectedInput {
		p.set(HeaderTruncated, "true")
	}
	p.msg.Data = append(p.msg.Data, rej.Input...)
	p.r = deadLetterReceipt{d: d, subject: p.msg.Subject}
	p.noWait = true
	d.inflight.Add(1)
	d.pub.send(p)
}

// DeadLetterID is a rejected frame's Nats-Msg-Id: 32 hex digits of the
// SHA-256 of its reason, topic and body, so the same frame repeated is
// one dead letter (within the stream's duplicate window).
func DeadLetterID(rej *bridge.RejectError) string {
	h := sha256.New()
	h.Write([]byte(rej.Reason.Known()))
	h.Write([]byte{0})
	h.Write([]byte(rej.Topic))
	h.Write([]byte{0})
	h.Write(rej.Input)
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// deadLetterReceipt counts a dead letter's outcome.
type deadLetterReceipt struct {
	d       *DeadLetters
	subject string
}

func (r deadLetterReceipt) Complete(_ bool, _ uint64, err error) {
	if err != nil {
		r.d.fail(r.subject, err)
	} else {
		r.d.stored.Add(1)
	}
	r.d.inflight.Done()
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
