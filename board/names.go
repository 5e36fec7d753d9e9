package board

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// ErrNoName is what a Namer's error wraps when asking again soon will not
// help: the client lacks the permission, or the queue (user) does not
// exist.
var ErrNoName = errors.New("no name")

// names caches the names of one kind of id (queues, users) from a Namer. An id is looked up the first
// time it is shown (the page shows the id meanwhile), by the one goroutine
// that runs run (Board.Run starts it and waits for it); a denied or
// unknown queue is asked again after an hour, another failure after a
// minute. One lookup runs at a time; none outlives run's context.
type names struct {
	src  func(ctx context.Context, id string) (string, error) // nil: ids are shown
	what string                                               // "queue", "user": for the log
	none string                                               // shown for no id
	hint string                                               // what a denied lookup lacks
	log  *slog.Logger
	wake chan struct{} // signalled when an id is queued

	mu      sync.Mutex
	known   map[string]entry
	pending []string
	looking bool // run is asking for an id
	warned  bool
}

type entry struct {
	name  string    // "" while unknown: the id is shown
	retry time.Time // ask again after this (zero: never)
}

const (
	retryDenied = time.Hour
	retryFailed = time.Minute
	lookupLimit = 5 * time.Second
	maxNames    = 10000
)

func newNames(src func(ctx context.Context, id string) (string, error), what, none, hint string, log *slog.Logger) *names {
	return &names{src: src, what: what, none: none, hint: hint, log: log, known: map[string]entry{}, wake: make(chan struct{}, 1)}
}

// name returns the id's name if known, else the id (none for no id); it
// starts a lookup of an id not known yet.
func (n *names) name(id string) string {
	if id == "" {
		return n.none
	}
	if n.src == nil {
		return id
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	e, ok := n.known[id]
	if (!ok || (!e.retry.IsZero() && time.Now().After(e.retry))) && len(n.known) < maxNames {
		n.known[id] = entry{name: e.name} // not asked again until this lookup ends
		n.pending = append(n.pending, id)
		select {
		case n.wake <- struct{}{}:
		default:
		}
	}
	if e.name == "" {
		return id
	}
	return e.name
}

// run asks for the queued ids, one at a time, until ctx ends.
func (n *names) run(ctx context.Context) {
	if n.src == nil {
		return
	}
	for {
		select {
		case <-n.wake:
		case <-ctx.Done():
			return
		}
		for n.lookup(ctx) {
		}
	}
}

// idle reports whether no id waits and no lookup runs.
func (n *names) idle() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.pending) == 0 && !n.looking
}

// lookup asks for the first pending id; false when none was pending or
// ctx ended.
func (n *names) lookup(ctx context.Context) bool {
	n.mu.Lock()
	if len(n.pending) == 0 || ctx.Err() != nil {
		n.mu.Unlock()
		return false
	}
	id := n.pending[0]
	n.pending = n.pending[1:]
	n.looking = true
	n.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, lookupLimit)
	name, err := n.src(ctx, id)
	cancel()
	e := entry{name: name}
	switch {
	case err == nil && name != "":
	case err == nil || errors.Is(err, ErrNoName):
		e.retry = time.Now().Add(retryDenied)
	default:
		e.retry = time.Now().Add(retryFailed)
	}
	n.mu.Lock()
	if err != nil && !n.warned {
		n.warned = true
		n.log.Warn("board: a "+n.what+" name is unavailable; showing the id (403: the client lacks "+n.hint+")", n.what+"_id", id, "err", err)
	}
	n.known[id] = e
	n.looking = false
	n.mu.Unlock()
	return true
}
