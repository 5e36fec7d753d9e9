// Package intern keeps one shared copy of each distinct string: ids that
// recur in every frame or every stored state (a few queues and agents)
// then cost one string, not one per use.
//
// A Table's strings never share memory with what they were made from, so
// a string cut from a large buffer (a frame, a NATS header block) does
// not keep that buffer alive. A Table is safe for concurrent use; a nil
// *Table copies every time.
//
// It does not evict by use: a bounded table simply starts over when full,
// which suits its users (a few hundred distinct ids at most in practice).
package intern
