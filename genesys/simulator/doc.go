// Package simulator is a Genesys Cloud simulator for tests, the demo and
// load runs: real HTTP and WebSocket on loopback.
//
// It serves POST /oauth/token (client credentials, Basic auth), POST
// /api/v2/notifications/channels, PUT/POST .../subscriptions (with
// ignoreErrors; topics of unknown queues or users are Rejected), HEAD of a
// channel, and the socket at connectUri: heartbeats every HeartbeatInterval,
// pong for {"message":"ping"}, one socket per channel (a second connection
// kicks the first). Genesys documents no order between a ping's answer and
// the notifications in flight: with EventLag, each notification reaches
// the socket that long after it is sent while pongs and heartbeats go at
// once, so a pong overtakes what was sent before the ping.
//
// # Three sources, each as faithful as its real one
//
// Each conversation is one model rendered three ways (sources.go), each with
// only the fields its real counterpart has, from the SDKs' generated
// models (TestSourcesCarryOnlyTheirModelsFields holds them to lists written
// from those models):
//   - live notifications: no participant startTime, no startAlertingTime,
//     no segments;
//   - GET /api/v2/conversations/{id}: the REST model, the state now;
//   - the analytics details query: sessions and segments with the real
//     segmentType values and purposes, each boundary in a clock a few
//     milliseconds off the live one, lagging AnalyticsLag (it shows each
//     conversation as it was then), matching conversations that started on
//     a UTC day the interval touches and were active in it, refusing
//     intervals over seven days and paging no further than
//     AnalyticsMaxResults.
//
// # Conversations
//
// Generate writes realistic conversations (voice with IVR, chat, email,
// message, callback, video) of the Kinds: answered with holds (parking, for
// email and messages), abandoned in queue or while ringing, transferred back
// to a queue or straight to another agent, consulted and handed over, not
// answered by the first agent, hung up while held, after-call work ended
// with the code on the communication only or skipped, sent to voicemail,
// scheduled callbacks, bot flows before the queue, post-call surveys, and
// (LongConversations) messaging conversations open for hours. And the
// shapes recorded from real orgs (testdata/real) that no schema shows:
// offers that fail at once (a zero-length alert segment with an errorCode,
// back to the queue in the same change), 1 ms wrap-ups, internal users
// calling an IVR number (purpose user, an outbound session, no customer),
// a pause of up to half a second between an agent's interact and wrap-up
// segments (analytics shows no wrap-up segment until it starts), live
// frames whose state lags their timestamps (a communication still
// connected while it carries disconnectedTime and after-call work pending,
// then the same change caught up), and blind transfers whose wrap-up
// overlaps the next queue (TestScriptsShowRealShapes). Each change
// is labelled with the status the simulator meant, so its ground truth
// (Truth) is independent of the bridge's derivation; its wire structs are
// its own, not package genesys's.
//
// # Faults
//
// DuplicateRate sends a frame twice; ReorderRate delays a frame past the
// next frame of its conversation when live timestamps still prove its
// status (see Reorderable): a hold, an unhold or an agent starting to ring
// is never delivered late, since no client could order it. DropSockets,
// SilenceSockets, AnnounceClosing, ExpireChannels, RevokeTokens, FailREST,
// Blackout and Inject let tests cut sockets, fail REST calls and send
// arbitrary frames; InjectFault does the same by name.
//
// # OAuth clients
//
// Clients are further accepted OAuth clients besides ClientID. Each holds at
// most 20 channels (one more evicts its oldest channel without a socket, or
// its oldest), finds only its own channels, and with RequestsPerMinute is
// answered 429 with Retry-After beyond that many API calls a minute.
// RefuseClient disables one as an administrator would (login refused,
// tokens revoked, sockets closed); Usage reports each one's channels,
// sockets, peak and requests (clients.go).
//
// Conversations start when the first socket with subscriptions connects, so
// no generated frame is sent to nobody.
package simulator
