package embedded

import (
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Start starts a server with opts and waits until it accepts clients and,
// if opts asks for it, JetStream is up (a clustered node's JetStream waits
// for its peers, so only a single node is checked). It never installs
// signal handlers: NoSigs is forced, so SIGINT and SIGTERM stay with the
// caller. Stop it with Shutdown and WaitForShutdown.
func Start(opts *server.Options) (*server.Server, error) {
	o := *opts
	o.NoSigs = true
	s, err := server.NewServer(&o)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("embedded nats: not ready on %s:%d within 10s (is the port in use?)", o.Host, o.Port)
	}
	if o.JetStream && o.Cluster.Port == 0 && !s.JetStreamEnabled() {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("embedded nats: JetStream did not start (store %s)", o.StoreDir)
	}
	return s, nil
}
