// Package ratelimit is a token bucket: the pace one Genesys OAuth client's
// REST requests keep (about 300 a minute per client), so that the bridge
// waits before a request rather than after a 429.
//
// What it does: Wait takes one token, waiting (up to the context) until
// one has accumulated; tokens accrue at the configured rate up to a burst.
// What it does not: it knows nothing of HTTP; a 429 that still comes (the
// same client used elsewhere) is the caller's to honour (Retry-After).
// Invariants: over any span T, at most burst + rate*T waits return; a
// waiter whose context ends takes no token.
package ratelimit
