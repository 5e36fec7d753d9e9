package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
)

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	var usage usageError
	switch {
	case err == nil:
	case errors.As(err, &usage):
		fmt.Fprintln(os.Stderr, "genesys-sim:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "genesys-sim:", err)
		os.Exit(1)
	}
}

type usageError struct{ error }

// options are the simulator's settings from the command line.
type options struct {
	cfg        simulator.Config
	faults     []string
	faultEvery time.Duration
}

func run(args []string, stdout, stderr io.Writer) error {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg := opts.cfg
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	sim, err := simulator.Start(cfg)
	if err != nil {
		return err
	}
	defer sim.Close()
	pop := sim.Population()
	fmt.Fprintf(stdout, "Genesys Cloud simulator on %s\n\n", sim.URL)
	fmt.Fprintf(stdout, "  GENESYS_API_URL=%s GENESYS_LOGIN_URL=%s \\\n  GENESYS_CLIENT_ID=%s GENESYS_CLIENT_SECRET=<the -client-secret> \\\n  GENESYS_QUEUE_IDS=%s \\\n  go run ./cmd/genesys-bridge\n\n",
		sim.URL, sim.URL, cfg.ClientID, strings.Join(pop.Queues, ","))
	fmt.Fprintf(stdout, "agents (for GENESYS_USER_IDS): %s\n", strings.Join(pop.Agents, ","))
	fmt.Fprintln(stdout, "conversations start when the first client subscribes and connects")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(opts.faults) > 0 {
		go injectFaults(ctx, sim, opts.faults, opts.faultEvery, stdout)
	}
	select {
	case <-ctx.Done():
	case <-sim.Done():
		fmt.Fprintf(stdout, "all %d conversations sent (%d transitions); serving until interrupted\n", cfg.Conversations, len(sim.Truth()))
		<-ctx.Done()
	}
	fmt.Fprintf(stdout, "frames sent %d, transitions caused %d\n", sim.FramesSent(), len(sim.Truth()))
	return nil
}

// parseFlags reads and checks the command line; a bad one is a usageError.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("genesys-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg        simulator.Config
		channels   string
		queueIDs   string
		faults     string
		faultEvery time.Duration
	)
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8089", "listen address")
	fs.StringVar(&cfg.ClientID, "client-id", "sim-client", "accepted OAuth client id")
	fs.StringVar(&cfg.ClientSecret, "client-secret", "sim-secret", "accepted OAuth client secret")
	fs.DurationVar(&cfg.TokenLifetime, "token-lifetime", 24*time.Hour, "expires_in of issued tokens")
	fs.DurationVar(&cfg.HeartbeatInterval, "heartbeat", 30*time.Second, "socket heartbeat interval")
	fs.IntVar(&cfg.Queues, "queues", 3, "number of queues")
	fs.IntVar(&cfg.Agents, "agents", 12, "number of agents")
	fs.StringVar(&queueIDs, "queue-ids", "", "comma-separated queue ids to use instead of generated ones")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed (same seed, same conversations)")
	fs.IntVar(&cfg.Conversations, "conversations", 0, "conversations to generate (0 = no end)")
	fs.Float64Var(&cfg.Rate, "rate", 2, "new conversations per simulated second")
	fs.Float64Var(&cfg.Speed, "speed", 1, "simulated seconds per wall second (0 = as fast as the client reads)")
	fs.StringVar(&channels, "channels", "voice,chat,email,message,callback", "channel types to generate")
	fs.Float64Var(&cfg.DuplicateRate, "duplicate-rate", 0, "chance a frame is sent twice")
	fs.Float64Var(&cfg.ReorderRate, "reorder-rate", 0, "chance a frame is delayed past the next frame of its conversation")
	fs.Float64Var(&cfg.StepScale, "step-scale", 1, "multiplies the waits inside a conversation (0.05: conversations last seconds)")
	fs.DurationVar(&cfg.ChannelLifetime, "channel-lifetime", 24*time.Hour, "how long a channel lives unless re-subscribed")
	fs.DurationVar(&cfg.AnalyticsLag, "analytics-lag", 0, "how far the analytics query lags (it shows each conversation as it was this long ago)")
	fs.DurationVar(&cfg.EventLag, "event-lag", 0, "how long a notification takes to reach the socket (pongs and heartbeats are not delayed, so a pong may overtake them)")
	fs.Float64Var(&cfg.LongConversations, "long-conversations", 0, "share of message conversations that stay open for hours (times -step-scale)")
	fs.StringVar(&faults, "faults", "", "faults to inject at random, comma-separated: "+strings.Join(simulator.Faults, ","))
	fs.DurationVar(&faultEvery, "fault-every", 10*time.Second, "interval between injected faults (with -faults)")
	if err := fs.Parse(args); err != nil {
		return options{}, usageError{err}
	}
	for _, q := range strings.Split(queueIDs, ",") {
		if q = strings.TrimSpace(q); q != "" {
			if strings.ContainsAny(q, ". *>") {
				return options{}, usageError{fmt.Errorf("-queue-ids: %q contains '.', a space or a wildcard", q)}
			}
			cfg.QueueIDs = append(cfg.QueueIDs, q)
		}
	}
	for _, c := range strings.Split(channels, ",") {
		ct, err := bridge.ParseChannelType(strings.TrimSpace(c))
		if err != nil {
			return options{}, usageError{fmt.Errorf("-channels: %w", err)}
		}
		cfg.Channels = append(cfg.Channels, ct)
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"-duplicate-rate", cfg.DuplicateRate}, {"-reorder-rate", cfg.ReorderRate}} {
		if p.v < 0 || p.v > 1 {
			return options{}, usageError{fmt.Errorf("%s must be between 0 and 1", p.name)}
		}
	}
	var faultList []string
	for _, f := range strings.Split(faults, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if !slices.Contains(simulator.Faults, f) {
			return options{}, usageError{fmt.Errorf("-faults: unknown fault %q (want %s)", f, strings.Join(simulator.Faults, ","))}
		}
		faultList = append(faultList, f)
	}
	if len(faultList) > 0 && faultEvery <= 0 {
		return options{}, usageError{errors.New("-fault-every must be positive")}
	}
	if cfg.Rate <= 0 || cfg.Speed < 0 {
		return options{}, usageError{errors.New("-rate must be positive and -speed not negative")}
	}
	return options{cfg: cfg, faults: faultList, faultEvery: faultEvery}, nil
}

// injectFaults applies a random fault from the list every interval.
func injectFaults(ctx context.Context, sim *simulator.Server, faults []string, every time.Duration, out io.Writer) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f := faults[rand.IntN(len(faults))]
			if err := sim.InjectFault(f); err == nil {
				fmt.Fprintf(out, "%s injected fault: %s\n", time.Now().Format(time.TimeOnly), f)
			}
		}
	}
}
