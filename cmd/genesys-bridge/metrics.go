package main

import (
	"net/http"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/bridge/engine"
	"github.com/genesys-bridge/genesys-bridge/genesys"
	"github.com/genesys-bridge/genesys-bridge/genesys/interactions"
	"github.com/genesys-bridge/genesys-bridge/publish"
)

// metrics is the bridge's Prometheus registry.
type metrics struct {
	reg         *prometheus.Registry
	latency     prometheus.Histogram
	byChannel   *prometheus.CounterVec
	publishedBy [][]prometheus.Counter // byChannel's series, by position in bridge.ChannelTypes and bridge.Statuses
	duplicates  prometheus.Counter
	heldFor     prometheus.Histogram
	// Completed interactions' timings, by channel type: one histogram per
	// figure, and the completions and abandons counted; timingBy and
	// completedBy are their series by position in bridge.ChannelTypes (and
	// timingFigures; answered then abandoned).
	timing      map[string]*prometheus.HistogramVec
	completed   *prometheus.CounterVec
	timingBy    [][]prometheus.Observer
	completedBy [][2]prometheus.Counter
	agents      *agentMetrics
}

// timingFigures are the timings exported as histograms.
var timingFigures = []struct {
	name, help string
	of         func(*bridge.Timings) time.Duration
	answered   bool // only for answered interactions
}{
	{"wait", "queued", func(t *bridge.Timings) time.Duration { return t.Wait }, false},
	{"alert", "ringing (alerting)", func(t *bridge.Timings) time.Duration { return t.Alert }, true},
	{"talk", "connected", func(t *bridge.Timings) time.Duration { return t.Talk }, true},
	{"hold", "held", func(t *bridge.Timings) time.Duration { return t.Hold }, true},
	{"wrapup", "in wrap-up (after-call work)", func(t *bridge.Timings) time.Duration { return t.Wrapup }, true},
	{"handle", "handling: talk, hold and wrap-up", func(t *bridge.Timings) time.Duration { return t.Handle() }, true},
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "genesys_bridge_frame_to_ack_seconds",
		Help:    "Time from receiving the Genesys frame to the JetStream acknowledgement of the transition it caused.",
		Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	})
	m.byChannel = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "genesys_bridge_transitions_published_total",
		Help: "Transitions acknowledged by JetStream, by channel type and status entered.",
	}, []string{"channel_type", "to_status"})
	// Every series exists from the start (at 0), and publishing finds its
	// counter without hashing label values.
	for _, c := range bridge.ChannelTypes {
		row := make([]prometheus.Counter, len(bridge.Statuses))
		for i, st := range bridge.Statuses {
			row[i] = m.byChannel.WithLabelValues(string(c), string(st))
		}
		m.publishedBy = append(m.publishedBy, row)
	}
	m.duplicates = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "genesys_bridge_publish_duplicates_total",
		Help: "Publishes JetStream acknowledged as duplicates (already stored; counted as success).",
	})
	m.heldFor = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "genesys_bridge_backfill_held_seconds",
		Help:    "How long a frame of an interaction that may have changed during a gap waited for the gap's history.",
		Buckets: []float64{.01, .05, .1, .5, 1, 5, 10, 30, 60, 90, 120, 300, 600},
	})
	m.timing = map[string]*prometheus.HistogramVec{}
	for _, f := range timingFigures {
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "genesys_bridge_interaction_" + f.name + "_seconds",
			Help:    "Time completed interactions spent " + f.help + ", from Genesys's timestamps, by channel type.",
			Buckets: []float64{1, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200},
		}, []string{"channel_type"})
		m.timing[f.name] = h
		m.reg.MustRegister(h)
	}
	m.completed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "genesys_bridge_interactions_completed_total",
		Help: "Completed interactions whose timings were published, by channel type and outcome (answered or abandoned).",
	}, []string{"channel_type", "outcome"})
	// As for the transitions, every series exists from the start.
	for _, c := range bridge.ChannelTypes {
		row := make([]prometheus.Observer, len(timingFigures))
		for i, f := range timingFigures {
			row[i] = m.timing[f.name].WithLabelValues(string(c))
		}
		m.timingBy = append(m.timingBy, row)
		m.completedBy = append(m.completedBy, [2]prometheus.Counter{
			m.completed.WithLabelValues(string(c), "answered"), m.completed.WithLabelValues(string(c), "abandoned")})
	}
	m.reg.MustRegister(m.latency, m.byChannel, m.duplicates, m.heldFor, m.completed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.agents = newAgentMetrics(m.reg)
	return m
}

