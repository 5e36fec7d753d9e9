package board

import (
	"cmp"
	"context"
	"errors"
	"iter"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/consume"
	"github.com/genesys-bridge/genesys-bridge/internal/retry"
)

// Config configures a Board. Zero values are the documented defaults.
type Config struct {
	// Stream and subjects, as the bridge publishes them (consume's
	// defaults when empty).
	Stream, SubjectPrefix, TimingsPrefix string
	// ServiceLevel is the answer time that counts as within service level.
	// Default 20s.
	ServiceLevel time.Duration
	// Window is the span of the offered/answered/abandoned figures.
	// Default 15m.
	Window time.Duration
	// Lookback is how far back the board reads the stream when it starts;
	// an interaction with no transition in it is not shown as open.
	// Default 12h (never less than Window).
	Lookback time.Duration
	// Feed is how many of the latest transitions the page lists. Default 30.
	Feed int
	// Names gives queue and user names (the routing and users APIs); nil
	// shows ids.
	Names  Namer
	Logger *slog.Logger
}

// Namer looks a queue's or a user's name up.
type Namer interface {
	QueueName(ctx context.Context, id string) (string, error)
	UserName(ctx context.Context, id string) (string, error)
}

func (c Config) withDefaults() Config {
	if c.ServiceLevel <= 0 {
		c.ServiceLevel = 20 * time.Second
	}
	if c.Window <= 0 {
		c.Window = 15 * time.Minute
	}
	if c.Lookback <= 0 {
		c.Lookback = 12 * time.Hour
	}
	c.Lookback = max(c.Lookback, c.Window)
	if c.Feed <= 0 {
		c.Feed = 30
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// open is an interaction not completed, as its last transition says.
type open struct {
	channel, queue, status, user string
	since                        time.Time // its status began (the transition's occurredAt)
	queuedAt                     time.Time // it entered its current queue, if it waits for an answer
}

// happening is one counted thing in the window.
type happening struct {
	at             time.Time
	channel, queue string
	kind           kind
	d              time.Duration // the wait of an answer, the handle time of a handled one
}

type kind uint8

const (
	offered kind = iota
	answered
	abandoned
	handled
)

// Board keeps what the page shows, from the stream alone: the interactions
// open now and what happened in the window. Safe for concurrent use.
type Board struct {
	cfg   Config
	names *names // the queues'
	users *names // the agents'

	mu     sync.Mutex
	open   map[string]*open
	events []happening // in arrival order; pruned past the window
	feed   []consume.Transition
	seen   uint64 // transitions read
	agents map[string]*agentNow
	series []Point // the chart's samples, oldest first
}

// New returns an empty Board.
func New(cfg Config) *Board {
	cfg = cfg.withDefaults()
	b := &Board{cfg: cfg, open: map[string]*open{}, agents: map[string]*agentNow{}}
	var queue, user func(ctx context.Context, id string) (string, error)
	if cfg.Names != nil {
		queue, user = cfg.Names.QueueName, cfg.Names.UserName
	}
	b.names = newNames(queue, "queue", "(no queue)", "routing:queue:view", cfg.Logger)
	b.users = newNames(user, "user", "(no agent)", "directory:user:view", cfg.Logger)
	return b
}

// Run reads transitions and timings from now less Lookback, and then as
// they are published, until ctx ends. A reading that fails (the stream is
// gone, the consumer cannot be made) is started again under the project's
// retry policy, from where the board's state is still right: the board is
// emptied and reads its lookback again. Queue names are looked up while
// Run runs; it returns once their lookups ended too.
func (b *Board) Run(ctx context.Context, js jetstream.JetStream) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { b.names.run(ctx) })
	wg.Go(func() { b.users.run(ctx) })
	wg.Go(func() { b.sample(ctx) })
	_ = retry.Policy{Base: time.Second, Max: 30 * time.Second}.Do(ctx, time.Time{}, func(ctx context.Context) error {
		b.reset()
		return b.read(ctx, js)
	}, func(a retry.Attempt) {
		b.cfg.Logger.Warn("board: reading the stream failed; reading it again", "attempt", a.N, "wait", a.Wait.String(), "err", a.Err)
	})
}

