package board

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// ErrNoName is what a Namer's error wraps when asking again soon will not
// help: the client lacks the permission, or the queue does not exist.
var ErrNoName = errors.New("no queue name")

// names caches queue names from a Namer. A lookup runs in the background
// the first time an id is shown (the page shows the id meanwhile); a
// denied or unknown queue is asked again after an hour, another failure
// after a minute. At most one lookup runs at a time.
type names struct {
	src Namer
	log *slog.Logger

	mu      sync.Mutex
	known   map[string]entry
	pending []string
	running bool
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

func newNames(src Namer, log *slog.Logger) *names {
	return &names{src: src, log: log, known: map[string]entry{}}
}

// name returns the queue's name if known, else its id ("(no queue)" for
// none); it starts a lookup of an id not known yet.
func (n *names) name(id string) string {
	if id == "" {
		return "(no queue)"
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
		if !n.running {
			n.running = true
			go n.lookups()
		}
	}
	if e.name == "" {
		return id
	}
	return e.name
}

// lookups asks for the pending ids one at a time.
func (n *names) lookups() {
	for {
		n.mu.Lock()
		if len(n.pending) == 0 {
			n.running = false
			n.mu.Unlock()
			return
		}
		id := n.pending[0]
		n.pending = n.pending[1:]
		n.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), lookupLimit)
		name, err := n.src.QueueName(ctx, id)
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
			n.log.Warn("board: a queue name is unavailable; showing the id (403: the client lacks routing:queue:view)", "queue_id", id, "err", err)
		}
		n.known[id] = e
		n.mu.Unlock()
	}
}