func (m *metrics) published(t *bridge.Transition, dup bool, ackedAt time.Time) {
	m.latency.Observe(ackedAt.Sub(t.ObservedAt).Seconds())
	if t.Agent != nil {
		m.agents.transition(t)
	} else {
		m.counterOf(t.ChannelType, t.ToStatus).Inc()
	}
	if dup {
		m.duplicates.Inc()
	}
}

func (m *metrics) counterOf(c bridge.ChannelType, s bridge.Status) prometheus.Counter {
	ci, si := slices.Index(bridge.ChannelTypes, c), slices.Index(bridge.Statuses, s)
	if ci < 0 || si < 0 { // not a canonical value: cannot happen after validation
		return m.byChannel.WithLabelValues(string(c), string(s))
	}
	return m.publishedBy[ci][si]
}

// timings records a completed interaction's timings (acknowledged, or
// derived in a dry run).
func (m *metrics) timings(t *bridge.Timings) {
	ci := slices.Index(bridge.ChannelTypes, t.ChannelType)
	if ci < 0 { // not a canonical value: cannot happen after validation
		return
	}
	outcome := 0
	if t.Abandoned {
		outcome = 1
	}
	m.completedBy[ci][outcome].Inc()
	for i, f := range timingFigures {
		if !f.answered || t.Answered {
			m.timingBy[ci][i].Observe(f.of(t).Seconds())
		}
	}
}

func (m *metrics) held(waited time.Duration) { m.heldFor.Observe(waited.Seconds()) }

