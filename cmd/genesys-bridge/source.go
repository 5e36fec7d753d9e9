package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/bridge/engine"
	"github.com/genesys-bridge/genesys-bridge/genesys"
	"github.com/genesys-bridge/genesys-bridge/genesys/interactions"
	"github.com/genesys-bridge/genesys-bridge/publish"
)

// source is a Genesys dialect: the pipeline reads it, run supervises it,
// metrics and readiness observe it.
type source interface {
	bridge.Source
	Run(ctx context.Context) error
	Healthy() bool
	Reconnects() uint64
}

// genesysTarget is the Genesys org the bridge reads: where, as whom, which
// topics.
type genesysTarget struct {
	endpoints genesys.Endpoints
	clients   []credential
	topics    []string
}

func (c *Config) genesysTarget() genesysTarget {
	return genesysTarget{endpoints: c.endpoints, clients: c.clients, topics: c.topics}
}

// genesysClients are the REST clients for target, one per OAuth client
// (the source's, the board's names), over the one transport. Each is
// paced on its own.
func (c *Config) genesysClients(target genesysTarget, log *slog.Logger) ([]*genesys.Client, genesys.Transport, error) {
	tr, err := c.genesysTransport()
	if err != nil {
		return nil, tr, err
	}
	var clients []*genesys.Client
	for _, cr := range target.clients {
		clients = append(clients, genesys.NewClient(genesys.ClientConfig{Endpoints: target.endpoints, ClientID: cr.id, ClientSecret: cr.secret,
			RefreshAhead: c.GenesysRefreshAhead, RequestsPerMinute: c.GenesysRequestsPerMinute, HTTPClient: tr.HTTPClient(), Logger: log}))
	}
	return clients, tr, nil
}

// newSource builds the configured dialect for target. Unless
// GENESYS_RESUME_LOOKBACK is 0, in the demo, or without a stream (a dry
// run), it first loads from the stream, in one pass, the state of the
// interactions an earlier run published lately (so none of them costs a
// request when first met), and the notification dialect resumes where that
// run left off.
func newSource(ctx context.Context, cfg *Config, target genesysTarget, clients []*genesys.Client, tr genesys.Transport, pub *publish.JetStream, pipe *engine.Pipeline, share sharing, log *slog.Logger) (source, error) {
	sock := genesys.SocketConfig{MaxFrameSize: cfg.GenesysMaxFrame, Dialer: tr.Dialer(), Logger: log}
	var err error
	var resume time.Time
	if cfg.GenesysResumeLookback > 0 && !cfg.Demo && pub != nil {
		if resume, err = resumeFrom(ctx, pub, pipe, cfg.GenesysResumeLookback, log); err != nil {
			return nil, err
		}
	}
	var stream source
	if cfg.GenesysDialect == "interactions" {
		// The tutorial's stream has no history to back-fill: the states
		// loaded above only spare a request per interaction.
		stream, err = interactions.New(interactions.Config{Client: clients[0], APIURL: target.endpoints.API,
			Filter: cfg.filter, PingInterval: cfg.GenesysHeartbeat, SocketConfig: sock})
	} else {
		sc := genesys.StreamConfig{Clients: clients, Topics: target.topics, ResumeFrom: resume,
			HeartbeatInterval: cfg.GenesysHeartbeat, ChannelMargin: cfg.GenesysChannelMargin,
			BackfillLag: cfg.GenesysBackfillLag, BackfillMaxWait: cfg.GenesysBackfillMaxWait, OpenInteractions: pipe.OpenInteractions,
			SocketConfig: sock}
		share.streamConfig(&sc)
		sc.Settle = func(ctx context.Context) { settle(ctx, pipe.Stats()) }
		stream, err = genesys.NewStream(sc)
	}
	if err != nil {
		return nil, configErr("%w", err)
	}
	return stream, nil
}

// resumeFrom reads where an earlier run stopped (when the stream stored its
// last transition) and preloads the state of every interaction with a
// transition in the lookback before that, so the interactions open then
// are known (and, in the notification dialect, their downtime back-filled
// like a gap) and none of them is loaded one by one. It returns the zero
// time when the stream is empty (then nothing is loaded at all).
func resumeFrom(ctx context.Context, pub *publish.JetStream, pipe *engine.Pipeline, lookback time.Duration, log *slog.Logger) (time.Time, error) {
	last, err := pub.LastStored(ctx)
	if err != nil {
		return last, err
	}
	if last.IsZero() {
		// Nothing was ever published: no interaction needs loading (a
		// replica publishing meanwhile is caught by the compare-and-set).
		pipe.Preload(nil, time.Unix(0, 0))
		return last, nil
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

// settle waits until the pipeline has nothing unacknowledged, at most
// settleFor: a lane handed to another replica is released after what it
// read is stored.
func settle(ctx context.Context, st *engine.Stats) {
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	deadline := time.NewTimer(settleFor)
	defer deadline.Stop()
	for st.Outstanding.Load() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-poll.C:
		}
	}
}

// settleFor bounds settle: under steady traffic something is always in
// flight; a publish is acknowledged in milliseconds.
const settleFor = 2 * time.Second
