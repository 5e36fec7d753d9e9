package handoff

import (
	"context"
	"sync"
)

// Queue is a bounded queue of T. The zero value is not usable: see New.
type Queue[T any] struct {
	mu     sync.Mutex
	items  []T
	limit  int
	closed bool
	ready  chan struct{} // a token once items became non-empty, or at Close
	space  chan struct{} // a token once the queue fell below limit
}

// New returns a queue that holds at most limit items (at least 1).
func New[T any](limit int) *Queue[T] {
	return &Queue[T]{limit: max(1, limit), ready: make(chan struct{}, 1), space: make(chan struct{}, 1)}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// TryPush appends v unless the queue is full or closed, and reports
// whether it did.
func (q *Queue[T]) TryPush(v T) bool {
	q.mu.Lock()
	if q.closed || len(q.items) >= q.limit {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, v)
	first := len(q.items) == 1
	q.mu.Unlock()
	if first {
		signal(q.ready)
	}
	return true
}

// Push appends v, waiting while the queue is full. It returns false if
// ctx ended first or the queue is closed.
func (q *Queue[T]) Push(ctx context.Context, v T) bool {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return false
		}
		if n := len(q.items); n < q.limit {
			q.items = append(q.items, v)
			q.mu.Unlock()
			if n == 0 {
				signal(q.ready)
			}
			if n+1 < q.limit {
				signal(q.space) // another producer may be waiting
			}
			return true
		}
		q.mu.Unlock()
		select {
		case <-q.space:
		case <-ctx.Done():
			return false
		}
	}
}

// Take returns every item queued, oldest first, appended to buf[:0] (the
// caller's previous batch is handed back for reuse), and whether the queue
// is closed and now empty. With nothing queued, it returns an empty batch
// at once: wait on Ready.
func (q *Queue[T]) Take(buf []T) (batch []T, ended bool) {
	clear(buf)
	q.mu.Lock()
	full := len(q.items) >= q.limit
	batch, q.items = q.items, buf[:0]
	ended = q.closed && len(batch) == 0
	q.mu.Unlock()
	if full {
		signal(q.space)
	}
	return batch, ended
}

// Ready has a token when items may have been queued since the last Take
// that returned none, or when the queue was closed.
func (q *Queue[T]) Ready() <-chan struct{} { return q.ready }

// Close ends the queue: later pushes fail, and Take reports the end once
// what was queued has been taken. Only a producer closes it.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	signal(q.ready)
	signal(q.space)
}
