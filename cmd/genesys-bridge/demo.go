package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/bridge/engine"
	"github.com/genesys-bridge/genesys-bridge/genesys"
	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
	"github.com/genesys-bridge/genesys-bridge/publish"
)

// demoAnalyticsLag is how far the demo's analytics lags, and the demo's
// GENESYS_BACKFILL_LAG unless set.
const demoAnalyticsLag = 2 * time.Second

// startDemo starts the embedded Genesys simulator -demo reads from, and
// returns it with the target that points at it.
func startDemo(cfg *Config, log *slog.Logger) (*simulator.Server, genesysTarget, error) {
	// A fresh seed per run: the store in NATS_EMBEDDED_STORE_DIR outlives
	// the demo, and conversation ids must not repeat across runs.
	sim, err := simulator.Start(simulator.Config{Speed: 1, Rate: 1.5, DuplicateRate: 0.05, ReorderRate: 0.05, AnalyticsLag: demoAnalyticsLag,
		Seed: uint64(time.Now().UnixNano()), HeartbeatInterval: cfg.GenesysHeartbeat, Logger: log})
	if err != nil {
		return nil, genesysTarget{}, err
	}
	topics, err := genesys.Topics(genesys.TopicSet{Queues: sim.Population().Queues, MembersOf: sim.Population().Queues})
	if err != nil {
		sim.Close()
		return nil, genesysTarget{}, err
	}
	log.Info("demo: embedded Genesys Cloud simulator started", "url", sim.URL, "queues", len(topics))
	return sim, genesysTarget{endpoints: genesys.Endpoints{API: sim.URL, Login: sim.URL}, clients: []credential{{id: "sim-client", secret: "sim-secret"}}, topics: topics}, nil
}

// demoView prints what the demo does: each published transition and a
// periodic summary.
type demoView struct {
	out    io.Writer
	prefix string

	mu     sync.Mutex
	counts map[string]int // "channel to_status" -> published
}

// newDemoView prints the demo's header: natsURL is the server the bridge
// is connected to (the embedded one listens where NATS_EMBEDDED_ADDR
// says; port 0 lets the system choose), "" in a dry run.
func newDemoView(out io.Writer, prefix, natsURL string) *demoView {
	fmt.Fprintf(out, "genesys-bridge demo: simulated Genesys Cloud -> bridge -> JetStream\n")
	if natsURL == "" {
		fmt.Fprintf(out, "dry run: transitions are derived, not published\n\n")
	} else {
		fmt.Fprintf(out, "watch the stream with: nats sub '%s.>' -s %s\n\n", prefix, natsURL)
	}
	fmt.Fprintf(out, "%-12s %-9s %-9s    %-9s %-8s %s\n", "occurred", "channel", "from", "to", "conv", "subject")
	return &demoView{out: out, prefix: prefix, counts: map[string]int{}}
}

func (d *demoView) transition(t *bridge.Transition, dup bool) {
	if c := t.Agent; c != nil {
		from := string(c.FromRouting) + "/" + string(c.FromPresence)
		if c.FromRouting == "" {
			from = "(new)"
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		d.counts["agent "+string(c.ToRouting)]++
		fmt.Fprintf(d.out, "%-12s %-9s %-9s -> %-9s %-8s %s\n", t.OccurredAt.Local().Format("15:04:05.000"),
			"agent", from, string(c.ToRouting)+"/"+string(c.ToPresence), t.InteractionID[:min(8, len(t.InteractionID))], publish.Subject(d.prefix, t))
		return
	}
	from := string(t.FromStatus)
	if from == "" {
		from = "(new)"
	}
	note := ""
	if t.Reconstructed {
		note = " (reconstructed)"
	}
	if dup {
		note += " (duplicate ack)"
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.counts[string(t.ChannelType)+" "+string(t.ToStatus)]++
	fmt.Fprintf(d.out, "%-12s %-9s %-9s -> %-9s %-8s %s%s\n", t.OccurredAt.Local().Format("15:04:05.000"),
		t.ChannelType, from, t.ToStatus, t.InteractionID[:min(8, len(t.InteractionID))], publish.Subject(d.prefix, t), note)
}

func (d *demoView) summaries(ctx context.Context, st *engine.Stats, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	lastEvents, last := st.Events.Load(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			ev := st.Events.Load()
			rate := float64(ev-lastEvents) / now.Sub(last).Seconds()
			lastEvents, last = ev, now
			d.mu.Lock()
			keys := make([]string, 0, len(d.counts))
			for k := range d.counts {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			var b strings.Builder
			for _, k := range keys {
				fmt.Fprintf(&b, " %s=%d", strings.Replace(k, " ", ".", 1), d.counts[k])
			}
			fmt.Fprintf(d.out, "-- %.1f events/s | events %d, published %d, duplicates absorbed %d, stale %d, unchanged %d, rejected %d, open %d\n-- by channel.status:%s\n",
				rate, ev, st.Published.Load(), st.Duplicates.Load(), st.Stale.Load(), st.Unchanged.Load(),
				st.RejectedTotal(),
				st.Open.Load(), b.String())
			d.mu.Unlock()
		}
	}
}
