// Package publish is the JetStream side of the bridge: it provisions the
// stream, maps transitions to subjects, publishes them asynchronously with
// a deterministic Nats-Msg-Id, reads states back (the state store) and
// stores dead letters. It owns the publishes in flight; it never imports
// the Genesys side (genesys), the server (internal/embedded starts one) or
// anything of the daemon. TestPublishImports holds it to that.
//
// # Subjects
// <prefix>.<channelType>.<toStatus>.<idToken>. Channel types and statuses
// are closed sets of safe tokens; IDToken keeps a Genesys id (a UUID) as is
// and hashes anything else to "_"+32 hex digits, carrying the raw id in the
// Genesys-Interaction-Id header, so no input can add a token or a wildcard.
//
// # Publishing
// Publish sends each message on the core connection with Nats-Msg-Id =
// t.ID and a reply subject of its own under one wildcard inbox, and
// returns; the stream's acknowledgement comes back to one subscription
// (acks.go), which settles the publish where it reads it: nothing waits per
// message. This is the client's PublishMsgAsync without what it costs per
// message that the bridge does not need: a timer (one sweep fails what is
// older than AckTimeout; the client's default is no timeout, which would
// wedge on a lost ack), a second map, and encoding/json for every
// acknowledgement (the server's usual form is read by hand, anything else
// by encoding/json). The publishes in flight have one owner, the
// goroutine in own.go: Publish, the acknowledgement subscription, an ended
// context and Close send it messages (a queue it empties a batch at a
// time); no lock guards the flight. At most MaxPending publishes are in
// flight; a sender waits for room (a token of a channel the owner gives
// back). When the connection drops, what is in flight fails at once. A failure that may pass (timeout, disconnect, no responders, no
// leader) goes to one retry goroutine, which publishes it again with the
// same id, at once and then with backoff, until the caller's context ends
// (when it ends, what is still in flight under it fails at once). A
// duplicate acknowledgement is a success. A publish's message, headers and
// buffers are pooled and reused once its receipt is completed. Publish
// returns nothing: every outcome, a publisher closed included, comes
// through the receipt.
//
// # Dead letters
// DeadLetters stores rejected frames in a stream of their own through the
// same publisher (sending, acknowledgements, retries), each with a
// deterministic id (DeadLetterID: its reason, topic and body), so a frame
// Genesys repeats is stored once. A dead letter never waits for room: at
// MaxPending it fails at once (ErrFull), counted.
//
// # State and compare-and-set
// Each message carries the interaction's state after the transition
// (Genesys-Bridge-State) and is published with
// Nats-Expected-Last-Subject-Sequence on <prefix>.*.*.<idToken>: the server
// stores it only if the interaction's last message is the one the writer
// built on. Load reads that last message back (the stream is the state
// store; its sequence is the state's version). A failed check is resolved
// by reading the last message: our own message id means an earlier attempt
// was stored (a duplicate, success); another means another writer is ahead
// (a *bridge.ConflictError with its state). The stream's own duplicate
// window still absorbs retries; the state check makes a restart safe however
// long after the window.
//
// # Lane leases
// Leases (lease.go) shares the Genesys lanes among replicas through a
// key-value bucket with a TTL on the same JetStream: each replica registers
// itself, takes free lanes up to its fair share, renews them every TTL/3
// with a compare-and-set, loses a lease it cannot prove in time (before the
// server could expire it), hands lanes over when it holds more than its
// share, and carries each lane's safe mark so a successor knows where to
// back-fill from (a release's mark is kept in a bucket without TTL).
// Roster (roster.go) shares the agents followed and their lanes: the first
// placement of an agent wins, every replica watches them all. kvWatch is
// the one watch of a bucket both use (watched again after an outage).
//
// # Invariants
//   - A Receipt is completed exactly once: acknowledged, or failed with the
//     reason (a permanent error, the caller's context ended, ErrClosed,
//     ErrFull for a dead letter).
//   - An acknowledgement settles only the publish its reply token names,
//     and only while that publish is in flight: a late one (after the
//     sweep or a disconnect failed it) is ignored, and the retry settles it.
//   - The stream's owned settings (subjects, duplicates, max age, replicas)
//     are reconciled at start; every other setting is left alone.
//
// # Not here
// Per-interaction ordering of sends (the pipeline keeps one transition per
// interaction in flight).
package publish
