package bridge

import (
	"context"
	"fmt"
	"sync/atomic"
)

// Source yields events. Read blocks until an event is available, ctx ends or
// the source fails. A *RejectError from Read means one input was rejected
// and reading may go on; any other error ends the pipeline. The pipeline
// calls Read from one goroutine.
type Source interface {
	Read(ctx context.Context) (Event, error)
}

// Publisher sends transitions to the durable stream. Publish starts sending
// t and completes r once the stream has acknowledged it or the publisher has
// given up (retrying transient failures is the publisher's job). An error
// from Publish itself means t was not sent; r is then not completed.
type Publisher interface {
	Publish(ctx context.Context, t *Transition, r *Receipt) error
}

// Receipt is the outcome of one publish.
type Receipt struct {
	done      chan struct{} // closed by Complete (NewReceipt's receipts)
	duplicate bool
	version   uint64
	err       error

	// The pipeline's own receipts have no channel: Complete hands the
	// pending transition back to its shard instead (acks), or, when it
	// runs inside Publish, leaves it to the shard to see on return.
	acks  *ackQueue
	p     *pending
	state atomic.Uint32 // receiptPublishing, receiptWaiting, receiptCompleted
}

const (
	receiptPublishing = iota // inside Publish
	receiptWaiting           // Publish returned; Complete hands back
	receiptCompleted         // completed inside Publish
)

// NewReceipt returns a Receipt that is not yet complete.
func NewReceipt() *Receipt { return &Receipt{done: make(chan struct{})} }

// Complete records the outcome. duplicate means the stream already held the
// message (a success); version is the persisted version the transition
// now has (its stream sequence), 0 if unknown. Complete must be called once.
func (r *Receipt) Complete(duplicate bool, version uint64, err error) {
	r.duplicate, r.version, r.err = duplicate, version, err
	switch {
	case r.acks == nil:
		close(r.done)
	case r.state.CompareAndSwap(receiptPublishing, receiptCompleted):
		// The shard sees it when Publish returns.
	default:
		r.acks.push(r.p)
	}
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

// Done is closed when the receipt is complete (receipts from NewReceipt).
func (r *Receipt) Done() <-chan struct{} { return r.done }

// Err is the final error, nil on success. Valid after Done.
func (r *Receipt) Err() error { return r.err }

// Duplicate reports whether the stream already held the message.
func (r *Receipt) Duplicate() bool { return r.duplicate }
