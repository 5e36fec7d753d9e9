// Package consume reads what genesys-bridge publishes: typed transitions,
// completed interactions' timings and agents' transitions from JetStream,
// through Go iterators (Transitions, TimingsOf, AgentTransitions).
//
//	for t, err := range consume.Transitions(ctx, js, consume.Config{Channels: []string{"voice"}, Start: consume.All}) {
//		if err != nil { ... }
//		fmt.Println(t.InteractionID, t.FromStatus, "->", t.ToStatus, t.QueueID)
//	}
//
// What it does: turns a filter (channel types, statuses, one interaction;
// for agents one agent and routing statuses) into the consumer's filter
// subjects, so the server sends only what was
// asked for; filters by queue on the client (the queue is in the payload,
// not the subject); starts where asked (new messages only, a time, or
// everything retained); runs an ordered consumer (no state on the server,
// stream order, nothing to acknowledge) or a durable one (resumes after
// the last message acknowledged, shared by readers with the same name,
// each message acknowledged once the loop body that received it returns).
// The nats.go client reconnects, and the ordered consumer re-creates
// itself after a gap, so a loop outlives server restarts.
//
// What it does not: it imports nothing of the bridge but describes its
// published payloads (README "Consuming the stream"); it never publishes
// and never changes the stream. Delivery is at least once for a durable
// consumer (a reader that dies mid-body gets the message again) and
// duplicates are possible across the stream's duplicate window: use the
// transition's ID to deduplicate where that matters.
//
// Invariants: an ordered consumer yields an interaction's (or an agent's)
// transitions in the order they happened (the bridge publishes them one at a time, each
// after the previous was acknowledged); so does a durable one, except for
// messages delivered again (a reader stopped or died before handling
// them), which may come after later ones: compare OccurredAt, or FromStatus
// with the last status seen. A payload that cannot be read is yielded as
// an error and skipped, never silently dropped.
package consume