// read feeds the board from its three readers (transitions, timings,
// agents' transitions) until ctx ends (nil) or one of them fails (its
// error; the others are stopped).
func (b *Board) read(ctx context.Context, js jetstream.JetStream) error {
	cc := consume.Config{Stream: b.cfg.Stream, SubjectPrefix: b.cfg.SubjectPrefix, TimingsPrefix: b.cfg.TimingsPrefix,
		Start: consume.At, From: time.Now().Add(-b.cfg.Lookback)}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 3)
	fail := func(err error) { errs <- err; cancel() }
	var wg sync.WaitGroup
	wg.Go(func() { feed(b, consume.Transitions(ctx, js, cc), b.Transition, fail) })
	wg.Go(func() { feed(b, consume.TimingsOf(ctx, js, cc), b.Timings, fail) })
	wg.Go(func() { feed(b, consume.AgentTransitions(ctx, js, cc), b.AgentTransition, fail) })
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// feed applies each message of seq until it ends or fails (fail gets
// the error); a message that could not be read is skipped.
func feed[T any](b *Board, seq iter.Seq2[T, error], apply func(T), fail func(error)) {
	for v, err := range seq {
		if err != nil {
			if b.skip(err) {
				continue
			}
			fail(err)
			return
		}
		apply(v)
	}
}

// skip reports whether a reader's error is one message that could not be
// read (logged, and the reading goes on) rather than the reading failing.
func (b *Board) skip(err error) bool {
	if pe, ok := errors.AsType[*consume.PayloadError](err); ok {
		b.cfg.Logger.Warn("board: a message in the stream could not be read; skipped", "subject", pe.Subject, "sequence", pe.Sequence, "err", pe.Err)
		return true
	}
	return false
}

func (b *Board) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.open, b.events, b.feed, b.seen = map[string]*open{}, nil, nil, 0
	b.agents = map[string]*agentNow{}
}

// Transition applies one published transition.
func (b *Board) Transition(t consume.Transition) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seen++
	b.feed = append(b.feed, t)
	if n := len(b.feed); n > 2*b.cfg.Feed {
		b.feed = append(b.feed[:0], b.feed[n-b.cfg.Feed:]...)
	}
	o := b.open[t.InteractionID]
	if t.ToStatus == "completed" {
		delete(b.open, t.InteractionID)
		return
	}
	if o == nil {
		o = &open{}
		b.open[t.InteractionID] = o
	}
	o.channel, o.status, o.since, o.user = t.ChannelType, t.ToStatus, t.OccurredAt, t.UserID
	if t.QueueID != "" {
		o.queue = t.QueueID
	}
	switch t.ToStatus {
	case "queued":
		if t.FromStatus != "ringing" || o.queuedAt.IsZero() {
			// Offered to a queue: a ring that was not answered and went back
			// to the same wait is not a new offer.
			o.queuedAt = t.OccurredAt
			b.add(happening{at: t.OccurredAt, channel: o.channel, queue: o.queue, kind: offered})
		}
	case "connected":
		if !o.queuedAt.IsZero() && (t.FromStatus == "queued" || t.FromStatus == "ringing") {
			b.add(happening{at: t.OccurredAt, channel: o.channel, queue: o.queue, kind: answered, d: t.OccurredAt.Sub(o.queuedAt)})
		}
		o.queuedAt = time.Time{}
	}
}

// Timings applies one completed interaction's timings.
func (b *Board) Timings(t consume.Timings) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case t.Abandoned:
		b.add(happening{at: t.CompletedAt, channel: t.ChannelType, queue: t.QueueID, kind: abandoned})
	case t.Answered:
		b.add(happening{at: t.CompletedAt, channel: t.ChannelType, queue: t.QueueID, kind: handled, d: t.Handle})
	}
}

