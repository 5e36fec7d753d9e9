package publish

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/internal/retry"
)

// Lane leases: replicas of the bridge share its lanes (a lane is one
// Genesys channel's topics) through a key-value bucket on the same
// JetStream, with no other coordinator. Each replica registers itself
// (replica.<id>) and takes leases (lease.<scope>.<lane>) up to its fair
// share of the lanes, ceil(lanes/replicas of its scope); it renews what it
// holds every TTL/3 with a compare-and-set on the key's revision, and the
// bucket's TTL removes what is not renewed (a marker tells the watchers).
//
// A lease is lost, and its lane must stop reading, when the replica can no
// longer prove it: a renewal refused because another replica holds the key,
// or no renewal acknowledged for TTL less a fifth of it, counted from when
// the last acknowledged one was sent, so the replica stops before the
// server could expire the key and another take it (no clock is shared).
// A replica holding more than its share, or two more than another replica
// while no lane is free, hands one lane over per round: the lane stops,
// writes where its successor must begin (Release), and deletes the key.
//
// Every renewal carries the lane's safe mark: the time from which the
// holder may not have published everything the lane heard. A successor
// reads the last mark the watch showed (Takeover) and back-fills from it.
//
// The scope names the lane plan (a fingerprint of the configuration):
// replicas of another scope, during a rollout that changes the
// configuration, count neither as replicas nor as holders.

// LeaseConfig configures lane leases. Zero values are the documented
// defaults.
type LeaseConfig struct {
	// Bucket is the key-value bucket. Default "<Stream>_LANES".
	Bucket string
	// TTL is how long a lease lives without renewal. Default 10s, at
	// least 1s.
	TTL time.Duration
	// Replicas of the bucket (1, 3 or 5). Default 1.
	Replicas int
	// Replica names this process. Default: the host name and a random
	// suffix (a restarted process is a new replica).
	Replica string
	// Scope names the lane plan; leases and replicas of other scopes are
	// not counted. Default "default".
	Scope  string
	Logger *slog.Logger
}

// DefaultLeaseTTL is a lease's life without renewal.
const DefaultLeaseTTL = 10 * time.Second

