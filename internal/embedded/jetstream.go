package embedded

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/nats-io/nats-server/v2/server"
)

// JetStreamConfig configures an in-process NATS server with JetStream.
type JetStreamConfig struct {
	// Addr is the client listen address. Default 127.0.0.1:4222; use port
	// 0 or -1 for a port the OS picks.
	Addr string
	// StoreDir is the JetStream store directory. Required: without it the
	// server would share $TMPDIR/nats/jetstream with other processes.
	StoreDir string
	// ServerName defaults to "genesys-bridge-embedded".
	ServerName string
}

// StartJetStream starts a NATS server with JetStream in this process. It
// never installs signal handlers (NoSigs), so SIGINT and SIGTERM stay with
// the caller. Shut it down with Shutdown and WaitForShutdown.
func StartJetStream(cfg JetStreamConfig) (*server.Server, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("embedded nats: no store directory")
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:4222"
	}
	if cfg.ServerName == "" {
		cfg.ServerName = "genesys-bridge-embedded"
	}
	host, portStr, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: address %q: %w", cfg.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < -1 || port > 65535 {
		return nil, fmt.Errorf("embedded nats: address %q: bad port", cfg.Addr)
	}
	if port == 0 {
		port = -1 // nats-server's "pick a free port"
	}
	if port > 0 {
		// nats-server reports a busy port only through its logger; check
		// first so the error says what is wrong.
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("embedded nats: cannot listen on %s: %w (set NATS_EMBEDDED_ADDR to a free address, or NATS_URL to use an existing server)", cfg.Addr, err)
		}
		ln.Close()
	}
	return Start(&server.Options{
		ServerName: cfg.ServerName,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoLog:      true,
	})
}
