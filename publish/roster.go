package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The roster of agents: which agents the replicas follow, and on which
// lane, in a key-value bucket without TTL ("<Stream>_ROSTER"), one key per
// agent (agent.<scope>.<userId>) written with Create: the first replica to
// place an agent decides its lane, every replica watches the bucket, and
// a lane's holder subscribes the agents placed on it.

// RosterConfig configures the roster. Zero values are the documented
// defaults.
type RosterConfig struct {
	// Bucket is the key-value bucket. Default "<Stream>_ROSTER".
	Bucket string
	// Replicas of the bucket. Default 1.
	Replicas int
	// Scope names the lane plan (as LeaseConfig.Scope). Default "default".
	Scope  string
	Logger *slog.Logger
}

// Placement is an agent followed on a lane since a time.
type Placement struct {
	Agent string
	Lane  int
	Since time.Time
}

type placementValue struct {
	Lane  int       `json:"lane"`
	Since time.Time `json:"since"`
}

// Roster is one replica's side of the shared roster.
type Roster struct {
	cfg RosterConfig
	kv  jetstream.KeyValue
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	known map[string]Placement // by agent
	subs  []*placementQueue
	ready chan struct{}
}

// placementQueue hands placements to one subscriber in order, never
// blocking the watch: what the subscriber has not taken yet waits here.
type placementQueue struct {
	mu      sync.Mutex
	pending []Placement
	wake    chan struct{} // a token when pending grew
}

func (q *placementQueue) push(p Placement) {
	q.mu.Lock()
	q.pending = append(q.pending, p)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run delivers the queue on out until ctx ends.
func (q *placementQueue) run(ctx context.Context, out chan<- Placement) {
	for {
		q.mu.Lock()
		batch := q.pending
		q.pending = nil
		q.mu.Unlock()
		for _, p := range batch {
			select {
			case out <- p:
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-q.wake:
		case <-ctx.Done():
			return
		}
	}
}

// OpenRoster creates (or reuses) the bucket and starts watching it.
func OpenRoster(ctx context.Context, js jetstream.JetStream, stream string, cfg RosterConfig) (*Roster, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = stream + "_ROSTER"
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.Scope == "" {
		cfg.Scope = "default"
	}
	cfg.Scope = keySafe(cfg.Scope)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	kv, err := provisionKV(ctx, js, jetstream.KeyValueConfig{Bucket: cfg.Bucket, History: 1, Replicas: cfg.Replicas,
		Description: "genesys-bridge agents followed, and their lanes (replicas share the Genesys channels)"}, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("agent roster: bucket %s: %w", cfg.Bucket, err)
	}
	r := &Roster{cfg: cfg, kv: kv, log: cfg.Logger, known: map[string]Placement{}, ready: make(chan struct{})}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.wg.Go(func() {
		kvWatch(r.ctx, kv, r.prefix()+">", time.Second, r.log, r.seen, func() {
			select {
			case <-r.ready:
			default:
				close(r.ready)
			}
		}, func() {}) // a new watch delivers everything again: placements only accumulate
	})
	select {
	case <-r.ready:
	case <-ctx.Done():
		r.Close()
		return nil, ctx.Err()
	}
	return r, nil
}

func (r *Roster) prefix() string { return "agent." + r.cfg.Scope + "." }

func (r *Roster) seen(e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		return // an agent once followed stays followed until the configuration changes
	}
	id, ok := strings.CutPrefix(e.Key(), r.prefix())
	if !ok {
		return
	}
	var v placementValue
	if json.Unmarshal(e.Value(), &v) != nil || v.Lane < 0 {
		r.log.Warn("agent roster: an entry that is not a placement; ignored", "key", e.Key())
		return
	}
	p := Placement{Agent: id, Lane: v.Lane, Since: v.Since}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.known[id]; dup {
		return
	}
	r.known[id] = p
	for _, q := range r.subs {
		q.push(p)
	}
}

// Placements returns every placement known now, and delivers each later
// one on the channel returned until ctx ends (however slowly the caller
// takes them: the watch never waits for it).
func (r *Roster) Placements(ctx context.Context) ([]Placement, <-chan Placement) {
	out := make(chan Placement)
	q := &placementQueue{wake: make(chan struct{}, 1)}
	r.mu.Lock()
	now := make([]Placement, 0, len(r.known))
	for _, p := range r.known {
		now = append(now, p)
	}
	r.subs = append(r.subs, q)
	r.mu.Unlock()
	qctx, stop := context.WithCancel(ctx)
	stopWith := context.AfterFunc(r.ctx, stop) // Close ends it too
	r.wg.Go(func() {
		defer stopWith()
		defer stop()
		q.run(qctx, out)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.subs = slices.DeleteFunc(r.subs, func(s *placementQueue) bool { return s == q })
	})
	return now, out
}

// Place follows agent id on lane from since, unless it is placed already;
// it returns the agent's placement (this one, or the earlier one).
func (r *Roster) Place(ctx context.Context, id string, lane int, since time.Time) (Placement, error) {
	key := r.prefix() + keySafe(id)
	v, _ := json.Marshal(placementValue{Lane: lane, Since: since.UTC()})
	_, err := r.kv.Create(ctx, key, v)
	if err == nil {
		return Placement{Agent: id, Lane: lane, Since: since}, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return Placement{}, fmt.Errorf("agent roster: place %s: %w", id, err)
	}
	e, err := r.kv.Get(ctx, key)
	if err != nil {
		return Placement{}, fmt.Errorf("agent roster: read %s: %w", id, err)
	}
	var pv placementValue
	if err := json.Unmarshal(e.Value(), &pv); err != nil {
		return Placement{}, fmt.Errorf("agent roster: %s: %w", id, err)
	}
	return Placement{Agent: id, Lane: pv.Lane, Since: pv.Since}, nil
}

// Close stops the watch.
func (r *Roster) Close() {
	r.cancel()
	r.wg.Wait()
}
