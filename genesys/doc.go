// Package genesys is the Genesys Cloud side of the bridge: OAuth client
// credentials, the REST calls the bridge needs, the Notification Service
// socket, and the decoding of its frames into bridge.Events.
//
// # What it does
//   - Client: tokens from https://login.<domain>/oauth/token
//     (x/oauth2/clientcredentials), cached and replaced RefreshAhead before
//     expiry. REST calls retry 429 after Retry-After, 5xx (not 501) with
//     exponential backoff and jitter, and a 401 once with a fresh token.
//     Every failure is an *APIError that keeps the HTTP status, the Genesys
//     error code and the correlation id. invalid_client is ErrBadCredentials.
//   - Stream: splits its topics over channels of at most 1,000 topics
//     (lanes, at most 19 so one channel stays free), subscribes with
//     ignoreErrors=true (a rejected topic is logged, the rest carry on),
//     dials connectUri and reads frames. A watchdog pings after one quiet
//     heartbeat interval and kills the socket after two; time the reader
//     spends blocked on a slow consumer does not count. Before the token is
//     due for rotation, before the channel expires, and on socket_closing, a
//     lane is replaced make-before-break (one lane at a time). A socket that
//     dies otherwise (drop, silence, {"result":"404"}, no_longer_subscribed,
//     token_revoked) is reconnected with backoff and its gap back-filled:
//     analytics details (history, holds included) and GET conversation for
//     the interactions believed open, delivered before the new socket's
//     frames (at most BackfillHold), then the rest of the gap once analytics
//     covers it. Frames over MaxFrameSize are drained and rejected without
//     closing the socket.
//   - InteractionStream: the tutorial's dialect (see its doc).
//   - Decoding: DecodeNotification classifies frames; Derive turns a
//     conversation snapshot into an Event with the status rules documented
//     on Derive, and the statuses the snapshot's timestamps prove;
//     DeriveDetails does the same from analytics segments; DecodeInteraction
//     validates the tutorial's flat events.
//
// # Invariants
//   - Bad input never panics and never ends the stream: it becomes a
//     *bridge.RejectError that Stream.Read returns before carrying on.
//   - Secrets never reach logs or errors: Secret prints "[redacted]", tokens
//     travel only in headers, URLs in errors lose user info and query.
//   - Unknown purposes and communication states are never an error.
//
// # Not here
// State across restarts (the pipeline and publisher own delivery), and
// back-fill for the interactions dialect, which defines none.
package genesys
