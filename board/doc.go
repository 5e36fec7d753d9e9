// Package board is the live board: a web page, served by the bridge when
// BOARD_ENABLED is set, that shows per queue and channel the interactions
// waiting now (and the longest wait), ringing, connected, held and in
// wrap-up; over the last Window (15 minutes): offered, answered, abandoned,
// the service level and the average wait and handle time; a chart of the
// waiting and the service level over the window (Sample, Series); the
// agents per queue by routing status now and each agent with its time in
// status; and a feed of the latest transitions. Guard serves it to the
// holders of a bearer token or basic credentials (Access), or with none
// configured to loopback clients only.
//
// What it does: it reads the stream with the consume package (the
// transitions, the timings and the agents' transitions), from Lookback ago at start and then as
// they come, so it is right after a page reload, after a restart, and with
// any number of bridge replicas (they publish one stream). Queue and agent
// names come from a Namer (the routing and users APIs), looked up in the
// background and cached; ids are shown while a name is unknown or the
// permission is missing. An agent off queue counts on the queues it was
// last active on.
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
// lookback again; the chart starts empty); an interaction or an agent with
// no transition within Lookback is not shown. Times are Genesys's (occurredAt), the window's end is
// this host's clock.
//
// Invariants: Transition, Timings and AgentTransition may be called in any
// interleaving (three readers feed it); Snapshot never waits for a name
// lookup; Guard never echoes a credential.
package board
