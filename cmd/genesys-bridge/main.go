// Command genesys-bridge streams Genesys Cloud conversation state changes
// into NATS JetStream as validated, deduplicated transitions.
//
// Configuration comes from the environment (see Config and README.md).
// With -demo it starts an embedded Genesys simulator and an embedded NATS
// server and needs no credentials.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/genesys"
	"github.com/genesys-bridge/genesys-bridge/genesys/genesystest"
	"github.com/genesys-bridge/genesys-bridge/publish"
)

func main() {
	fs := flag.NewFlagSet("genesys-bridge", flag.ContinueOnError)
	demo := fs.Bool("demo", false, "run against an embedded Genesys simulator (no credentials needed) and show what happens")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: genesys-bridge [-demo]\n\nConfiguration is read from the environment; see README.md.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	cfg, err := loadConfig(*demo)
	if err != nil {
		fmt.Fprintln(os.Stderr, "genesys-bridge:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := newLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	if err := run(ctx, cfg, log, os.Stdout); err != nil {
		log.Error("genesys-bridge stopped", "err", err)
		var ce *ConfigError
		if errors.As(err, &ce) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// run is the whole bridge: it returns nil after a clean shutdown (ctx
// ended and every outstanding transition acknowledged).
func run(ctx context.Context, cfg *Config, log *slog.Logger, out io.Writer) error {
	return runWith(ctx, cfg, log, out, hooks{})
}

// hooks let tests and benchmarks observe a running bridge.
type hooks struct {
	stats     func(*bridge.Stats, source) // called once, when the pipeline and the source exist
	published func(t *bridge.Transition, ackedAt time.Time)
	held      func(waited time.Duration, incomplete bool)
}

func runWith(ctx context.Context, cfg *Config, log *slog.Logger, out io.Writer, h hooks) (err error) {
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()

	// NATS: an existing server, or an embedded one.
	natsURL := cfg.NATSURL
	if natsURL == "" {
		ns, err := startEmbedded(cfg, log)
		if err != nil {
			return err
		}
		cleanups = append(cleanups, func() {
			ns.Shutdown()
			ns.WaitForShutdown()
		})
		natsURL = ns.ClientURL()
	}
	nc, err := connectNATS(natsURL, cfg, log)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, func() { drainNATS(nc, log) })

	pub, err := provision(ctx, nc, cfg, log)
	if err != nil {
		return err
	}
	if pub == nil {
		return nil // ctx ended before the stream was ready
	}
	cleanups = append(cleanups, pub.Close)

	// Genesys: the real service, or the embedded simulator.
	endpoints, topics := cfg.endpoints, cfg.topics
	clientID, secret := cfg.GenesysClientID, cfg.GenesysClientSecret
	var sim *genesystest.Server
	if cfg.Demo {
		// A fresh seed per run: the store in NATS_EMBEDDED_STORE_DIR outlives
		// the demo, and conversation ids must not repeat across runs.
		sim, err = genesystest.Start(genesystest.Config{Speed: 1, Rate: 1.5, DuplicateRate: 0.05, ReorderRate: 0.05,
			Seed: uint64(time.Now().UnixNano()), HeartbeatInterval: cfg.GenesysHeartbeat, Logger: log})
		if err != nil {
			return err
		}
		cleanups = append(cleanups, sim.Close)
		endpoints = genesys.Endpoints{API: sim.URL, Login: sim.URL}
		clientID, secret = "sim-client", "sim-secret"
		topics, _ = genesys.Topics(sim.Population().Queues, nil, nil)
		log.Info("demo: embedded Genesys Cloud simulator started", "url", sim.URL, "queues", len(topics))
	}
	m := newMetrics()
	var show *demoView
	if cfg.Demo {
		show = newDemoView(out, cfg.NATSPrefix)
	}
	pipe := bridge.NewPipeline(bridge.PipelineConfig{
		MaxOutstanding: cfg.NATSMaxPending,
		DrainTimeout:   cfg.BridgeShutdown,
		Filter:         cfg.filter,
		Machine:        bridge.MachineConfig{Grace: cfg.BridgeGrace, IdleTTL: cfg.BridgeIdleTTL},
		State:          pub,
		Logger:         log,
		OnPublished: func(t *bridge.Transition, dup bool, ackedAt time.Time) {
			m.published(t, dup, ackedAt)
			if h.published != nil {
				h.published(t, ackedAt)
			}
			if show != nil {
				show.transition(t, dup)
			}
		},
		OnHeld: func(waited time.Duration, incomplete bool) {
			m.held(waited)
			if h.held != nil {
				h.held(waited, incomplete)
			}
		},
	})
	client := genesys.NewClient(genesys.ClientConfig{Endpoints: endpoints, ClientID: clientID, ClientSecret: secret,
		RefreshAhead: cfg.GenesysRefreshAhead, Logger: log})
	var stream source
	if cfg.GenesysDialect == "interactions" {
		stream, err = genesys.NewInteractionStream(genesys.InteractionsConfig{Client: client, APIURL: endpoints.API,
			Filter: cfg.filter, PingInterval: cfg.GenesysHeartbeat, MaxFrameSize: cfg.GenesysMaxFrame, Logger: log})
	} else {
		var resume time.Time
		if cfg.GenesysResumeLookback > 0 && !cfg.Demo {
			if resume, err = resumeFrom(ctx, pub, pipe, cfg.GenesysResumeLookback, log); err != nil {
				return err
			}
		}
		stream, err = genesys.NewStream(genesys.StreamConfig{Client: client, Topics: topics, ResumeFrom: resume,
			HeartbeatInterval: cfg.GenesysHeartbeat, MaxFrameSize: cfg.GenesysMaxFrame,
			ChannelMargin: cfg.GenesysChannelMargin, BackfillLag: cfg.GenesysBackfillLag, BackfillMaxWait: cfg.GenesysBackfillMaxWait,
			OpenInteractions: pipe.OpenInteractions, Logger: log})
	}
	if err != nil {
		return configErr("%v", err)
	}
	m.register(pipe.Stats(), stream, nc)
	if h.stats != nil {
		h.stats(pipe.Stats(), stream)
	}

	if cfg.HTTPAddr != "" {
		stopHTTP, err := serveHTTP(cfg.HTTPAddr, m, nc, stream, log)
		if err != nil {
			return err
		}
		cleanups = append(cleanups, stopHTTP)
	}

	streamCtx, stopStream := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = stream.Run(streamCtx) })
	if show != nil {
		wg.Go(func() { show.summaries(streamCtx, pipe.Stats(), 5*time.Second) })
	}
	log.Info("genesys-bridge running", "dialect", cfg.GenesysDialect, "topics", len(topics), "stream", cfg.NATSStream, "subjects", cfg.NATSPrefix+".>")

	err = pipe.Run(ctx, stream, pub)
	stopStream()
	wg.Wait()
	st := pipe.Stats()
	log.Info("genesys-bridge stopped reading", "events", st.Events.Load(), "published", st.Published.Load(),
		"outstanding", st.Outstanding.Load())
	return err
}

