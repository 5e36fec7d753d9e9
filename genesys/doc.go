// Package genesys is the Genesys Cloud side of the bridge: OAuth client
// credentials, the REST calls the bridge needs, the Notification Service
// socket, and the decoding of its frames into bridge.Events.
//
// # Where things are
//   - client.go, token.go, apierror.go, secret.go: the REST client, its token
//     cache, its errors, the secret type; channels.go and rest.go: the
//     Notification Service calls and the conversation and analytics calls.
//   - internal/wsock: the socket layer both dialects use: the one socket
//     reader, the socket wrapper and its watchdog, the one reconnect loop,
//     the feed to the pipeline; socketconfig.go: the settings both
//     dialects share (SocketConfig).
//   - stream.go and lane.go: the Notification Service source, its lanes and
//     make-before-break rollovers; overlap.go: the skip of repeated frames
//     after a rollover; backfill.go: a gap's history; clients.go: the
//     lanes spread over several OAuth clients; leases.go: lanes read only
//     while this replica holds their lease (LaneLeases), taken over after an
//     inherited gap from the predecessor's safe mark; roster.go: agents
//     placed on lanes, through a roster shared by the replicas
//     (AgentRoster) when there is one.
//   - interactions/: the tutorial's dialect, a package of its own on the
//     same client and socket layer; internal/rfc3339: the timestamps.
//   - notification.go and conversation.go: frames and the conversation
//     model (with the one media table); conversation_decode.go: the
//     strict reader of frames, on internal/jsonscan, without
//     reflection (the envelope, conversation bodies, tutorial events; GET
//     responses still use encoding/json); rules.go: the status rules both
//     derivations share (roles, phases, signals, the one step builder);
//     derive.go: snapshots (live frames and GET); details.go: analytics
//     segments.
//
// # What it does
//   - Client: tokens from https://login.<domain>/oauth/token
//     (x/oauth2/clientcredentials), cached and replaced RefreshAhead before
//     expiry; one fetch at a time, off the lock, and a call that can use
//     the current token while it is still valid does not wait for it. REST
//     calls retry 429 after Retry-After, 5xx (not 501) with the bridge's
//     one policy (internal/retry), and a 401 once with a fresh token.
//     Every failure is an *APIError that keeps the HTTP status, the Genesys
//     error code and the correlation id. invalid_client is ErrBadCredentials.
//   - Stream: splits its topics over channels of at most 1,000 topics
//     (lanes), spread over its OAuth clients (lane i at home on client i
//     mod n, at most 19 a client so that one channel stays free; a client
//     whose login is refused hands its lanes to the others where they fit,
//     the same placement on every replica; clients.go), subscribes with
//     ignoreErrors=true (a rejected topic is logged, the rest carry on),
//     dials connectUri and reads frames. Each socket's reader only reads
//     and decodes, and sends the frames in order to its lane's goroutine,
//     which owns the connection's state (what is delivered, held, skipped)
//     and is the one that hands frames to the pipeline; no lock is shared.
//     A watchdog pings after one quiet
//     heartbeat interval and kills the socket after two; time the reader
//     spends blocked on a slow consumer does not count. Before the token is
//     due for rotation, before the channel expires, and on socket_closing, a
//     lane is replaced make-before-break (one lane at a time): the new
//     socket's frames are read but held while the old socket is read on
//     until it delivers a frame the new one also holds (sent after the new
//     subscription, it comes after everything sent to the old socket
//     alone; a pong proves nothing, Genesys promising no order between
//     pongs and notifications), or, without traffic, until it answered a
//     ping and then delivered nothing for a second; then the old socket is
//     closed and the new one delivers, skipping the run of frames it
//     repeats from the old one. An old socket that answers nothing in time
//     makes the switch a gap (back-filled, as below). A socket that
//     dies otherwise (drop, silence, {"result":"404"}, no_longer_subscribed,
//     token_revoked) is reconnected with backoff, and its gap (from the last
//     frame, less BackfillSlack, to the new socket) is announced to the
//     pipeline (bridge.KindGapOpened) before any frame of the new socket;
//     BackfillLag after the gap (when analytics covers it) the analytics
//     details of the conversations active in it on the lane's queues and
//     users, and of the interactions believed open (by id, up to seven days
//     back), are delivered as the gap's history, then the gap is closed.
//     The pipeline holds back what may have changed in the gap until then.
//     If analytics fails, the open interactions' state now is fetched with
//     GET and the gap is closed incomplete. A start after an earlier run
//     (ResumeFrom) is such a gap. Frames over MaxFrameSize are drained and
//     rejected without closing the socket; a {"result":...} frame other
//     than 404 is rejected (counted), the socket kept.
//   - The tutorial's dialect is package genesys/interactions.
//   - Decoding: DecodeNotification classifies frames; Derive turns a
//     conversation snapshot (a live frame's, or GET's) into an Event with the
//     status rules documented on Derive, and the statuses the snapshot's
//     timestamps prove; DeriveDetails does the same from analytics segments.
//     A conversation's body is decoded in the frame's own pass, only the
//     fields the rules read; the decoded conversation and Derive's working
//     set are reused from frame to frame (pools), and an Event shares no
//     memory with them (only strings, which are immutable): a frame costs
//     about ten allocations (docs/benchmarks.md, issue 26).
//
// # One history from three sources
//
// A live frame, GET and analytics carry different fields (a live frame has
// no participant startTime and no startAlertingTime; analytics has every
// segment, holds included, in a clock a few milliseconds off). Derive and
// DeriveDetails reach the same sequence of statuses from each: an agent's
// alerting without a timestamp is placed just before its connect or
// disconnect, or at the snapshot's latest timestamp while it still rings;
// after-call work ends with whichever of endAcwTime, afterCallWork or a
// wrap-up code the source has. Transition ids depend on that sequence only
// (package bridge), so one transition has one id whichever source
// revealed it.
//
// # Rules that hold on real data
//
// Conversations recorded from real organisations (testdata/real at the
// repository's root, with their provenance and the history a person reads
// from each; TestRealCorpus) show shapes no schema does. Whichever source
// reveals a history:
//   - An interaction completes when the conversation is over for everyone,
//     after-call work included: at conversationEnd where analytics has it;
//     otherwise once every participant ended and no wrap-up is pending (and,
//     in analytics, every agent who talked has a wrap-up segment). The
//     pause between an agent's segment and its wrap-up belongs to the
//     wrap-up. Completed is terminal (package bridge).
//   - Evidence only accumulates: a communication that carries
//     disconnectedTime, or a participant with endTime, has ended, whatever
//     its state says; a segment never starts before the one it follows.
//   - Conversations without a customer pass through IVR, queue and ringing
//     like any other: the user who placed an internal call into an IVR or
//     a queue is the caller, and a placing user's dialing is not ringing.
//   - Every status a segment shows is published, however short: a
//     zero-length segment (a failed offer with an errorCode, a skipped
//     wrap-up) lasts a nanosecond, in the segments' order; a wrap-up coded
//     before the disconnect is shown just after it.
//   - A blind transfer moves the interaction to the next queue: queued wins
//     over the transferring agent's wrap-up that overlaps it.
//
// # Topics
//
// Only v2.routing.queues.{id}.conversations and v2.users.{id}.conversations
// are decoded: Topics refuses the media-suffixed and summaries forms, whose
// bodies have other schemas.
//
// # Invariants
//   - Bad input never panics and never ends the stream: it becomes a
//     *bridge.RejectError that Stream.Read returns before carrying on.
//   - A frame is accepted only as UTF-8 JSON throughout, with members
//     named exactly as Genesys spells them; the fuzz targets hold the
//     readers against encoding/json wherever the two mean to agree.
//   - A frame's bytes are valid only while it is handled (one buffer per
//     socket): whatever outlives it is copied.
//   - Secrets never reach logs or errors: Secret prints "[redacted]", tokens
//     travel only in headers, URLs in errors lose user info and query.
//   - Unknown purposes and communication states are never an error.
//
// # Not here
// State across restarts (the pipeline and publisher own delivery), and
// back-fill for the interactions dialect, which defines none. It never
// imports the JetStream side (publish), NATS, the daemon or the simulator
// (TestGenesysImports); JSON is read by internal/jsonscan.
package genesys
