// Package bridge is the domain of genesys-bridge: the normalised Event, its
// validation, the per-interaction state Machine that turns events into
// Transitions, their timings and their JSON, and the ports the engine
// needs from outside (ports.go: Source, Publisher, Receipt, StateStore).
// The engine that runs the Machine (shards, the gap hold, the
// acknowledgements) is package bridge/engine.
//
// It imports no network library and nothing of the engine or the adapters
// (only the standard library and the module's internal/handoff,
// internal/retry and internal/text, which import nothing else;
// TestImportsOnlyTheAllowList holds it to an explicit list). Dialects
// (package genesys) produce Events; sinks (package publish) implement
// Publisher.
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
// A repeated or unchanged observation yields no transition. Completed is
// terminal: once an interaction completed, nothing follows it (the
// conversation was over for everyone; a later frame whose state lags, or a
// history in another clock, adds nothing). A transition is never stamped
// before the one it follows.
//
// # Identity
//
// A transition's ID is TransitionID(interaction, seq, from, to), where seq
// is its position in the interaction's history (State.Seq, persisted with
// it). It depends on no timestamp and no counter in memory: the three
// Genesys sources carry different fields and clocks (a live frame has no
// alerting time, analytics segments are milliseconds off the live
// timestamps), but every source that reveals the same history reveals the
// same sequence of statuses, so retries, replays, overlapping sockets,
// back-fills and other replicas produce the same ids and JetStream's
// duplicate window keeps one copy. Two writers that derived different
// histories (only possible when a gap's history could not be had: such
// transitions are marked Incomplete) produce different ids.
//
// # Sources and their clocks
//
// A back-filled event (analytics, GET) is history: it is never stale, its
// steps apply only beyond what is applied (its current status only when
// timed after the state), and its timestamps count CrossSourceTolerance
// less, so that the same fact seen in two clocks is one fact.
//
// # Gaps
//
// A source that missed a span (a dead socket, a restart) sends a
// KindGapOpened marker before anything that follows the span, then the
// span's history of each interaction it concerns (HistoryOf), then
// KindGapClosed. Meanwhile the engine holds back the events of every
// interaction that may have changed in the gap (open when it began, or
// first seen after it with a start before its end); everything else flows.
// When its history arrives it is applied first, cut at the gap's end, then
// the held events in arrival order. An interaction whose history could not
// be fetched, or still missing at the gap's Deadline, is released anyway
// and its transitions are marked Incomplete (counted and logged).
//
// # Invariants
//   - One goroutine (a shard, chosen by hash of the interaction id) owns an
//     interaction's state; its events are applied in arrival order.
//   - An interaction's events are applied in arrival order, except that
//     those held for a gap wait for its history (see Gaps).
//   - At most one transition per interaction is in flight to the Publisher;
//     the next is sent only after the previous was acknowledged, so the
//     stream holds an interaction's transitions in order.
//   - A transition counts as published only after the stream acknowledged
//     it (a duplicate acknowledgement counts as success).
//   - State is bounded: a completed interaction is released after
//     MachineConfig.Grace and remembered only as a tombstone for
//     TombstoneTTL; an idle one is released after IdleTTL. With a
//     StateStore, forgetting loses nothing: a frame of an unknown
//     interaction timed before Machine.Forgotten (plus the clock skew)
//     loads its state from the store first, as after a restart.
//   - Rejected input (RejectError) is counted and logged, never fatal.
//
// # Not here
//
// Decoding Genesys payloads (package genesys), NATS (package publish),
// configuration and wiring (cmd).
//
// # State across restarts
//
// Every transition carries the interaction's State after it. A starting
// bridge preloads (Pipeline.Preload) the last State of every interaction
// the stream holds a transition of since a time, in one pass, so it knows
// which were open; a StateStore (package publish: the stream itself)
// returns the State of one interaction's last transition, with its
// Version, for an interaction met later that began before the preload, so
// a restarted bridge continues with the right fromStatus and applies
// nothing twice, however long it was down.
// Each transition is sent with the Version it builds on (ExpectVersion); a
// publisher that finds another writer ahead answers with a ConflictError,
// and the pipeline adopts that writer's State, drops the transitions it
// had derived from the older one and applies the last event again on top.
// An event applied right after a load or a conflict, like a back-filled
// one, may be older than the state (another writer saw newer frames), so
// without a newer timestamp its untimed status (hold, unhold) is ignored.
package bridge
