// Package retry is the bridge's one retry policy: exponential backoff with
// full jitter, bounded by attempts, a deadline and the caller's context,
// with the caller naming which errors are permanent.
//
// Every loop that retries goes through it: REST calls (Retry-After
// honoured), the socket supervisor of both dialects and the opening of a
// replacement channel, back-fill queries (bounded by the gap's deadline),
// publishing (first retry at once), provisioning the stream and loading an
// interaction's state. A reader learns one rule: the n-th wait lies
// between half and all of min(Max, Base*2^(n-1)); a permanent error, the
// context ending, the attempts or the deadline running out stop at once.
//
// It does not decide what is transient: the caller wraps what retrying
// cannot fix with Permanent. It imports only the standard library.
package retry