// resumeFrom reads where an earlier run stopped (when the stream stored its
// last transition) and preloads the state of every interaction with a
// transition in the lookback before that, so the interactions open then
// are known and their downtime back-filled like a gap. It returns the zero
// time when the stream is empty.
func resumeFrom(ctx context.Context, pub *publish.JetStream, pipe *bridge.Pipeline, lookback time.Duration, log *slog.Logger) (time.Time, error) {
	last, err := pub.LastStored(ctx)
	if err != nil || last.IsZero() {
		return last, err
	}
	since := last.Add(-lookback)
	began := time.Now()
	states, err := pub.States(ctx, since)
	if err != nil {
		return time.Time{}, err
	}
	open := 0
	for _, st := range states {
		if st.Status != bridge.StatusCompleted {
			open++
		}
	}
	pipe.Preload(states, since)
	log.Info("loaded the interactions' state from the stream", "since", since.UTC().Format(time.RFC3339), "interactions", len(states),
		"open", open, "took", time.Since(began).Round(time.Millisecond).String())
	return last, nil
}

// source is a Genesys dialect: the pipeline reads it, run supervises it,
// metrics and readiness observe it.
type source interface {
	bridge.Source
	Run(ctx context.Context) error
	Healthy() bool
	Reconnects() uint64
}

func startEmbedded(cfg *Config, log *slog.Logger) (*server.Server, error) {
	dir, err := filepath.Abs(cfg.NATSEmbeddedDir)
	if err != nil {
		return nil, configErr("NATS_EMBEDDED_STORE_DIR: %v", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, configErr("NATS_EMBEDDED_STORE_DIR: %v", err)
	}
	ns, err := publish.StartEmbedded(publish.EmbeddedConfig{Addr: cfg.NATSEmbeddedAddr, StoreDir: dir})
	if err != nil {
		return nil, err
	}
	log.Info("NATS_URL is empty: started an embedded NATS server with JetStream", "url", ns.ClientURL(), "store_dir", dir)
	return ns, nil
}

func connectNATS(url string, cfg *Config, log *slog.Logger) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name("genesys-bridge"),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("NATS reconnected", "server", c.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { log.Warn("NATS error", "err", err) }),
	}
	if cfg.NATSCreds != "" {
		opts = append(opts, nats.UserCredentials(cfg.NATSCreds))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect NATS %s: %w", redact(url), err)
	}
	return nc, nil
}

// provision creates or updates the stream, retrying while NATS is not yet
// reachable. It returns nil, nil if ctx ends first.
func provision(ctx context.Context, nc *nats.Conn, cfg *Config, log *slog.Logger) (*publish.JetStream, error) {
	pc := cfg.publishConfig()
	pc.Logger = log
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		pub, err := publish.New(pctx, nc, pc)
		cancel()
		if err == nil {
			return pub, nil
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		if errors.Is(err, publish.ErrStreamConflict) {
			return nil, err
		}
		wait := genesys.Backoff(attempt, time.Second, 30*time.Second)
		log.Warn("JetStream not ready; retrying", "err", err, "attempt", attempt, "wait", wait.String(), "status", nc.Status().String())
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(wait):
		}
	}
}

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

func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, configErr("HTTP_ADDR: cannot listen on %s: %v", addr, err)
	}
	return ln, nil
}

func serveHTTP(addr string, m *metrics, nc *nats.Conn, stream source, log *slog.Logger) (func(), error) {
	ln, err := listen(addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: m.handler(nc, stream), ReadHeaderTimeout: 5 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	})
	log.Info("serving /healthz, /readyz and /metrics", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		wg.Wait()
	}, nil
}
