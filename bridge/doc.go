// Package bridge is the domain of genesys-bridge: the normalised Event, its
// validation, the per-interaction state Machine that turns events into
// Transitions, and the Pipeline that moves events from a Source to a
// Publisher.
//
// It imports no network library. Dialects (package genesys) produce Events;
// sinks (package publish) implement Publisher. The Pipeline pulls from the
// Source and waits on the Publisher, so a slow stream slows the reader
// instead of filling memory.
//
// # Status and order
//
// Genesys sends the whole conversation on every change and promises neither
// order nor uniqueness. An Event therefore carries every status its own
// timestamps prove (Steps), the status now (Status) and its Horizon, the
// latest forward-only timestamp in it. The Machine:
//   - drops an event whose Horizon is before the applied one (stale);
//   - emits a transition for each step timed after the last applied step
//     whose status differs, so a reordered or missing frame does not lose
//     the statuses a later frame proves (those are marked Reconstructed);
//   - applies the current Status last; hold and unhold carry no
//     forward-only timestamp and are applied in arrival order, except that
//     a held frame for a hold already seen to end is stale.
//
// A repeated or unchanged observation yields no transition.
//
// # Identity
//
// A transition's ID is TransitionID(interaction, from, to, anchor), where the
// anchor is the Genesys timestamp that proves it. It depends on the
// transition alone, never on a counter, so retries, replays, overlapping
// sockets and other replicas produce the same id and JetStream's duplicate
// window keeps one copy.
//
// # Invariants
//   - One goroutine (a shard, chosen by hash of the interaction id) owns an
//     interaction's state; its events are applied in arrival order.
//   - At most one transition per interaction is in flight to the Publisher;
//     the next is sent only after the previous was acknowledged, so the
//     stream holds an interaction's transitions in order.
//   - A transition counts as published only after the stream acknowledged
//     it (a duplicate acknowledgement counts as success).
//   - State is bounded: a completed interaction is released after
//     MachineConfig.Grace and remembered only as a tombstone for
//     TombstoneTTL; an idle one is released after IdleTTL.
//   - Rejected input (RejectError) is counted and logged, never fatal.
//
// # Not here
//
// Decoding Genesys payloads (package genesys), NATS (package publish),
// configuration and wiring (cmd).
//
// # State across restarts
//
// Every transition carries the interaction's State after it. A StateStore
// (package publish: the stream itself) returns the State of an
// interaction's last transition, with its Version; the pipeline loads it the
// first time it meets an interaction, so a restarted bridge continues with
// the right fromStatus and applies nothing twice, however long it was down.
// Each transition is sent with the Version it builds on (ExpectVersion); a
// publisher that finds another writer ahead answers with a ConflictError,
// and the pipeline adopts that writer's State, drops the transitions it
// had derived from the older one and applies the last event again on top.
// An event applied right after a load or a conflict, like a back-filled
// one, may be older than the state (another writer saw newer frames), so
// without a newer timestamp its untimed status (hold, unhold) is ignored.
package bridge