func (m *metrics) register(st *engine.Stats, stream source, clients []*genesys.Client, nc *nats.Conn, js *publish.JetStream, dead *publish.DeadLetters) {
	counter := func(name, help string, f func() uint64) {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(f()) }))
	}
	gauge := func(name, help string, f func() float64) {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	counter("genesys_bridge_events_total", "Valid events read from Genesys.", st.Events.Load)
	counter("genesys_bridge_events_stale_total", "Events dropped as provably older than the applied state.", st.Stale.Load)
	counter("genesys_bridge_events_unchanged_total", "Events that changed no status (repeats).", st.Unchanged.Load)
	counter("genesys_bridge_events_late_total", "Events for interactions already completed and released.", st.Late.Load)
	counter("genesys_bridge_transitions_total", "Transitions derived, before the filter.", st.Transitions.Load)
	counter("genesys_bridge_transitions_filtered_total", "Transitions not published because of BRIDGE_CHANNEL_TYPES/BRIDGE_STATUSES.", st.Filtered.Load)
	counter("genesys_bridge_publish_failed_total", "Transitions the publisher gave up on.", st.Failed.Load)
	if js != nil { // not in a dry run
		counter("genesys_bridge_publish_retries_total", "Publishes sent again after a failure (a timeout, no responders, a lost connection).", js.Retries)
	}
	counter("genesys_bridge_interactions_released_total", "Interactions released from memory.", st.Released.Load)
	counter("genesys_bridge_interactions_restored_total", "Interactions whose state was loaded from the stream (after a restart, or released earlier).", st.Restored.Load)
	counter("genesys_bridge_state_loads_total", "Interactions whose state was read from the stream one by one (one request each) rather than in the one pass at start.", st.Loads.Load)
	counter("genesys_bridge_transitions_conflicts_total", "Transitions dropped because another writer had persisted a newer state.", st.Conflicts.Load)
	perClient := func(name, help string, client string, f func() float64) {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: prometheus.Labels{"client_id": client}}, f))
	}
	for _, c := range clients {
		perClient("genesys_bridge_genesys_request_paced_seconds_total", "How long REST requests to Genesys waited for their turn under GENESYS_REQUESTS_PER_MINUTE, in total, by OAuth client.",
			c.ID(), func() float64 { return c.PacedFor().Seconds() })
	}
	counter("genesys_bridge_genesys_reconnects_total", "Genesys sockets that died and were replaced after a gap (back-filled).", stream.Reconnects)
	switch s := stream.(type) {
	case *genesys.Stream:
		counter("genesys_bridge_genesys_rollovers_total", "Genesys channels replaced make-before-break (token rotation, channel expiry, socket_closing).", s.Rollovers)
		counter("genesys_bridge_genesys_backfilled_total", "Conversations fetched over REST to fill gaps.", s.Backfilled)
		gauge("genesys_bridge_agents_followed", "Agents whose activity topic the bridge subscribes (GENESYS_AGENTS).", func() float64 { return float64(s.Agents()) })
		counter("genesys_bridge_agent_joins_total", "Queue members followed since the start because they joined a configured queue.", s.Joins)
		counter("genesys_bridge_agent_joins_refused_total", "Queue members not followed because every channel of the OAuth clients was full.", s.JoinsRefused)
		for i, c := range clients {
			state := func() genesys.ClientState { cs, _ := s.ClientStatus(); return cs[i] }
			perClient("genesys_bridge_genesys_client_up", "1 while the OAuth client's login is accepted, 0 once Genesys refused it (its channels move to the other clients).",
				c.ID(), func() float64 {
					if state().Refused != nil {
						return 0
					}
					return 1
				})
			perClient("genesys_bridge_genesys_client_channels", "Channels (lanes of up to 1,000 topics) the OAuth client holds.", c.ID(),
				func() float64 { return float64(state().Lanes) })
		}
		gauge("genesys_bridge_lanes_read", "Lanes (channels of up to 1,000 topics) this replica reads now: with BRIDGE_SHARE_LANES, those whose lease it holds.",
			func() float64 { return float64(s.LanesRead()) })
		gauge("genesys_bridge_genesys_lanes_uncovered", "Lanes (channels of up to 1,000 topics) that no OAuth client has room for: their topics are not read.",
			func() float64 { _, n := s.ClientStatus(); return float64(n) })
	case *interactions.Stream:
		counter("genesys_bridge_sequence_regressions_total", "Interactions-stream events dropped because their sequence went backwards.", s.SequenceRegressions)
	}
	for _, r := range bridge.Reasons {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "genesys_bridge_frames_rejected_total",
			Help:        "Frames rejected (counted, logged and, unless NATS_DEAD_LETTERS=false, dead-lettered), by reason.",
			ConstLabels: prometheus.Labels{"reason": string(r)},
		}, func() float64 { return float64(st.RejectedBy(r)) }))
	}
	if dead != nil {
		for _, result := range []string{"stored", "failed"} {
			m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name:        "genesys_bridge_dead_letters_total",
				Help:        "Rejected frames sent to the dead letters' stream: stored, or failed to store.",
				ConstLabels: prometheus.Labels{"result": result},
			}, func() float64 {
				stored, failed := dead.Counts()
				if result == "stored" {
					return float64(stored)
				}
				return float64(failed)
			}))
		}
	}
	counter("genesys_bridge_gaps_total", "Gaps in the Genesys stream (dead sockets, restarts) whose history was back-filled.", st.Gaps.Load)
	counter("genesys_bridge_transitions_incomplete_total", "Transitions published without the complete history of a gap before them (marked incomplete).", st.Incomplete.Load)
	counter("genesys_bridge_backfill_held_frames_total", "Frames held back after a gap until the gap's history was applied.", st.HeldTotal.Load)
	gauge("genesys_bridge_backfill_waiting_interactions", "Interactions waiting for a gap's history.", func() float64 { return float64(st.Waiting.Load()) })
	gauge("genesys_bridge_interactions_open", "Interactions held in memory.", func() float64 { return float64(st.Open.Load()) })
	gauge("genesys_bridge_transitions_outstanding", "Transitions sent but not yet acknowledged.", func() float64 { return float64(st.Outstanding.Load()) })
	if nc != nil { // not in a dry run
		gauge("genesys_bridge_nats_connected", "1 while connected to NATS.", func() float64 { return b2f(nc.IsConnected()) })
	}
	gauge("genesys_bridge_genesys_healthy", "1 while the Genesys socket delivers frames.", func() float64 { return b2f(stream.Healthy()) })
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (m *metrics) handler(nc *nats.Conn, stream source) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		switch {
		case nc != nil && !nc.IsConnected():
			http.Error(w, "not ready: NATS disconnected", http.StatusServiceUnavailable)
		case !stream.Healthy():
			http.Error(w, "not ready: no recent frame from Genesys", http.StatusServiceUnavailable)
		default:
			ok, detail := true, ""
			if r, is := stream.(interface{ Readiness() (bool, string) }); is {
				ok, detail = r.Readiness()
			}
			if !ok {
				http.Error(w, "not ready: "+detail, http.StatusServiceUnavailable)
				return
			}
			w.Write([]byte("ready\n" + detail))
		}
	})
	return mux
}

// registerSharing registers what the lane leases tell (when shared).
func (m *metrics) registerSharing(sh sharing) {
	if sh.leases == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "genesys_bridge_replicas",
		Help: "Replicas of this lane plan sharing the lanes (BRIDGE_SHARE_LANES), as the lease bucket shows them."},
		func() float64 { return float64(sh.leases.Replicas()) }))
}
