package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/genesys-bridge/genesys-bridge/board"
	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/bridge/engine"
)

func main() {
	setProcessors = func(n int) { runtime.GOMAXPROCS(n) }
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// setProcessors applies GOMAXPROCS (Config.BridgeProcessors) in the
// bridge's own process only: tests run the bridge inside theirs, whose
// processors they keep.
var setProcessors = func(int) {}

// applyProcessors sets the processors cfg asks for (0: Go's default, as
// the runtime chose it at start).
func applyProcessors(cfg *Config) {
	if cfg.BridgeProcessors > 0 {
		setProcessors(cfg.BridgeProcessors)
	}
}

// Exit codes of run.
const (
	exitOK     = 0
	exitFailed = 1 // the bridge stopped on an error, or -check found a failure
	exitConfig = 2 // bad flags or configuration
)

// run is the command: flags from args, configuration from environ
// (KEY=value), and the bridge until SIGINT or SIGTERM. It returns the exit
// code, after its deferred cleanup ran.
func run(args, environ []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("genesys-bridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	demo := fs.Bool("demo", false, "run against an embedded Genesys simulator (no credentials needed) and show what happens")
	version := fs.Bool("version", false, "print the version and the commit it was built from, and exit")
	checkOnly := fs.Bool("check", false, "check the configuration, Genesys (token, channel and topics, analytics) and NATS (JetStream, the streams' settings) once, print each step, exit 0 if all passed and 1 if not")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: genesys-bridge [-demo | -check | -version]\n\n")
		fs.PrintDefaults()
		fmt.Fprintf(w, "\nConfiguration comes from the environment (README.md explains each):\n\n")
		printVariables(w)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitConfig
	}
	if *version {
		fmt.Fprintln(stdout, versionText())
		return exitOK
	}
	cfg, err := loadConfig(lookupIn(environ), *demo)
	if err != nil {
		if *checkOnly {
			fmt.Fprintf(stdout, "FAIL  %-22s %v\n", "configuration", err)
		}
		fmt.Fprintln(stderr, "genesys-bridge:", err)
		return exitConfig
	}
	if *checkOnly {
		for _, u := range unknownVariables(environ) {
			fmt.Fprintf(stdout, "WARN  %-22s %s is not read by the bridge: %s?\n", "configuration", u[0], u[1])
		}
		if !check(context.Background(), cfg, stdout) {
			return exitFailed
		}
		return exitOK
	}
	applyProcessors(cfg)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	for _, u := range unknownVariables(environ) {
		log.Warn("environment variable not read by the bridge: misspelt?", "name", u[0], "closest_known", u[1])
	}
	if err := serve(ctx, cfg, log, stdout); err != nil {
		log.Error("genesys-bridge stopped", "err", err)
		if _, ok := errors.AsType[*ConfigError](err); ok {
			return exitConfig
		}
		return exitFailed
	}
	return exitOK
}

// lookupIn looks names up in environ (KEY=value; the last one wins, as
// in os.Getenv).
func lookupIn(environ []string) func(string) (string, bool) {
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

func newLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve is the whole bridge: it returns nil after a clean shutdown (ctx
// ended and every outstanding transition acknowledged).
func serve(ctx context.Context, cfg *Config, log *slog.Logger, out io.Writer) error {
	return runWith(ctx, cfg, log, out, hooks{})
}

// hooks let tests and benchmarks observe a running bridge.
type hooks struct {
	stats     func(*engine.Stats, source) // called once, when the pipeline and the source exist
	published func(t *bridge.Transition, ackedAt time.Time)
	held      func(waited time.Duration, incomplete bool)
}

// runWith wires NATS and the stream (unless a dry run), Genesys (or the
// demo's simulator), the pipeline and the HTTP endpoints, runs until ctx ends, and takes them
// down in reverse order.
func runWith(ctx context.Context, cfg *Config, log *slog.Logger, w io.Writer, h hooks) error {
	if cfg.PprofAddr != "" {
		// First, so that a slow start can be profiled too.
		stopPprof, err := servePprof(cfg.PprofAddr, log)
		if err != nil {
			return err
		}
		defer stopPprof()
	}
	out, closeSink, err := openSink(ctx, cfg, log)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped before the stream was ready
		}
		return err
	}
	defer closeSink()
	audit, err := openAudit(cfg, log, w)
	if err != nil {
		return err
	}
	defer audit.close()

	target, m := cfg.genesysTarget(), newMetrics()
	var view *demoView
	if cfg.Demo {
		sim, simTarget, err := startDemo(cfg, log)
		if err != nil {
			return err
		}
		defer sim.Close()
		natsURL := ""
		if out.nc != nil {
			natsURL = out.nc.ConnectedUrlRedacted()
		}
		target, view = simTarget, newDemoView(w, cfg.NATSPrefix, natsURL)
	}
	pipe := engine.New(cfg.pipelineConfig(out, log, m, view, audit, h))
	clients, tr, err := cfg.genesysClients(target, log)
	if err != nil {
		return err
	}
	for _, c := range clients {
		defer c.Close() // after the stream and the board stopped (deferred later, run first)
	}
	share, err := openSharing(ctx, cfg, out.nc, target.topics, log)
	if err != nil {
		return err
	}
	defer share.close() // after the stream stopped reading (pump returns first)
	stream, err := newSource(ctx, cfg, target, clients, tr, out.js, pipe, share, log)
	if err != nil {
		return err
	}
	var live *board.Board
	if cfg.BoardEnabled {
		var stopBoard func()
		if live, stopBoard, err = startBoard(ctx, cfg, out.nc, clients, log); err != nil {
			return err
		}
		defer stopBoard()
	}
	m.register(pipe.Stats(), stream, clients, out.nc, out.js, out.dead)
	m.registerSharing(share)
	if h.stats != nil {
		h.stats(pipe.Stats(), stream)
	}
	if cfg.HTTPAddr != "" {
		stopHTTP, addr, err := serveHTTP(cfg.HTTPAddr, m, out.nc, stream, live, cfg.boardAccess, log)
		if err != nil {
			return err
		}
		defer stopHTTP()
		if live != nil && view != nil {
			fmt.Fprintf(w, "live board: %s\n\n", boardURL(addr))
		}
	}
	return pump(ctx, cfg, pipe, stream, out.pub, view, log)
}

// pump runs the source and the pipeline until ctx ends and the pipeline
// has drained.
func pump(ctx context.Context, cfg *Config, pipe *engine.Pipeline, stream source, pub bridge.Publisher, view *demoView, log *slog.Logger) error {
	streamCtx, stopStream := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = stream.Run(streamCtx) })
	if view != nil {
		wg.Go(func() { view.summaries(streamCtx, pipe.Stats(), 5*time.Second) })
	}
	log.Info("genesys-bridge running", "dialect", cfg.GenesysDialect, "stream", cfg.NATSStream, "subjects", cfg.NATSPrefix+".>", "dry_run", cfg.BridgeDryRun,
		"processors", runtime.GOMAXPROCS(0))
	err := pipe.Run(ctx, stream, pub)
	stopStream()
	wg.Wait()
	st := pipe.Stats()
	log.Info("genesys-bridge stopped reading", "events", st.Events.Load(), "published", st.Published.Load(),
		"outstanding", st.Outstanding.Load())
	return err
}
