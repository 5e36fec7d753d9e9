// Package wsock is the socket layer both Genesys dialects share: one
// WebSocket with serialised writes and a watchdog (ping when quiet, kill
// when silent, never while the reader waits on a busy consumer), the one
// read loop (ReadSocket: frames over the size limit rejected without
// closing the socket), the Feed that hands decoded events to the pipeline,
// and the one reconnect supervisor (Supervise).
//
// It knows nothing of either dialect's frames, of OAuth or of REST; it
// never imports package genesys (which imports it) or anything of NATS.
package wsock