func (c LeaseConfig) withDefaults(stream string) LeaseConfig {
	if c.Bucket == "" {
		c.Bucket = stream + "_LANES"
	}
	if c.TTL <= 0 {
		c.TTL = DefaultLeaseTTL
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.Replica == "" {
		host, _ := os.Hostname()
		c.Replica = host + "-" + randomSuffix()
	}
	c.Replica = keySafe(c.Replica)
	if c.Scope == "" {
		c.Scope = "default"
	}
	c.Scope = keySafe(c.Scope)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate checks the settings on their own.
func (c LeaseConfig) Validate() error {
	if c.TTL != 0 && c.TTL < time.Second {
		return fmt.Errorf("lease TTL %s: at least 1s", c.TTL)
	}
	if c.Bucket != "" && !bucketName.MatchString(c.Bucket) {
		return fmt.Errorf("lease bucket %q: letters, digits, '-' and '_' only", c.Bucket)
	}
	return nil
}

var (
	bucketName = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	unsafeKey  = regexp.MustCompile(`[^a-zA-Z0-9_-]`)
)

// keySafe makes s one token of a key.
func keySafe(s string) string {
	s = unsafeKey.ReplaceAllString(s, "_")
	if s == "" {
		return "_"
	}
	return s
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Errors a lease is lost with.
var (
	// ErrLeaseUnproven: no renewal was acknowledged in time.
	ErrLeaseUnproven = errors.New("lane lease: no renewal acknowledged in time")
	// ErrLeaseTaken: another replica holds the key.
	ErrLeaseTaken = errors.New("lane lease: held by another replica")
	// ErrHandover: the replica holds more than its share and hands the
	// lane to another.
	ErrHandover = errors.New("lane lease: handed over to balance the replicas")
	// ErrLeasesClosed: the replica is shutting down.
	ErrLeasesClosed = errors.New("lane leases closed")
)

// leaseValue is a lease key's value.
type leaseValue struct {
	Replica string    `json:"replica"`
	Safe    time.Time `json:"safe"`
}

// replicaValue is a replica key's value.
type replicaValue struct {
	Scope string    `json:"scope"`
	Since time.Time `json:"since"`
}

// Leases is one replica's side of the lane leases.
type Leases struct {
	cfg LeaseConfig
	kv  jetstream.KeyValue
	log *slog.Logger

	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	lanes    int                       // lanes in the plan (SetLanes)
	held     map[int]*Lease            // by lane
	pending  int                       // acquisitions under way
	holders  map[int]string            // lane -> replica holding its key now (the watch)
	marks    map[int]leaseValue        // lane -> the last mark seen (kept after the key is gone)
	markAt   map[int]time.Time         // lane -> when that mark was written (the server's time)
	existed  map[int]bool              // lane -> a key, its marker or a release mark was seen
	seenAt   map[int]time.Time         // lane -> when its last lease value was seen (this clock)
	released map[int]bool              // lane -> the last mark is a release's (not a renewal's)
	marksKV  jetstream.KeyValue        // release marks, without TTL
	scopeOf  map[string]string         // replica -> its scope (present keys)
	changed  chan struct{}             // closed and replaced on every change seen
	myRev    uint64                    // this replica's key revision
	clock    func() time.Time          // time.Now; tests replace it
	onLost   func(lane int, err error) // tests observe losses

	ready chan struct{} // closed once the watch delivered the bucket's state
}

// OpenLeases creates (or reuses) the bucket, registers this replica and
// starts the watch and the renewals. stream names the default bucket.
func OpenLeases(ctx context.Context, js jetstream.JetStream, stream string, cfg LeaseConfig) (*Leases, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults(stream)
	kv, err := provisionKV(ctx, js, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket,
		Description: "genesys-bridge lane leases (replicas share the Genesys channels)",
		History:     1,
		TTL:         cfg.TTL,
		Replicas:    cfg.Replicas,
		// Expiries leave a marker, so watchers learn at once that a lease
		// lapsed; kept long enough that a successor knows a holder existed.
		LimitMarkerTTL: max(time.Hour, 2*cfg.TTL),
	}, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("lane leases: bucket %s: %w", cfg.Bucket, err)
	}
	// Where each lane's last holder stopped, kept as long as the plan
	// lives: a replica that starts after a release knows where to begin.
	marksKV, err := provisionKV(ctx, js, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket + "_MARKS",
		Description: "genesys-bridge: where each lane's last reader stopped",
		History:     1,
		Replicas:    cfg.Replicas,
	}, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("lane leases: bucket %s_MARKS: %w", cfg.Bucket, err)
	}
	l := &Leases{marksKV: marksKV, markAt: map[int]time.Time{}, cfg: cfg, kv: kv, log: cfg.Logger.With("replica", cfg.Replica), held: map[int]*Lease{}, holders: map[int]string{},
		marks: map[int]leaseValue{}, existed: map[int]bool{}, seenAt: map[int]time.Time{}, released: map[int]bool{}, scopeOf: map[string]string{}, changed: make(chan struct{}),
		clock: time.Now, ready: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	if err := (retry.Policy{Base: time.Second, Max: 30 * time.Second}).Do(ctx, time.Time{}, l.register, func(a retry.Attempt) {
		l.log.Warn("lane leases: registering the replica failed; retrying", "err", a.Err, "attempt", a.N, "wait", a.Wait.String())
	}); err != nil {
		l.cancel()
		return nil, err
	}
	l.wg.Go(func() {
		kvWatch(l.ctx, kv, "", cfg.TTL/3, l.log, l.seen, l.synced, func() {
			l.mu.Lock()
			clear(l.holders)
			clear(l.scopeOf)
			l.scopeOf[l.cfg.Replica] = l.cfg.Scope
			l.mu.Unlock()
		})
	})
	marksReady := make(chan struct{})
	l.wg.Go(func() {
		kvWatch(l.ctx, marksKV, "mark."+cfg.Scope+".>", cfg.TTL/3, l.log, l.seenMark, func() {
			select {
			case <-marksReady:
			default:
				close(marksReady)
			}
		}, func() {})
	})
	select { // the marks are known before any lane is taken
	case <-marksReady:
	case <-ctx.Done():
		l.cancel()
		l.wg.Wait()
		return nil, ctx.Err()
	}
	l.wg.Go(l.renewals)
	return l, nil
}

// seenMark applies one release mark of the watch.
func (l *Leases) seenMark(e jetstream.KeyValueEntry) {
	rest, ok := strings.CutPrefix(e.Key(), "mark."+l.cfg.Scope+".")
	if !ok || e.Operation() != jetstream.KeyValuePut {
		return
	}
	lane, err := strconv.Atoi(rest)
	if err != nil {
		return
	}
	var v leaseValue
	if json.Unmarshal(e.Value(), &v) != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.existed[lane] = true
	if e.Created().After(l.markAt[lane]) {
		l.marks[lane], l.markAt[lane], l.released[lane] = v, e.Created(), true
	}
	l.broadcastLocked()
}

// Replica is this replica's name.
func (l *Leases) Replica() string { return l.cfg.Replica }

// TTL is a lease's life without renewal.
func (l *Leases) TTL() time.Duration { return l.cfg.TTL }

// SetLanes tells how many lanes the plan has: the fair share follows.
func (l *Leases) SetLanes(n int) {
	l.mu.Lock()
	l.lanes = n
	l.broadcastLocked()
	l.mu.Unlock()
}

func (l *Leases) key(lane int) string { return "lease." + l.cfg.Scope + "." + strconv.Itoa(lane) }

func (l *Leases) replicaKey() string { return "replica." + l.cfg.Replica }

// register creates (or re-creates) this replica's key.
func (l *Leases) register(ctx context.Context) error {
	v, _ := json.Marshal(replicaValue{Scope: l.cfg.Scope, Since: time.Now().UTC()})
	rev, err := l.kv.Create(ctx, l.replicaKey(), v)
	if errors.Is(err, jetstream.ErrKeyExists) {
		rev, err = l.kv.Put(ctx, l.replicaKey(), v)
	}
	if err != nil {
		return fmt.Errorf("lane leases: register replica %s: %w", l.cfg.Replica, err)
	}
	l.mu.Lock()
	l.myRev = rev
	l.scopeOf[l.cfg.Replica] = l.cfg.Scope
	l.mu.Unlock()
	return nil
}

// synced tells that the watch delivered the bucket's state.
func (l *Leases) synced() {
	select {
	case <-l.ready:
	default:
		close(l.ready)
	}
}

// seen applies one entry of the watch.
func (l *Leases) seen(e jetstream.KeyValueEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.broadcastLocked()
	gone := e.Operation() != jetstream.KeyValuePut
	if id, ok := strings.CutPrefix(e.Key(), "replica."); ok {
		if gone {
			delete(l.scopeOf, id)
			return
		}
		var v replicaValue
		if json.Unmarshal(e.Value(), &v) == nil {
			l.scopeOf[id] = v.Scope
		}
		return
	}
	rest, ok := strings.CutPrefix(e.Key(), "lease."+l.cfg.Scope+".")
	if !ok {
		return
	}
	lane, err := strconv.Atoi(rest)
	if err != nil {
		return
	}
	l.existed[lane] = true
	if gone {
		delete(l.holders, lane)
		return
	}
	var v leaseValue
	if json.Unmarshal(e.Value(), &v) == nil {
		l.holders[lane] = v.Replica
		l.seenAt[lane] = l.clock()
		if e.Created().After(l.markAt[lane]) {
			l.marks[lane], l.markAt[lane], l.released[lane] = v, e.Created(), false
		}
	}
}

func (l *Leases) broadcastLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// shareLocked is this replica's fair share: ceil(lanes/replicas of its
// scope), and the fewest lanes another replica of the scope holds.
func (l *Leases) shareLocked() (share, fewest int) {
	n := 0
	count := map[string]int{}
	for id, scope := range l.scopeOf {
		if scope == l.cfg.Scope {
			n++
			count[id] = 0
		}
	}
	n = max(n, 1)
	for _, holder := range l.holders {
		if _, ok := count[holder]; ok {
			count[holder]++
		}
	}
	fewest = -1
	for id, c := range count {
		if id != l.cfg.Replica && (fewest < 0 || c < fewest) {
			fewest = c
		}
	}
	return (l.lanes + n - 1) / n, fewest
}

// Takeover is what a lane's new holder knows of the one before.
type Takeover struct {
	// Existed: the lane had a holder (a key or its expiry marker was seen).
	Existed bool
	// Safe is the last safe mark seen of it (zero if none was seen): from
	// then on the predecessor may not have published what it heard.
	Safe time.Time
	// Replica is the predecessor (empty if unknown).
	Replica string
	// Until is when the predecessor may have published last: its last
	// write seen, plus the TTL unless it released the lane (zero if
	// unknown).
	Until time.Time
}

// Acquire waits until this replica holds lane's lease: while it holds its
// fair share, or another replica holds the key, it waits. safe reports
// the lane's safe mark for each renewal. It returns the lease and what is
// known of the lane's previous holder.
func (l *Leases) Acquire(ctx context.Context, lane int, safe func() time.Time) (*Lease, Takeover, error) {
	select { // what the bucket holds is known first (holders, marks)
	case <-l.ready:
	case <-ctx.Done():
		return nil, Takeover{}, ctx.Err()
	case <-l.ctx.Done():
		return nil, Takeover{}, ErrLeasesClosed
	}
	key := l.key(lane)
	tick := time.NewTicker(l.cfg.TTL / 3)
	defer tick.Stop()
	for {
		l.mu.Lock()
		changed := l.changed
		share, _ := l.shareLocked()
		// A key the view shows as this replica's while it holds no lease
		// of it is one it lost: tried again (it may have lapsed unseen).
		// A holder not heard of for a TTL (renewals come every third of
		// it) may be gone unseen (a watch that missed the expiry): tried.
		holder, taken := l.holders[lane]
		taken = taken && holder != l.cfg.Replica && l.clock().Sub(l.seenAt[lane]) < l.cfg.TTL
		try := !taken && l.held[lane] == nil && len(l.held)+l.pending < share
		if try {
			l.pending++
		}
		before := Takeover{Existed: l.existed[lane], Safe: l.marks[lane].Safe, Replica: l.marks[lane].Replica}
		if at, ok := l.markAt[lane]; ok {
			before.Until = at
			if !l.released[lane] {
				before.Until = at.Add(l.cfg.TTL)
			}
		}
		l.mu.Unlock()
		if try {
			// Until the new holder says otherwise, its mark is no later
			// than its predecessor's: were it to die at once, its
			// successor must begin where the predecessor left off.
			mark := safe
			if !before.Safe.IsZero() {
				mark = func() time.Time { return earliest(safe(), before.Safe) }
			}
			lease, err := l.create(ctx, lane, key, mark, safe)
			l.mu.Lock()
			l.pending--
			if err == nil {
				l.held[lane] = lease
				lease.taken = l.clock()
			}
			l.mu.Unlock()
			switch {
			case err == nil:
				return lease, before, nil
			case errors.Is(err, jetstream.ErrKeyExists), wrongLastSequence(err):
				// Another replica took it first.
			case ctx.Err() != nil:
				return nil, Takeover{}, ctx.Err()
			default:
				l.log.Warn("lane lease: taking it failed; retrying", "lane", lane, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil, Takeover{}, ctx.Err()
		case <-l.ctx.Done():
			return nil, Takeover{}, ErrLeasesClosed
		case <-changed:
		case <-tick.C:
		}
	}
}

// wrongLastSequence reports a compare-and-set refused by the server
// (10071, or 10164 on a replicated stream): another writer came first.
func wrongLastSequence(err error) bool {
	var ae *jetstream.APIError
	return errors.As(err, &ae) && (ae.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || ae.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// earliest is the earlier of two times.
func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// create takes lane's key if it is free; its first value carries mark,
// its renewals safe.
func (l *Leases) create(ctx context.Context, lane int, key string, mark, safe func() time.Time) (*Lease, error) {
	v, _ := json.Marshal(leaseValue{Replica: l.cfg.Replica, Safe: mark().UTC()})
	octx, cancel := context.WithTimeout(ctx, l.cfg.TTL/3)
	defer cancel()
	sent := l.clock()
	rev, err := l.kv.Create(octx, key, v)
	if err != nil {
		return nil, err
	}
	return &Lease{l: l, lane: lane, key: key, rev: rev, safe: safe, lastOK: sent, lost: make(chan struct{})}, nil
}

// Lease is one lane's lease, held until lost or released.
type Lease struct {
	l    *Leases
	lane int
	key  string
	safe func() time.Time

	// Under l.mu.
	rev    uint64
	lastOK time.Time // when the last acknowledged write was sent
	taken  time.Time // when it was taken (a lease is handed over no sooner than a round later)
	err    error     // why it was lost
	done   bool      // released

	lost chan struct{}
}

// Lane is the lease's lane.
func (s *Lease) Lane() int { return s.lane }

// Lost is closed when the lease is lost (Err says why): the lane must
// stop reading, then Release.
func (s *Lease) Lost() <-chan struct{} { return s.lost }

// Err is why the lease was lost (nil while held).
func (s *Lease) Err() error {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	return s.err
}

// loseLocked marks the lease lost. Under l.mu.
func (l *Leases) loseLocked(s *Lease, err error) {
	if s.err != nil {
		return
	}
	s.err = err
	close(s.lost)
	if l.onLost != nil {
		l.onLost(s.lane, err)
	}
}

// Release gives the lease up once its lane stopped reading: unless it was
// lost for want of proof (or taken), it records the lane's final safe mark
// and deletes the key, so that a successor takes the lane at once and
// back-fills from the mark.
func (s *Lease) Release() {
	l := s.l
	l.mu.Lock()
	if s.done {
		l.mu.Unlock()
		return
	}
	s.done = true
	delete(l.held, s.lane)
	why, rev := s.err, s.rev
	l.loseLocked(s, ErrLeasesClosed)
	l.mu.Unlock()
	if errors.Is(why, ErrLeaseUnproven) || errors.Is(why, ErrLeaseTaken) {
		return // the key is not ours to write: it expires (or is another's)
	}
	if why == nil {
		why = ErrLeasesClosed
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.TTL/3)
	defer cancel()
	safe := s.safe().UTC()
	v, _ := json.Marshal(leaseValue{Replica: l.cfg.Replica, Safe: safe})
	rev, err := l.kv.Update(ctx, s.key, v, rev) // still ours: the mark is final
	if err == nil {
		_, err = l.marksKV.Put(ctx, "mark."+l.cfg.Scope+"."+strconv.Itoa(s.lane), v)
	}
	if err == nil {
		err = l.kv.Delete(ctx, s.key, jetstream.LastRevision(rev))
	}
	if err != nil {
		l.log.Warn("lane lease: releasing it failed; it expires instead", "lane", s.lane, "err", err)
		return
	}
	l.log.Info("lane lease released", "lane", s.lane, "why", why.Error(), "safe", safe.Format(time.RFC3339Nano))
}

// renewals renews the replica's key and its leases every TTL/3, hands a
// lane over when the replica holds more than its share, and, every
// TTL/20 whatever the renewals are waiting on, loses what can no longer be
// proven.
func (l *Leases) renewals() {
	round := time.NewTicker(l.cfg.TTL / 3)
	defer round.Stop()
	check := time.NewTicker(l.cfg.TTL / 20)
	defer check.Stop()
	done := make(chan struct{}, 1)
	done <- struct{}{} // no round under way
	for {
		select {
		case <-l.ctx.Done():
			<-done
			return
		case <-check.C:
			l.expire()
		case <-round.C:
			select {
			case <-done:
				go func() {
					defer func() { done <- struct{}{} }()
					l.renewOnce()
					l.rebalance()
				}()
			default: // the last round still waits (at most TTL/3)
			}
		}
	}
}

// renewOnce writes every lease held (and the replica's key) once, all at
// once, each within TTL/3.
func (l *Leases) renewOnce() {
	ctx, cancel := context.WithTimeout(l.ctx, l.cfg.TTL/3)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		l.mu.Lock()
		rev := l.myRev
		l.mu.Unlock()
		v, _ := json.Marshal(replicaValue{Scope: l.cfg.Scope, Since: time.Now().UTC()})
		rev, err := l.kv.Update(ctx, l.replicaKey(), v, rev)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			_ = l.register(ctx) // it lapsed (an outage): register again
			return
		}
		if err == nil {
			l.mu.Lock()
			l.myRev = rev
			l.mu.Unlock()
		}
	})
	l.mu.Lock()
	leases := make([]*Lease, 0, len(l.held))
	for _, s := range l.held {
		if s.err == nil {
			leases = append(leases, s)
		}
	}
	l.mu.Unlock()
	for _, s := range leases {
		wg.Go(func() { l.renew(ctx, s) })
	}
	wg.Wait()
}

// expire loses every lease whose last acknowledged renewal was sent TTL
// less a fifth ago: the server may expire it a fifth of the TTL later at
// the soonest, so the lane has stopped before another replica can take it.
func (l *Leases) expire() {
	now := l.clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.held {
		if s.err == nil && now.Sub(s.lastOK) >= l.cfg.TTL-l.cfg.TTL/5 {
			l.log.Warn("lane lease lost: no renewal acknowledged in time; the lane stops reading", "lane", s.lane,
				"since_last_renewal", now.Sub(s.lastOK).Round(time.Millisecond).String())
			l.loseLocked(s, ErrLeaseUnproven)
		}
	}
}

// renew writes one lease with its safe mark.
func (l *Leases) renew(ctx context.Context, s *Lease) {
	l.mu.Lock()
	rev := s.rev
	l.mu.Unlock()
	v, _ := json.Marshal(leaseValue{Replica: l.cfg.Replica, Safe: s.safe().UTC()})
	sent := l.clock()
	rev, err := l.kv.Update(ctx, s.key, v, rev)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err == nil:
		if s.err == nil {
			s.rev, s.lastOK = rev, sent
		}
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		l.log.Warn("lane lease lost: another replica holds it, or it expired; the lane stops reading", "lane", s.lane, "err", err)
		l.loseLocked(s, ErrLeaseTaken)
	}
}

// rebalance hands one lane over when the replica holds more than its
// share, or two more than another replica while no lane is free. A lane
// held for less than a round is not handed over.
func (l *Leases) rebalance() {
	l.mu.Lock()
	defer l.mu.Unlock()
	share, fewest := l.shareLocked()
	held := 0
	for _, s := range l.held {
		if s.err == nil {
			held++
		}
	}
	free := l.lanes - len(l.holders)
	if held <= share && (free > 0 || fewest < 0 || held-fewest < 2) {
		return
	}
	var candidates []*Lease
	for _, s := range l.held {
		if s.err == nil && l.clock().Sub(s.taken) >= l.cfg.TTL/3 {
			candidates = append(candidates, s)
		}
	}
	if len(candidates) == 0 {
		return
	}
	s := slices.MaxFunc(candidates, func(a, b *Lease) int { return a.lane - b.lane })
	l.log.Info("lane lease handed over: this replica holds more than its share", "lane", s.lane, "held", held, "share", share)
	l.loseLocked(s, ErrHandover)
}

// Held reports the lanes this replica holds.
func (l *Leases) Held() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int
	for lane, s := range l.held {
		if s.err == nil {
			out = append(out, lane)
		}
	}
	slices.Sort(out)
	return out
}

// Replicas counts the replicas of this scope the watch shows.
func (l *Leases) Replicas() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, scope := range l.scopeOf {
		if scope == l.cfg.Scope {
			n++
		}
	}
	return n
}

// Close releases every lease (their lanes must have stopped), removes the
// replica's key and stops the watch and the renewals.
func (l *Leases) Close() {
	l.mu.Lock()
	leases := make([]*Lease, 0, len(l.held))
	for _, s := range l.held {
		leases = append(leases, s)
	}
	l.mu.Unlock()
	for _, s := range leases {
		s.Release()
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.TTL/3)
	_ = l.kv.Delete(ctx, l.replicaKey())
	cancel()
	l.cancel()
	l.wg.Wait()
}
