package bridge

import (
	"context"
	"fmt"
)

// Source yields events. Read blocks until an event is available, ctx ends or
// the source fails. A *RejectError from Read means one input was rejected
// and reading may go on; any other error ends the pipeline. The pipeline
// calls Read from one goroutine.
type Source interface {
	Read(ctx context.Context) (Event, error)
}

// Publisher sends transitions to the durable stream. Publish hands t over
// and returns; the outcome comes once, through r.Complete, whenever the
// stream acknowledged t or the publisher gave up (retrying transient
// failures is its job; a publisher that cannot send, closed say, completes
// r with the error). r.Complete may run on any goroutine, even before
// Publish returns: the caller handles outcomes only from what Complete
// hands it, one path for all of them. The publisher must not touch t
// after completing r.
type Publisher interface {
	Publish(ctx context.Context, t *Transition, r Receipt)
}

// Receipt is told the outcome of one publish, once: duplicate means the
// stream already held the message (a success); version is the persisted
// version the message now has (its stream sequence), 0 if unknown.
type Receipt interface {
	Complete(duplicate bool, version uint64, err error)
}

// ConflictError means another writer persisted a newer state for the
// interaction than the one the transition expected: the transition is not
// published, and State is what the stream holds now.
type ConflictError struct {
	InteractionID string
	State         State
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("interaction %s: another writer is ahead (stream holds %s at version %d)", e.InteractionID, e.State.Status, e.State.Version)
}

// StateStore loads the persisted state of an interaction the pipeline has
// not seen since it started.
type StateStore interface {
	Load(ctx context.Context, interactionID string) (State, bool, error)
}
