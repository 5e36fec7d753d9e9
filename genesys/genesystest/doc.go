// Package genesystest is a Genesys Cloud simulator for tests, the demo and
// load runs: real HTTP and WebSocket on loopback.
//
// It serves POST /oauth/token (client credentials, Basic auth), POST
// /api/v2/notifications/channels, PUT/POST .../subscriptions (with
// ignoreErrors; topics of unknown queues or users are Rejected), HEAD of a
// channel, and the socket at connectUri: heartbeats every HeartbeatInterval,
// pong for {"message":"ping"}, one socket per channel (a second connection
// kicks the first).
//
// Generate writes realistic conversations (voice with IVR, chat, email,
// message, callback, video): queue, alerting, answer, hold, transfer back to
// a queue, no answer, wrap-up, hang-up, abandoned in queue or while ringing.
// Each snapshot is labelled with the status the simulator meant, so its
// ground truth (Truth) is independent of the bridge's derivation; its wire
// structs are its own, not package genesys's.
//
// Faults: DuplicateRate sends a frame twice; ReorderRate delays a frame past
// the next frame of its conversation when that later frame proves the
// delayed frame's status by a newer timestamp. Hold and unhold frames are
// never reordered: the Genesys snapshot has no timestamp that orders them,
// so no client could recover from that (see package bridge). DropSockets and
// Inject let tests cut sockets and send arbitrary frames.
//
// Conversations start when the first socket with subscriptions connects, so
// no generated frame is sent to nobody.
package genesystest
