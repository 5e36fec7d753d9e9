package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/genesys"
	"github.com/genesys-bridge/genesys-bridge/internal/text"
	"github.com/genesys-bridge/genesys-bridge/publish"
)

// check is -check: it tries, once each and without publishing anything,
// what the bridge needs (a token, a channel with the configured topics,
// an analytics query, NATS, JetStream, the streams' settings), prints a
// line per step (OK, FAIL with the reason, or SKIP) and reports whether
// every step passed. The channel's subscriptions are removed again.
func check(ctx context.Context, cfg *Config, w io.Writer) bool {
	c := &checker{cfg: cfg, w: w, ok: true}
	fmt.Fprintf(w, "OK    %-22s %s dialect, %d topics, stream %s\n", "configuration", cfg.GenesysDialect, len(cfg.topics), cfg.NATSStream)
	tr, err := cfg.genesysTransport()
	if err != nil {
		fmt.Fprintf(w, "FAIL  %-22s %v\n", "Genesys CA", err)
		return false
	}
	target := cfg.genesysTarget()
	var clients []*genesys.Client
	for _, cr := range target.clients {
		client := genesys.NewClient(genesys.ClientConfig{Endpoints: target.endpoints, ClientID: cr.id, ClientSecret: cr.secret,
			HTTPClient: tr.HTTPClient(), MaxAttempts: 1})
		defer client.Close()
		clients = append(clients, client)
	}
	c.genesys(ctx, clients[0], target)
	for i, client := range clients[1:] {
		// Each further client logs in; the channel and queries are the
		// first one's checks (the clients belong to one org).
		c.step(ctx, fmt.Sprintf("Genesys token %d/%d", i+2, len(clients)), func(ctx context.Context) (string, error) {
			tok, err := client.Token(ctx)
			if err != nil {
				return "", fmt.Errorf("OAuth client %s: %w", client.ID(), err)
			}
			return fmt.Sprintf("OAuth client %s, valid until %s", client.ID(), tok.Expiry.UTC().Format(time.RFC3339)), nil
		})
	}
	c.nats(ctx)
	return c.ok
}

// checker runs -check's steps and remembers whether all passed.
type checker struct {
	cfg     *Config
	w       io.Writer
	ok      bool
	tokenOK bool // the Genesys token step passed: the other Genesys steps can run
}

// step runs one step with its own deadline and prints its line.
func (c *checker) step(ctx context.Context, name string, fn func(context.Context) (string, error)) {
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	detail, err := fn(sctx)
	switch {
	case errors.Is(err, errSkip):
		fmt.Fprintf(c.w, "SKIP  %-22s %s\n", name, detail)
	case err != nil:
		c.ok = false
		fmt.Fprintf(c.w, "FAIL  %-22s %v\n", name, err)
	default:
		fmt.Fprintf(c.w, "OK    %-22s %s\n", name, detail)
	}
}

// genesys checks the token, a channel with the topics, the analytics
// query and, for the board, the queue names.
func (c *checker) genesys(ctx context.Context, client *genesys.Client, target genesysTarget) {
	cfg := c.cfg
	c.step(ctx, "Genesys token", func(ctx context.Context) (string, error) {
		tok, err := client.Token(ctx)
		if err != nil {
			return "", err
		}
		c.tokenOK = true
		return fmt.Sprintf("from %s, valid until %s", target.endpoints.Login, tok.Expiry.UTC().Format(time.RFC3339)), nil
	})
	c.step(ctx, "Genesys channel", func(ctx context.Context) (string, error) {
		switch {
		case cfg.GenesysDialect == "interactions":
			return "the interactions dialect has no channel", errSkip
		case !c.tokenOK:
			return "no token", errSkip
		}
		return checkChannel(ctx, client, target.topics)
	})
	c.step(ctx, "Genesys queue members", func(ctx context.Context) (string, error) {
		switch {
		case cfg.GenesysDialect == "interactions" || cfg.GenesysAgents != "members" || len(trimAll(cfg.GenesysQueueIDs)) == 0:
			return "agents are not the queues' members (GENESYS_AGENTS)", errSkip
		case !c.tokenOK:
			return "no token", errSkip
		}
		return checkMembers(ctx, client, trimAll(cfg.GenesysQueueIDs), trimAll(cfg.GenesysAgentIDs), target.topics, len(target.clients))
	})
	c.step(ctx, "Genesys analytics", func(ctx context.Context) (string, error) {
		if !c.tokenOK {
			return "no token", errSkip
		}
		now := time.Now()
		convs, err := client.QueryConversationDetails(ctx, now.Add(-5*time.Minute), now, genesys.DetailsFilter{QueueIDs: cfg.GenesysQueueIDs, UserIDs: cfg.GenesysUserIDs})
		if err != nil {
			return "", fmt.Errorf("%w (back-fill after a gap needs the analytics conversation details permission)", err)
		}
		return fmt.Sprintf("details query answered: %d conversations in the last 5 minutes", len(convs)), nil
	})
	if !cfg.BoardEnabled {
		return
	}
	// The board works without names (it shows ids): a missing permission
	// fails this step only to say so before it matters.
	c.step(ctx, "Genesys queue names", func(ctx context.Context) (string, error) {
		ids := trimAll(cfg.GenesysQueueIDs)
		switch {
		case !c.tokenOK:
			return "no token", errSkip
		case len(ids) == 0:
			return "no GENESYS_QUEUE_IDS to look up", errSkip
		}
		name, err := client.QueueName(ctx, ids[0])
		if genesys.IsDenied(err) {
			return "", fmt.Errorf("%w (the board shows queue ids without routing:queue:view)", err)
		}
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("queue %s is %q (the board shows names)", ids[0], name), nil
	})
}

