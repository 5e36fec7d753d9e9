package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/internal/embedded"
	"github.com/genesys-bridge/genesys-bridge/internal/text"
	"github.com/genesys-bridge/genesys-bridge/publish"
)

// sink is where transitions go: a JetStream stream, or, in a dry run
// (BRIDGE_DRY_RUN), nowhere: js and nc are then nil.
type sink struct {
	pub  bridge.Publisher
	js   *publish.JetStream
	nc   *nats.Conn
	dead *publish.DeadLetters // nil when NATS_DEAD_LETTERS is off, and in a dry run
}

// openSink connects to NATS and provisions the stream (retrying until
// JetStream is ready or ctx ends), or, in a dry run, touches no NATS at
// all. close takes it down.
func openSink(ctx context.Context, cfg *Config, log *slog.Logger) (sink, func(), error) {
	if cfg.BridgeDryRun {
		log.Warn("BRIDGE_DRY_RUN: transitions are derived and counted but not published; NATS is not used")
		return sink{pub: dryRun{log: log, prefix: cfg.NATSPrefix}}, func() {}, nil
	}
	nc, closeNATS, err := openNATS(cfg, log)
	if err != nil {
		return sink{}, nil, err
	}
	js, err := publish.Provision(ctx, nc, cfg.publishConfig(log))
	if err != nil {
		closeNATS()
		return sink{}, nil, err
	}
	var dead *publish.DeadLetters
	if cfg.NATSDeadLetters {
		if dead, err = publish.NewDeadLetters(ctx, js, cfg.deadLetterConfig(log)); err != nil {
			js.Close()
			closeNATS()
			return sink{}, nil, err
		}
	}
	return sink{pub: js, js: js, nc: nc, dead: dead}, func() {
		if dead != nil {
			dead.Close(cfg.BridgeShutdown) // before the publisher: it waits for them
		}
		js.Close()
		closeNATS()
	}, nil
}

// dryRun is the publisher of a dry run: it acknowledges each transition at
// once without sending it, and logs it at debug level.
type dryRun struct {
	log    *slog.Logger
	prefix string
}

func (d dryRun) Publish(ctx context.Context, t *bridge.Transition, r bridge.Receipt) {
	if d.log.Enabled(ctx, slog.LevelDebug) {
		d.log.Debug("dry run: transition not published", "subject", publish.Subject(d.prefix, t), "id", t.ID,
			"from", string(t.FromStatus), "to", string(t.ToStatus))
	}
	r.Complete(false, 0, nil)
}

func (d dryRun) PublishTimings(ctx context.Context, t *bridge.Timings, r bridge.Receipt) {
	if d.log.Enabled(ctx, slog.LevelDebug) {
		d.log.Debug("dry run: timings not published", "interaction_id", t.InteractionID, "id", t.ID,
			"wait", t.Wait.String(), "talk", t.Talk.String(), "abandoned", t.Abandoned)
	}
	r.Complete(false, 0, nil)
}

// openNATS connects to NATS_URL, or to an embedded server it starts when
// NATS_URL is empty. close drains the connection and stops that server.
func openNATS(cfg *Config, log *slog.Logger) (nc *nats.Conn, close func(), err error) {
	url, stop := cfg.NATSURL, func() {}
	if url == "" {
		ns, err := startEmbedded(cfg, log)
		if err != nil {
			return nil, nil, err
		}
		url, stop = ns.ClientURL(), func() {
			ns.Shutdown()
			ns.WaitForShutdown()
		}
	}
	if nc, err = connectNATS(url, cfg, log); err != nil {
		stop()
		return nil, nil, err
	}
	return nc, func() {
		drainNATS(nc, log)
		stop()
	}, nil
}