func (b *Board) add(h happening) {
	b.events = append(b.events, h)
	if len(b.events)%1024 == 0 {
		b.prune(time.Now())
	}
}

// prune drops what fell out of the window and interactions open with no
// transition within the lookback (the bridge releases those too).
func (b *Board) prune(now time.Time) {
	cut := now.Add(-b.cfg.Window)
	b.events = slices.DeleteFunc(b.events, func(h happening) bool { return h.at.Before(cut) })
	old := now.Add(-b.cfg.Lookback)
	for id, o := range b.open {
		if o.since.Before(old) {
			delete(b.open, id)
		}
	}
}

// Row is one queue and channel on the page.
type Row struct {
	QueueID   string `json:"queueId"`
	QueueName string `json:"queueName"`
	Channel   string `json:"channel"`
	// Now.
	Waiting     int     `json:"waiting"`
	LongestWait float64 `json:"longestWaitSeconds"`
	Ringing     int     `json:"ringing"`
	Connected   int     `json:"connected"`
	Held        int     `json:"held"`
	Wrapup      int     `json:"wrapup"`
	// In the window.
	Offered   int `json:"offered"`
	Answered  int `json:"answered"`
	Abandoned int `json:"abandoned"`
	// ServiceLevel is the share (0 to 100) of the answered and abandoned
	// that were answered within Config.ServiceLevel; -1 when none.
	ServiceLevel float64 `json:"serviceLevel"`
	AvgWait      float64 `json:"avgWaitSeconds"`   // of the answered
	AvgHandle    float64 `json:"avgHandleSeconds"` // of those completed after an answer
	withinSL     int
	waitSum      time.Duration
	handleSum    time.Duration
	handled      int
}

// FeedItem is one transition in the live feed.
type FeedItem struct {
	At          time.Time `json:"at"`
	Channel     string    `json:"channel"`
	Interaction string    `json:"interactionId"`
	From        string    `json:"from"`
	To          string    `json:"to"`
	QueueID     string    `json:"queueId"`
	QueueName   string    `json:"queueName"`
	UserID      string    `json:"userId"`
}

// Snapshot is what the page shows at one moment.
type Snapshot struct {
	At                  time.Time  `json:"at"`
	WindowMinutes       float64    `json:"windowMinutes"`
	ServiceLevelSeconds float64    `json:"serviceLevelSeconds"`
	Rows                []Row      `json:"rows"`
	Total               Row        `json:"total"`
	Feed                []FeedItem `json:"feed"`
	Transitions         uint64     `json:"transitionsRead"`
	// Agents now: per queue by routing status, and each agent.
	QueueAgents []QueueAgents `json:"queueAgents"`
	Agents      []AgentRow    `json:"agents"`
	// Series is the waiting and the service level (all queues) over the
	// window, oldest first: the chart.
	Series []Point `json:"series"`
}

// Point is one sample of the chart.
type Point struct {
	At      time.Time `json:"at"`
	Waiting int       `json:"waiting"`
	// ServiceLevel as in Row: -1 when nothing was answered or abandoned.
	ServiceLevel float64 `json:"serviceLevel"`
}