// checkMembers lists the queues' members and tells the lane budget with
// them against the OAuth clients configured, failing where the bridge
// would refuse to start.
func checkMembers(ctx context.Context, client *genesys.Client, queues, listed, topics []string, clients int) (string, error) {
	agents := map[string]bool{}
	for _, id := range listed {
		agents[id] = true
	}
	n := genesys.CountTopics(topics)
	for _, q := range queues {
		ids, err := client.QueueMembers(ctx, q)
		if err != nil {
			return "", fmt.Errorf("queue %s: %w (agents as queue members need routing:queue:member:view)", q, err)
		}
		for _, id := range ids {
			if !agents[id] {
				agents[id] = true
				n.Agents++
			}
		}
	}
	if err := n.Fit(clients); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d agents; %v; %d of %d OAuth clients needed", len(agents), n, n.ClientsNeeded(), clients), nil
}

// checkChannel creates a channel, subscribes it to topics and removes the
// subscriptions again.
func checkChannel(ctx context.Context, client *genesys.Client, topics []string) (string, error) {
	ch, err := client.CreateChannel(ctx)
	if err != nil {
		return "", err
	}
	results, err := client.Subscribe(ctx, ch.ID, topics)
	if err != nil {
		return "", err
	}
	var rejected []string
	for _, r := range results {
		if !strings.EqualFold(r.State, "Permitted") {
			rejected = append(rejected, fmt.Sprintf("%s (%s)", r.ID, text.Truncate(r.RejectionReason, 120)))
		}
	}
	if err := client.Unsubscribe(ctx, ch.ID); err != nil {
		return "", fmt.Errorf("subscribed, but removing the subscriptions failed: %w", err)
	}
	if len(rejected) > 0 {
		return "", fmt.Errorf("%d of %d topics rejected: %s", len(rejected), len(topics), strings.Join(rejected, "; "))
	}
	return fmt.Sprintf("channel %s: all %d topics permitted; subscriptions removed", ch.ID, len(topics)), nil
}

