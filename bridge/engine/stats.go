package engine

import "github.com/genesys-bridge/genesys-bridge/bridge"

import "sync/atomic"

// Stats are the pipeline's counters. All fields are safe to read at any time.
type Stats struct {
	Events      atomic.Uint64                      // valid events read
	Rejected    [len(bridge.Reasons)]atomic.Uint64 // by reason, in the order of Reasons
	Stale       atomic.Uint64
	Unchanged   atomic.Uint64
	Late        atomic.Uint64
	Transitions atomic.Uint64 // derived, before the filter
	Filtered    atomic.Uint64 // derived but not selected by the filter
	Published   atomic.Uint64 // acknowledged by the stream (duplicates included)
	Duplicates  atomic.Uint64 // acknowledged as already stored
	Failed      atomic.Uint64 // the publisher gave up
	// Timings of completed interactions acknowledged, and given up on.
	Timings       atomic.Uint64
	TimingsFailed atomic.Uint64
	Released      atomic.Uint64 // interactions released from memory
	Restored      atomic.Uint64 // interactions whose state was loaded from the store (preloaded or one by one)
	Loads         atomic.Uint64 // state loads of one interaction each (a request each)
	Conflicts     atomic.Uint64 // compare-and-set failures: another writer was ahead
	Open          atomic.Int64  // interactions held in memory
	Outstanding   atomic.Int64  // transitions not yet acknowledged
	// Gaps in the source and the interactions waiting for their history.
	Gaps       atomic.Uint64 // gaps opened
	GapsOpen   atomic.Int64  // gaps whose history is still awaited
	Waiting    atomic.Int64  // interactions waiting for a gap's history
	Held       atomic.Int64  // observations held back meanwhile
	HeldTotal  atomic.Uint64 // observations ever held back
	Incomplete atomic.Uint64 // transitions published without a gap's complete history
}

// RejectedBy returns the rejected count for one reason.
func (s *Stats) RejectedBy(r bridge.Reason) uint64 { return s.Rejected[r.Index()].Load() }

// RejectedTotal returns the rejected count over every reason.
func (s *Stats) RejectedTotal() uint64 {
	var n uint64
	for i := range s.Rejected {
		n += s.Rejected[i].Load()
	}
	return n
}