// Snapshot computes the figures at now.
func (b *Board) Snapshot(now time.Time) Snapshot {
	b.mu.Lock()
	b.prune(now)
	rows := map[[2]string]*Row{}
	row := func(queue, channel string) *Row {
		k := [2]string{queue, channel}
		r := rows[k]
		if r == nil {
			r = &Row{QueueID: queue, Channel: channel}
			rows[k] = r
		}
		return r
	}
	for _, o := range b.open {
		r := row(o.queue, o.channel)
		switch o.status {
		case "queued":
			r.Waiting++
			r.LongestWait = max(r.LongestWait, now.Sub(o.since).Seconds())
		case "ringing":
			r.Ringing++
		case "connected":
			r.Connected++
		case "held":
			r.Held++
		case "wrapup":
			r.Wrapup++
		}
	}
	for _, h := range b.events {
		r := row(h.queue, h.channel)
		switch h.kind {
		case offered:
			r.Offered++
		case answered:
			r.Answered++
			r.waitSum += h.d
			if h.d <= b.cfg.ServiceLevel {
				r.withinSL++
			}
		case abandoned:
			r.Abandoned++
		case handled:
			r.handled++
			r.handleSum += h.d
		}
	}
	s := Snapshot{At: now, WindowMinutes: b.cfg.Window.Minutes(), ServiceLevelSeconds: b.cfg.ServiceLevel.Seconds(), Transitions: b.seen}
	s.Agents, s.QueueAgents = b.agentsSnapshot(now)
	cut := now.Add(-b.cfg.Window)
	for _, p := range b.series {
		if !p.At.Before(cut) {
			s.Series = append(s.Series, p)
		}
	}
	for i := len(b.feed) - 1; i >= 0 && len(s.Feed) < b.cfg.Feed; i-- {
		t := b.feed[i]
		s.Feed = append(s.Feed, FeedItem{At: t.OccurredAt, Channel: t.ChannelType, Interaction: t.InteractionID,
			From: t.FromStatus, To: t.ToStatus, QueueID: t.QueueID, UserID: t.UserID})
	}
	b.mu.Unlock()

	total := &s.Total
	total.QueueName, total.Channel = "all queues", "all"
	for _, r := range rows {
		r.QueueName = b.names.name(r.QueueID)
		total.add(r)
		r.finish()
		s.Rows = append(s.Rows, *r)
	}
	total.finish()
	for i := range s.Feed {
		s.Feed[i].QueueName = b.names.name(s.Feed[i].QueueID)
	}
	b.nameAgents(s.Agents, s.QueueAgents)
	slices.SortFunc(s.Rows, func(a, b Row) int {
		return cmp.Or(cmp.Compare(a.QueueName, b.QueueName), cmp.Compare(a.QueueID, b.QueueID), cmp.Compare(a.Channel, b.Channel))
	})
	return s
}

func (r *Row) add(o *Row) {
	r.Waiting += o.Waiting
	r.LongestWait = max(r.LongestWait, o.LongestWait)
	r.Ringing += o.Ringing
	r.Connected += o.Connected
	r.Held += o.Held
	r.Wrapup += o.Wrapup
	r.Offered += o.Offered
	r.Answered += o.Answered
	r.Abandoned += o.Abandoned
	r.withinSL += o.withinSL
	r.waitSum += o.waitSum
	r.handleSum += o.handleSum
	r.handled += o.handled
}

func (r *Row) finish() {
	r.ServiceLevel = -1
	if n := r.Answered + r.Abandoned; n > 0 {
		r.ServiceLevel = 100 * float64(r.withinSL) / float64(n)
	}
	if r.Answered > 0 {
		r.AvgWait = r.waitSum.Seconds() / float64(r.Answered)
	}
	if r.handled > 0 {
		r.AvgHandle = r.handleSum.Seconds() / float64(r.handled)
	}
}

// Samples is how many points the chart has over the window.
const Samples = 120

// sample records the chart's points, Samples per window, until ctx ends.
func (b *Board) sample(ctx context.Context) {
	t := time.NewTicker(max(time.Second, b.cfg.Window/Samples))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			b.Sample(now)
		}
	}
}

// Sample records one point of the chart at now: the interactions waiting
// and the service level, over all queues.
func (b *Board) Sample(now time.Time) {
	s := b.Snapshot(now)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.series = append(b.series, Point{At: now, Waiting: s.Total.Waiting, ServiceLevel: s.Total.ServiceLevel})
	if n := len(b.series); n > 2*Samples {
		b.series = append(b.series[:0], b.series[n-Samples-1:]...)
	}
}

// DefaultConfig is the configuration the zero values stand for.
func DefaultConfig() Config { return Config{}.withDefaults() }
