// Package interactions is the "interactions stream" dialect of the tutorial
// the bridge grew from (GENESYS_DIALECT=interactions): the token in the
// access_token query parameter of <api>/api/v2/interactions/stream, a
// filter message on open, in-band token refresh, close code 4001 for a bad
// token, and flat events {sequence,id,type,status,channelType,timestamp,
// attributes}, validated strictly (Decode). An event whose sequence is not
// above the last one delivered is dropped and counted.
//
// It uses the Genesys client (package genesys) for its token and the
// socket layer both dialects share (genesys/internal/wsock); it owns
// nothing of the Notification Service. It has no back-fill: what is sent
// while the socket is down is lost, as the tutorial's stream defines. It
// never imports NATS or the engine (TestInteractionsImports).
package interactions
