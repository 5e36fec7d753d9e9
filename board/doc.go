// Package board is the live board: a web page, served by the bridge when
// BOARD_ENABLED is set, that shows per queue and channel the interactions
// waiting now (and the longest wait), ringing, connected, held and in
// wrap-up; over the last Window (15 minutes): offered, answered, abandoned,
// the service level and the average wait and handle time; and a feed of
// the latest transitions.
//
// What it does: it reads the stream with the consume package (the
// transitions and the timings), from Lookback ago at start and then as
// they come, so it is right after a page reload, after a restart, and with
// any number of bridge replicas (they publish one stream). Queue names come
// from a Namer (the routing API), looked up in the background and cached;
// ids are shown while a name is unknown or the permission is missing.
//
// Definitions: offered counts entries into a queue (a ring that was not
// answered and went back to the same wait is not a new offer); answered
// counts answers after a wait seen in the window's transitions, with the
// wait from the queue entry to the answer; abandoned counts completions
// never answered (the timings); service level is the share of answered and
// abandoned that were answered within ServiceLevel; handle time is talk,
// hold and wrap-up of interactions completed after an answer.
//
// What it does not: it keeps nothing of its own (a restart reads the
// lookback again); an interaction with no transition within Lookback is
// not shown as open. Times are Genesys's (occurredAt), the window's end is
// this host's clock.
//
// Invariants: Transition and Timings may be called in any interleaving
// (two readers feed it); Snapshot never waits for a name lookup.
package board
