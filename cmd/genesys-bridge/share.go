package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/genesys"
	"github.com/genesys-bridge/genesys-bridge/publish"
)

// sharing is what replicas share the lanes through (BRIDGE_SHARE_LANES):
// the leases and, when agents are the queues' members, the roster. Zero
// when the lanes are not shared (a dry run, the interactions dialect, the
// setting off).
type sharing struct {
	leases *publish.Leases
	roster *publish.Roster
}

// openSharing opens the lane leases (and the roster) on the bridge's
// JetStream, scoped to the lane plan: the topics and the agents' mode.
func openSharing(ctx context.Context, cfg *Config, nc *nats.Conn, topics []string, log *slog.Logger) (sharing, error) {
	if !cfg.BridgeShareLanes || nc == nil || cfg.GenesysDialect != "notifications" {
		return sharing{}, nil
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return sharing{}, err
	}
	scope := planScope(topics, cfg.GenesysAgents)
	leases, err := publish.OpenLeases(ctx, js, cfg.NATSStream, publish.LeaseConfig{TTL: cfg.BridgeLeaseTTL, Replicas: cfg.NATSReplicas, Scope: scope, Logger: log})
	if err != nil {
		return sharing{}, err
	}
	sh := sharing{leases: leases}
	if cfg.GenesysAgents == "members" {
		if sh.roster, err = publish.OpenRoster(ctx, js, cfg.NATSStream, publish.RosterConfig{Replicas: cfg.NATSReplicas, Scope: scope, Logger: log}); err != nil {
			leases.Close()
			return sharing{}, err
		}
	}
	log.Info("replicas share the Genesys channels through leases", "replica", leases.Replica(), "scope", scope, "lease_ttl", cfg.BridgeLeaseTTL.String(),
		"replicas_seen", leases.Replicas())
	return sh, nil
}

// close releases the leases (the stream has stopped reading) and stops
// watching.
func (sh sharing) close() {
	if sh.leases != nil {
		sh.leases.Close()
	}
	if sh.roster != nil {
		sh.roster.Close()
	}
}

// planScope fingerprints the lane plan: replicas of another plan (a rollout
// that changes the topics) share nothing with these.
func planScope(topics []string, agents string) string {
	h := sha256.Sum256([]byte(agents + "\n" + strings.Join(topics, "\n")))
	return hex.EncodeToString(h[:6])
}

// streamConfig fills the stream's sharing settings.
func (sh sharing) streamConfig(sc *genesys.StreamConfig) {
	if sh.leases != nil {
		sc.Leases = laneLeases{sh.leases}
	}
	if sh.roster != nil {
		sc.Roster = agentRoster{sh.roster}
	}
}

// laneLeases is publish.Leases as the stream sees it.
type laneLeases struct{ l *publish.Leases }

func (a laneLeases) SetLanes(n int)     { a.l.SetLanes(n) }
func (a laneLeases) TTL() time.Duration { return a.l.TTL() }

func (a laneLeases) Acquire(ctx context.Context, lane int, safe func() time.Time) (genesys.LaneLease, genesys.Predecessor, error) {
	lease, before, err := a.l.Acquire(ctx, lane, safe)
	if err != nil {
		return nil, genesys.Predecessor{}, err
	}
	return lease, genesys.Predecessor{Existed: before.Existed, Safe: before.Safe, Replica: before.Replica, Until: before.Until}, nil
}

// agentRoster is publish.Roster as the stream sees it.
type agentRoster struct{ r *publish.Roster }

func (a agentRoster) Place(ctx context.Context, id string, lane int, since time.Time) (genesys.Placement, error) {
	p, err := a.r.Place(ctx, id, lane, since)
	return genesys.Placement(p), err
}

func (a agentRoster) Placements(ctx context.Context) ([]genesys.Placement, <-chan genesys.Placement) {
	now, later := a.r.Placements(ctx)
	out := make([]genesys.Placement, len(now))
	for i, p := range now {
		out[i] = genesys.Placement(p)
	}
	conv := make(chan genesys.Placement)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case p := <-later:
				select {
				case conv <- genesys.Placement(p):
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, conv
}
