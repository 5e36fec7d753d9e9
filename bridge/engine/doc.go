// Package engine runs the domain (package bridge): the Pipeline reads
// events from a Source, routes each to the shard that owns its interaction
// (by hash of the id), where the shard's Machine turns it into transitions;
// it holds back the events of interactions that may have changed in a gap
// until the gap's history arrives; it hands each interaction's transitions
// to the Publisher one at a time, and takes the outcomes back through its
// acknowledgement queue (the Receipt is the pending transition itself).
// Stats counts what happened. The domain's rules are bridge's doc; this
// package is how they run.
//
// # Invariants
//   - One goroutine, a shard, owns an interaction's state, its queue of
//     transitions and its gap hold; the others talk to it through its
//     input queue (events), its acknowledgement queue (outcomes) and its
//     query channel.
//   - At most one transition per interaction is in flight to the Publisher;
//     the next is sent only after the previous one's outcome came back.
//   - Reading pauses once Config.MaxOutstanding transitions are outstanding:
//     a slow stream slows the reader instead of filling memory.
//
// # Not here
// The rules of statuses and identity (package bridge), decoding (genesys),
// NATS (publish), wiring (cmd). It never imports an adapter or a network
// library (TestEngineImports).
package engine
