package genesys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/genesys-bridge/genesys-bridge/genesys/internal/wsock"
	"github.com/genesys-bridge/genesys-bridge/internal/retry"
)

// Limits of the Notification Service.
const (
	// MaxTopicsPerChannel is how many topics one channel takes.
	MaxTopicsPerChannel = 1000
	// MaxChannels is how many channels one OAuth client may hold; the 21st
	// evicts the oldest unconnected one.
	MaxChannels = 20
	// MaxTopics is the most topics one OAuth client subscribes: one
	// channel is kept free so that a channel can be replaced
	// make-before-break.
	MaxTopics = (MaxChannels - 1) * MaxTopicsPerChannel
)

// StreamConfig configures a Stream. Zero values are the documented defaults.
type StreamConfig struct {
	// Clients are the OAuth clients (at least one): lanes are spread over
	// them, each holding at most MaxChannels-1 (clients.go).
	Clients []*Client
	Topics  []string
	// HeartbeatInterval is the server's heartbeat period. The stream pings
	// when nothing arrived for one interval and declares the socket dead
	// after two intervals of silence. Default 30s.
	HeartbeatInterval time.Duration
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
	// Leases, if set, shares the lanes with other replicas: a lane is read
	// only while this replica holds its lease (leases.go). Nil: every lane.
	Leases LaneLeases
	// Roster, if set, shares the agents followed and their lanes with
	// other replicas (roster.go). Nil: this replica places its own.
	Roster AgentRoster
	// Settle, if set, waits (bounded) until what the stream delivered is
	// stored: a lane handed over releases its lease after it, so that its
	// successor finds the lane's latest states in the store.
	Settle func(ctx context.Context)
	SocketConfig
}

// Stream is the Notification Service source. It splits its topics over
// channels of at most 1,000 topics (lanes), holds one socket per lane,
// replaces a lane's channel make-before-break ahead of token and channel
// expiry and on socket_closing, reconnects a lane whose socket died, and
// back-fills the gap over REST. Read yields the decoded events of all
// lanes, live and back-filled.
type Stream struct {
	*wsock.Feed
	cfg     StreamConfig
	log     *slog.Logger
	retry   retry.Policy // reconnects and replacement channels
	clients []*clientSlot
	bf      sync.WaitGroup

	// mu guards the roster (roster.go): the lanes, each lane's topics,
	// agents and current channel (and its client), the agents followed,
	// spawn, which starts a lane added while the stream runs, and the
	// clients' refusals (clients.go).
	mu       sync.Mutex
	lanes    []*lane
	agentSet map[string]bool
	spawn    func(*lane)

	reconnects   atomic.Uint64
	rollovers    atomic.Uint64
	backfilled   atomic.Uint64
	gapSeq       atomic.Uint64
	joins        atomic.Uint64
	joinsRefused atomic.Uint64
	reading      atomic.Int64 // lanes read under a lease (leases.go)
}

// DefaultStreamConfig is the configuration the zero values stand for.
func DefaultStreamConfig() StreamConfig { return StreamConfig{}.withDefaults() }

func (cfg StreamConfig) withDefaults() StreamConfig {
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
	cfg.SocketConfig = SocketDefaults(cfg.SocketConfig)
	return cfg
}

// NewStream returns a Stream; Run starts it.
func NewStream(cfg StreamConfig) (*Stream, error) {
	if len(cfg.Clients) == 0 || slices.Contains(cfg.Clients, nil) {
		return nil, errors.New("genesys stream: no client")
	}
	if len(cfg.Topics) == 0 {
		return nil, errors.New("genesys stream: no topics to subscribe")
	}
	if err := CountTopics(cfg.Topics).Fit(len(cfg.Clients)); err != nil {
		return nil, fmt.Errorf("genesys stream: %w", err)
	}
	cfg = cfg.withDefaults()
	s := &Stream{Feed: wsock.NewFeed(cfg.HeartbeatInterval), cfg: cfg, log: cfg.Logger, retry: cfg.RetryPolicy(),
		agentSet: map[string]bool{}}
	for i, c := range cfg.Clients {
		s.clients = append(s.clients, &clientSlot{c: c, index: i, roll: make(chan struct{}, 1)})
	}
	for i := 0; i < len(cfg.Topics); i += MaxTopicsPerChannel {
		l := newLane(s, len(s.lanes))
		l.topics = slices.Clone(cfg.Topics[i:min(i+MaxTopicsPerChannel, len(cfg.Topics))])
		for _, t := range l.topics {
			if user, ok := activityUser(t); ok {
				l.agents = append(l.agents, user)
				s.agentSet[user] = true
				continue
			}
			switch prefix, id, suffix, _ := splitTopic(t); {
			case suffix != "":
			case prefix == queuePrefix:
				l.filter.QueueIDs = append(l.filter.QueueIDs, id)
			case prefix == userPrefix:
				l.filter.UserIDs = append(l.filter.UserIDs, id)
			}
		}
		s.lanes = append(s.lanes, l)
	}
	return s, nil
}

// Lanes reports how many channels the stream holds.
func (s *Stream) Lanes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lanes)
}

// Agents reports how many agents the stream follows.
func (s *Stream) Agents() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.agentSet)
}

// Joins counts queue members followed since the start (membership
// notifications); JoinsRefused those not followed for want of room.
func (s *Stream) Joins() uint64        { return s.joins.Load() }
func (s *Stream) JoinsRefused() uint64 { return s.joinsRefused.Load() }

// Reconnects counts sockets that died and were replaced after a gap.
func (s *Stream) Reconnects() uint64 { return s.reconnects.Load() }

// Rollovers counts channels replaced make-before-break (no gap).
func (s *Stream) Rollovers() uint64 { return s.rollovers.Load() }

// Backfilled counts conversations fetched over REST after gaps.
func (s *Stream) Backfilled() uint64 { return s.backfilled.Load() }

// Errors that end a socket and say why.
var (
	errChannelGone = errors.New("channel gone")
	errRolledOver  = errors.New("replaced by a new channel")
	// ErrNoTopicPermitted means the server rejected every topic of a channel.
	ErrNoTopicPermitted = errors.New("genesys: no topic was permitted")
)

// Permanent reports whether err ends a stream of either dialect instead of
// a reconnect: the credentials refused (of every client, when there are
// several), or every topic of a channel.
func Permanent(err error) bool {
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
	if s.cfg.Roster != nil {
		s.followRoster(ctx)
	}
	if err := s.discoverMembers(ctx); err != nil {
		if ctx.Err() != nil {
			err = nil
		}
		cancel()
		s.Finish(err)
		return err
	}
	start := func(l *lane) {
		wg.Go(func() {
			if err := l.run(ctx); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		})
	}
	s.mu.Lock()
	for _, l := range s.lanes {
		start(l)
	}
	s.spawn = start
	if s.cfg.Leases != nil {
		s.cfg.Leases.SetLanes(len(s.lanes))
	}
	s.mu.Unlock()
	<-ctx.Done()
	s.mu.Lock()
	s.spawn = nil // no lane starts after the others were told to stop
	s.mu.Unlock()
	wg.Wait()
	cancel()
	s.bf.Wait()
	s.Finish(first)
	return first
}