func startEmbedded(cfg *Config, log *slog.Logger) (*server.Server, error) {
	dir, err := filepath.Abs(cfg.NATSEmbeddedDir)
	if err != nil {
		return nil, configErr("NATS_EMBEDDED_STORE_DIR: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, configErr("NATS_EMBEDDED_STORE_DIR: %w", err)
	}
	ns, err := embedded.StartJetStream(embedded.JetStreamConfig{Addr: cfg.NATSEmbeddedAddr, StoreDir: dir})
	if err != nil {
		return nil, err
	}
	log.Info("NATS_URL is empty: started an embedded NATS server with JetStream", "url", ns.ClientURL(), "store_dir", dir)
	return ns, nil
}

func connectNATS(url string, cfg *Config, log *slog.Logger) (*nats.Conn, error) {
	report := &natsReport{log: log, servers: text.RedactURL(url), every: 30 * time.Second}
	opts := []nats.Option{
		nats.Name("genesys-bridge"),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(time.Second),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) { report.failed(err) }),
		nats.ConnectHandler(func(c *nats.Conn) { log.Info("NATS connected", "server", c.ConnectedUrlRedacted()) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("NATS reconnected", "server", c.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { log.Warn("NATS error", "err", err) }),
	}
	auth, err := natsAuth(cfg)
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(url, append(opts, auth...)...)
	if err != nil {
		return nil, fmt.Errorf("connect NATS %s: %w", text.RedactURL(url), err)
	}
	return nc, nil
}

// drainNATS flushes what is buffered and closes the connection, within 5s.
func drainNATS(nc *nats.Conn, log *slog.Logger) {
	done := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(done) })
	if err := nc.Drain(); err != nil {
		nc.Close()
		return
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		log.Warn("NATS drain timed out; closing")
		nc.Close()
	}
}

// natsReport says why NATS cannot be reached: the first failed attempt at
// once (the dial timeout is 2s), then at most once per interval unless the
// cause changes, with the servers tried, the cause in words and the
// attempts since the last report. The client keeps retrying.
type natsReport struct {
	log     *slog.Logger
	servers string // redacted
	every   time.Duration

	mu       sync.Mutex
	last     time.Time
	cause    string
	attempts int
}

func (r *natsReport) failed(err error) {
	cause := natsCause(err)
	r.mu.Lock()
	r.attempts++
	if errors.Is(err, nats.ErrNoServers) && r.last.IsZero() && r.attempts == 1 {
		// The first attempt's own error is lost behind this one; the
		// next attempt, a second later, says what it is.
		r.mu.Unlock()
		return
	}
	due := r.last.IsZero() || time.Since(r.last) >= r.every || cause != r.cause
	n := r.attempts
	if due {
		r.last, r.cause, r.attempts = time.Now(), cause, 0
	}
	r.mu.Unlock()
	if due {
		r.log.Warn("NATS unreachable; retrying every second", "servers", r.servers, "cause", cause, "err", err, "attempts", n)
	}
}

// natsCause names, for an operator, why a connection attempt failed.
func natsCause(err error) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recordErr tls.RecordHeaderError
	var opErr *net.OpError
	var netErr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: nothing listens at that address"
	case errors.As(err, &dnsErr):
		return "DNS: the host name does not resolve"
	// The server's -ERR during the handshake is a client error that Is the
	// matching value.
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked),
		errors.Is(err, nats.ErrAccountAuthExpired), errors.Is(err, nats.ErrNkeysNotSupported):
		return "authorization: the server rejected the credentials"
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &recordErr),
		errors.As(err, &opErr) && opErr.Op == "remote error", // crypto/tls's for an alert the server sent
		errors.Is(err, nats.ErrTLS), errors.Is(err, nats.ErrSecureConnRequired), errors.Is(err, nats.ErrSecureConnWanted):
		return "TLS: the handshake failed (certificate, CA or a TLS/plain mismatch)"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timeout: no answer from that address"
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return "closed: the server hung up during the handshake (TLS or handshake-first on one side only?)"
	}
	return "other"
}

// natsAuth is the client's authentication and TLS, from the configuration
// (checkNATSAuth allowed one way to authenticate at most).
func natsAuth(cfg *Config) ([]nats.Option, error) {
	var opts []nats.Option
	switch {
	case cfg.NATSCreds != "":
		opts = append(opts, nats.UserCredentials(cfg.NATSCreds))
	case cfg.NATSNkeySeedFile != "":
		o, err := nats.NkeyOptionFromSeed(cfg.NATSNkeySeedFile)
		if err != nil {
			return nil, configErr("NATS_NKEY_SEED_FILE: %w", err)
		}
		opts = append(opts, o)
	case cfg.NATSUser != "":
		opts = append(opts, nats.UserInfo(cfg.NATSUser, cfg.NATSPassword.Reveal()))
	case cfg.NATSToken != "":
		opts = append(opts, nats.Token(cfg.NATSToken.Reveal()))
	}
	if cfg.NATSTLSCAFile != "" {
		opts = append(opts, nats.RootCAs(cfg.NATSTLSCAFile))
	}
	if cfg.NATSTLSCertFile != "" {
		opts = append(opts, nats.ClientCert(cfg.NATSTLSCertFile, cfg.NATSTLSKeyFile))
	}
	if cfg.NATSTLSFirst {
		opts = append(opts, nats.TLSHandshakeFirst())
	}
	return opts, nil
}
