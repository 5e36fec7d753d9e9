package genesys

import "github.com/genesys-bridge/genesys-bridge/genesys/internal/wsock"

// SocketConfig holds the settings both dialects share (the socket layer's,
// internal/wsock). Zero values are the documented defaults: frames up to
// 1 MiB, reconnects backing off from 500ms to 30s, Transport{}.Dialer().
type SocketConfig = wsock.Config

// SocketDefaults fills in c's defaults, the dialer included (each
// dialect's configuration calls it).
func SocketDefaults(c SocketConfig) SocketConfig {
	c = c.WithDefaults()
	if c.Dialer == nil {
		c.Dialer = Transport{}.Dialer()
	}
	return c
}
