// Package handoff is the hand-off between goroutines on the bridge's hot
// path: a bounded queue that producers append to and one consumer empties
// a batch at a time.
//
// A channel costs a synchronisation per item, and wakes the consumer for
// each one it waits for; here an item costs a short critical section, and
// the consumer is woken only when the queue goes from empty to not empty.
// Under load the consumer takes everything queued meanwhile in one step.
//
// Invariants: items are taken in the order they were pushed (per
// producer; in the order of the critical sections across producers);
// Push never drops an item, it waits while the queue holds its limit
// (backpressure) or returns false when its context ends first; after
// Close, Take returns what was queued and then reports the end. It
// imports only the standard library.
package handoff