// nats checks the connection to NATS_URL, JetStream and the streams'
// settings (skipped in a dry run and with the embedded server).
func (c *checker) nats(ctx context.Context) {
	cfg := c.cfg
	if cfg.BridgeDryRun || cfg.NATSURL == "" {
		why := "BRIDGE_DRY_RUN: NATS is not used"
		if !cfg.BridgeDryRun {
			why = "NATS_URL is empty: the bridge starts an embedded server"
		}
		c.step(ctx, "NATS", func(context.Context) (string, error) { return why, errSkip })
		return
	}
	var nc *nats.Conn
	c.step(ctx, "NATS", func(ctx context.Context) (string, error) {
		var err error
		if nc, err = checkConnect(ctx, cfg); err != nil {
			return "", err
		}
		return fmt.Sprintf("connected to %s (server %s)", nc.ConnectedUrlRedacted(), nc.ConnectedServerVersion()), nil
	})
	if nc == nil {
		c.ok = false
		return
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	c.step(ctx, "JetStream", func(ctx context.Context) (string, error) {
		info, err := js.AccountInfo(ctx)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("enabled: %d streams, %s of storage used", info.Streams, byteSize(info.Store)), nil
	})
	c.step(ctx, "stream "+cfg.NATSStream, func(ctx context.Context) (string, error) {
		return checkStream(ctx, js, cfg.publishConfig(nil).StreamConfig())
	})
	if cfg.NATSDeadLetters {
		c.step(ctx, "stream "+cfg.NATSDLStream, func(ctx context.Context) (string, error) {
			return checkStream(ctx, js, cfg.deadLetterConfig(nil).StreamConfig())
		})
	}
}

// checkConnect connects to NATS_URL once, telling the cause of a failure.
func checkConnect(ctx context.Context, cfg *Config) (*nats.Conn, error) {
	auth, err := natsAuth(cfg)
	if err != nil {
		return nil, err
	}
	// Retrying in the background is how nats.go tells the cause of a
	// failed first attempt (a plain Connect says only "no servers").
	failed, connected := make(chan error, 16), make(chan struct{}, 1)
	c, err := nats.Connect(cfg.NATSURL, append(auth, nats.Name("genesys-bridge -check"), nats.Timeout(5*time.Second),
		nats.RetryOnFailedConnect(true), nats.ReconnectWait(100*time.Millisecond), nats.MaxReconnects(5),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			select {
			case failed <- err:
			default:
			}
		}),
		nats.ConnectHandler(func(*nats.Conn) { connected <- struct{}{} }))...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", text.RedactURL(cfg.NATSURL), err)
	}
	var last error
	for !c.IsConnected() {
		select {
		case <-connected:
		case err := <-failed:
			if last = err; !errors.Is(err, nats.ErrNoServers) {
				c.Close()
				return nil, fmt.Errorf("%s: %s: %w", text.RedactURL(cfg.NATSURL), natsCause(err), err)
			}
		case <-ctx.Done():
			c.Close()
			return nil, fmt.Errorf("%s: not connected within the check's time (%v)", text.RedactURL(cfg.NATSURL), last)
		}
	}
	return c, nil
}

var errSkip = errors.New("skipped")

// checkStream compares an existing stream with what the bridge wants; a
// stream that does not exist yet is fine (the bridge creates it).
func checkStream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig) (string, error) {
	s, err := js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return "does not exist yet: the bridge creates it", nil
	}
	if err != nil {
		return "", err
	}
	have := s.CachedInfo().Config
	if have.Storage != want.Storage {
		return "", fmt.Errorf("%s storage; the bridge needs file storage, and a stream's storage cannot change", have.Storage)
	}
	var differ []string
	if missing := publish.MissingSubjects(have.Subjects, want.Subjects); len(missing) > 0 {
		differ = append(differ, fmt.Sprintf("subjects %v lack %v", have.Subjects, missing))
	}
	if have.MaxAge != want.MaxAge {
		differ = append(differ, fmt.Sprintf("max age %s, want %s", have.MaxAge, want.MaxAge))
	}
	if have.Duplicates != want.Duplicates {
		differ = append(differ, fmt.Sprintf("duplicate window %s, want %s", have.Duplicates, want.Duplicates))
	}
	if have.Replicas != want.Replicas {
		differ = append(differ, fmt.Sprintf("replicas %d, want %d", have.Replicas, want.Replicas))
	}
	if want.MaxBytes > 0 && have.MaxBytes != want.MaxBytes {
		differ = append(differ, fmt.Sprintf("max bytes %d, want %d", have.MaxBytes, want.MaxBytes))
	}
	info := s.CachedInfo()
	if len(differ) > 0 {
		return fmt.Sprintf("%d messages; the bridge will update: %s", info.State.Msgs, strings.Join(differ, "; ")), nil
	}
	return fmt.Sprintf("%d messages, settings as configured", info.State.Msgs), nil
}

func byteSize(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// genesysTransport is how the bridge reaches Genesys: the CAs of
// GENESYS_CA_FILE added to the system's (not in the demo).
func (c *Config) genesysTransport() (genesys.Transport, error) {
	var tr genesys.Transport
	if c.GenesysCAFile != "" && !c.Demo {
		pool, err := genesys.LoadCAFile(c.GenesysCAFile)
		if err != nil {
			return tr, configErr("GENESYS_CA_FILE: %w", err)
		}
		tr.RootCAs = pool
	}
	return tr, nil
}
