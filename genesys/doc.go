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
//   - Stream: creates a channel, subscribes its topics with
//     ignoreErrors=true (a rejected topic is logged, the rest carry on),
//     dials connectUri and reads frames. A watchdog pings after one quiet
//     heartbeat interval and kills the socket after two; time the reader
//     spends blocked on a slow consumer does not count. A dropped socket,
//     socket_closing, a {"result":"404"} frame, no_longer_subscribed or
//     token_revoked lead to a new channel and socket (socket_closing at
//     once, failures with backoff). Frames over MaxFrameSize are drained
//     and rejected without closing the socket.
//   - Decoding: DecodeNotification classifies frames; Derive turns a
//     conversation snapshot into an Event with the status rules documented
//     on Derive, and the statuses the snapshot's timestamps prove.
//
// # Invariants
//   - Bad input never panics and never ends the stream: it becomes a
//     *bridge.RejectError that Stream.Read returns before carrying on.
//   - Secrets never reach logs or errors: Secret prints "[redacted]", tokens
//     travel only in headers, URLs in errors lose user info and query.
//   - Unknown purposes and communication states are never an error.
//
// # Not here (yet)
// Token rotation make-before-break, channel renewal before 24 h, more than
// 1,000 topics, back-fill over REST after a gap, and the interactions-stream
// dialect of the original tutorial.
package genesys
