package simulator

import (
	"container/heap"
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// Config configures the simulator. Zero values are the documented defaults.
type Config struct {
	// Addr is the listen address. Default "127.0.0.1:0" (a port the OS picks).
	Addr string
	// Listener, if set, is used instead of listening on Addr (a MemNet, for
	// tests under testing/synctest).
	Listener net.Listener
	// TLS, if set, serves HTTPS and WSS with it instead of HTTP and WS.
	TLS *tls.Config
	// ClientID and ClientSecret are the accepted client credentials.
	// Defaults "sim-client" and "sim-secret".
	ClientID, ClientSecret string
	// Clients are further accepted OAuth clients (id to secret), each with
	// its own channel ceiling and request rate (clients.go).
	Clients map[string]string
	// RequestsPerMinute, if set, is how many API calls one client may make
	// in a minute; beyond it calls answer 429 with Retry-After until the
	// minute is over. Default 0 (no limit).
	RequestsPerMinute int
	// TokenLifetime is expires_in of issued tokens. Default 24h.
	TokenLifetime time.Duration
	// HeartbeatInterval is the socket heartbeat period. Default 30s.
	HeartbeatInterval time.Duration
	// Queues and Agents size the population. Defaults 3 and 12.
	Queues, Agents int
	// QueueIDs, if set, are the queue ids (instead of Queues generated ones),
	// so that a deployment can configure the simulator and the bridge alike.
	QueueIDs []string
	// UserIDs, if set, are the agents' user ids (instead of Agents
	// generated ones).
	UserIDs []string
	// LateJoiners is how many agents (the last in the population's order)
	// are members of no queue at first: each joins every queue later
	// (lateJoinSpacing simulated seconds apart, times StepScale), with a
	// notification on v2.routing.queues.{id}.users, and logs in then.
	LateJoiners int
	// QueuesPerAgent, if set, makes each agent a member of that many
	// queues (spread evenly) instead of every queue, as in a large org.
	QueuesPerAgent int
	// Seed makes the generated conversations reproducible. Default 1.
	Seed uint64
	// Start is the simulated time of the first conversation (default: now).
	// Two simulators with the same Seed and Start send identical frames.
	Start time.Time
	// Until, if set, stops the simulator Until after Start (simulated time):
	// later frames are never sent, leaving conversations mid-flight.
	Until time.Duration
	// Conversations is how many conversations to generate; 0 means no end,
	// a negative number none (only frames sent with Inject).
	Conversations int
	// Rate is new conversations per simulated second. Default 2.
	Rate float64
	// Speed is simulated seconds per wall second; 0 runs as fast as the
	// client reads. Default 0.
	Speed float64
	// Pregenerate writes every conversation (Conversations of them, which
	// must be set) before Start returns, so that with Speed 0 the frames
	// go as fast as the sockets take them, the generator's own cost out of
	// the way: a feed for benchmarks. Simulated time starts at Start.
	Pregenerate bool
	// StepScale multiplies the waits inside a conversation (default 1:
	// seconds to a minute). With Speed 1 and a small StepScale, timestamps
	// are wall-clock time and conversations last a fraction of a second,
	// which is what tests of time-based behaviour (back-fill) want.
	StepScale float64
	// Channels to generate. Default voice, chat, email, message, callback.
	Channels []bridge.ChannelType
	// DuplicateRate is the chance that a frame is sent twice.
	DuplicateRate float64
	// ReorderRate is the chance that a frame is held back and sent after the
	// next frame of its conversation (only where a later frame can prove
	// the delayed frame's status; see the package doc).
	ReorderRate float64
	// ChannelLifetime is how long a channel lives unless re-subscribed.
	// Default 24h.
	ChannelLifetime time.Duration
	// AnalyticsLag is how far the analytics details query lags: it shows
	// each conversation as it was this long ago (and nothing of one that
	// started since). Default 0.
	AnalyticsLag time.Duration
	// AnalyticsMaxResults is where the details query's paging stops.
	// Default 100,000, as the real service.
	AnalyticsMaxResults int
	// LongConversations is the share of message conversations that stay
	// open for hours (times StepScale). Default 0.
	LongConversations float64
	// AnalyticsRetention is how long a completed conversation stays
	// queryable. Default 1h.
	AnalyticsRetention time.Duration
	// RoutingDenied answers GET /api/v2/routing/queues/{id} and GET
	// /api/v2/users/{id} with 403, as for a client without
	// routing:queue:view and directory:user:view.
	RoutingDenied bool
	// EventLag is how long a notification takes to reach a socket after it
	// is sent, while the socket answers a ping at once. Genesys documents no
	// order between a ping's answer and the notifications in flight, so a
	// pong may overtake frames sent before the ping. Default 0.
	EventLag time.Duration
	Logger   *slog.Logger
}

// Server is a Genesys Cloud simulator: OAuth, notification channels,
// subscriptions and the socket, on loopback, with a generator of
// conversations whose transitions it records as ground truth.
type Server struct {
	cfg  Config
	log  *slog.Logger
	pop  Population
	ln   net.Listener
	http *http.Server
	// URL is the base URL for both the API and the login service.
	URL string

	mu          sync.Mutex
	tokens      map[string]time.Time // token -> expiry
	tokenClient map[string]string    // token -> the client it was issued to
	clients     map[string]*clientState
	channels    map[string]*channel
	known       map[string]int // the population's ids: isQueue, isAgent
	truth       []Truth
	store       conversationStore
	agents      *agentWorld // agents.go
	faults      faultState
	isocks      map[*interactionsSock]bool
	seq         atomic.Int64

	startOnce sync.Once
	startCh   chan struct{} // closed when the generator may start
	// pregenerated is closed once every conversation is generated
	// (Config.Pregenerate).
	pregenerated chan struct{}
	done         chan struct{} // closed when every conversation was sent
	closing      chan struct{}
	wg           sync.WaitGroup
	framesSent   atomic.Uint64
	tokensMade   atomic.Uint64
	queries      atomic.Uint64
	evictions    atomic.Uint64
}

type channel struct {
	id      string
	token   string // the token that created it; the channel dies with it
	client  string // the OAuth client that created it
	created time.Time
	expires time.Time
	topics  map[string]bool
	sock    *simSocket
}

// Start starts the simulator.
func Start(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln := cfg.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return nil, fmt.Errorf("simulator: listen: %w", err)
		}
	}
	scheme := "http://"
	if cfg.TLS != nil {
		ln, scheme = tls.NewListener(ln, cfg.TLS), "https://"
	}
	for id, secret := range cfg.Clients {
		if id == "" || secret == "" || id == cfg.ClientID {
			return nil, fmt.Errorf("simulator: client %q: each further client needs an id of its own and a secret", id)
		}
	}
	pop := NewPopulation(rand.New(rand.NewPCG(cfg.Seed, 0)), cfg.Queues, cfg.Agents)
	if len(cfg.QueueIDs) > 0 {
		pop.Queues = cfg.QueueIDs
	}
	if len(cfg.UserIDs) > 0 {
		pop.Agents = cfg.UserIDs
	}
	s := &Server{
		cfg: cfg, log: log, ln: ln, URL: scheme + ln.Addr().String(),
		pop:          pop,
		agents:       newAgentWorld(pop, rand.New(rand.NewPCG(cfg.Seed, 2)), cfg.StepScale, cfg.LateJoiners, cfg.QueuesPerAgent),
		tokens:       map[string]time.Time{},
		tokenClient:  map[string]string{},
		clients:      map[string]*clientState{cfg.ClientID: {secret: cfg.ClientSecret}},
		channels:     map[string]*channel{},
		isocks:       map[*interactionsSock]bool{},
		startCh:      make(chan struct{}),
		pregenerated: make(chan struct{}),
		done:         make(chan struct{}),
		closing:      make(chan struct{}),
	}
	for id, secret := range cfg.Clients {
		s.clients[id] = &clientState{secret: secret}
	}
	s.known = map[string]int{}
	for _, q := range pop.Queues {
		s.known[q] = isQueue
	}
	for _, a := range pop.Agents {
		s.known[a] = isAgent
	}
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	s.wg.Go(func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("simulator: serve", "err", err)
		}
	})
	s.wg.Go(s.generate)
	s.wg.Go(s.reap)
	if cfg.Pregenerate {
		<-s.pregenerated
	}
	return s, nil
}

// Population returns the simulated queues and agents.
func (s *Server) Population() Population { return s.pop }

// Truth returns the transitions caused so far, in the order they happened.
func (s *Server) Truth() []Truth {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Truth(nil), s.truth...)
}

// Done is closed once every configured conversation has been sent.
func (s *Server) Done() <-chan struct{} { return s.done }

// DropSockets closes every open socket abruptly, as a network failure
// would, and returns how many it closed.
func (s *Server) DropSockets() int {
	socks := s.openSockets()
	for _, sock := range socks {
		sock.close()
	}
	return len(socks)
}

// Inject sends a raw frame to every open socket, and returns how many
// sockets took it. Tests use it for malformed and hostile input.
func (s *Server) Inject(frame []byte) int {
	n := 0
	for _, sock := range s.openSockets() {
		if sock.enqueue(frame, s.closing) {
			n++
		}
	}
	return n
}

// Sockets counts open sockets.
func (s *Server) Sockets() int { return len(s.openSockets()) }

func (s *Server) openSockets() []*simSocket {
	s.mu.Lock()
	defer s.mu.Unlock()
	var socks []*simSocket
	for _, ch := range s.channels {
		if ch.sock != nil {
			socks = append(socks, ch.sock)
		}
	}
	for is := range s.isocks {
		socks = append(socks, is.sock)
	}
	return socks
}

// AnalyticsQueries counts details queries answered (pages included).
func (s *Server) AnalyticsQueries() uint64 { return s.queries.Load() }

func (s *Server) countQuery() { s.queries.Add(1) }

// FramesSent counts conversation frames written to sockets.
func (s *Server) FramesSent() uint64 { return s.framesSent.Load() }

// IssuedTokens returns every access token issued, for tests that check
// no token reaches a log.
func (s *Server) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.tokens))
	for tok := range s.tokens {
		out = append(out, tok)
	}
	return out
}

// TokensIssued counts access tokens issued.
func (s *Server) TokensIssued() uint64 { return s.tokensMade.Load() }

// Close stops the simulator and waits for its goroutines.
func (s *Server) Close() {
	close(s.closing)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.http.Shutdown(ctx)
	s.mu.Lock()
	for _, ch := range s.channels {
		if ch.sock != nil {
			ch.sock.close()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// QueueName is the name the routing API gives queue id: "Queue N" for the
// population's N-th queue (from 1), "" for an unknown one.
func (s *Server) QueueName(id string) string {
	if i := slices.Index(s.pop.Queues, id); i >= 0 {
		return fmt.Sprintf("Queue %d", i+1)
	}
	return ""
}

// handleGetQueue is GET /api/v2/routing/queues/{id}: the routing model's
// id and name (and a few of its other fields).
func (s *Server) handleGetQueue(w http.ResponseWriter, r *http.Request) {
	if s.cfg.RoutingDenied {
		apiError(w, http.StatusForbidden, "missing.permissions", "Unable to perform the requested action. You are missing the following permission(s): [routing:queue:view]")
		return
	}
	id := r.PathValue("id")
	name := s.QueueName(id)
	if name == "" {
		apiError(w, http.StatusNotFound, "not.found", "The requested resource was not found.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "name": name, "memberCount": 4, "selfUri": "/api/v2/routing/queues/" + id})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ININ-Correlation-Id", randomHex(8))
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"message": msg, "code": code, "status": status})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type", "description": "grant_type must be client_credentials", "error_description": "grant_type must be client_credentials"})
		return
	}
	if !ok || !s.acceptLogin(id, secret) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_client", "description": "client not found or secret mismatch", "error_description": "client not found or secret mismatch"})
		return
	}
	tok := randomHex(24)
	s.mu.Lock()
	s.tokens[tok] = time.Now().Add(s.cfg.TokenLifetime)
	s.tokenClient[tok] = id
	s.mu.Unlock()
	s.tokensMade.Add(1)
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": int(s.cfg.TokenLifetime.Seconds())})
}

func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		exp, known := s.tokens[tok]
		s.mu.Unlock()
		if !ok || !known || time.Now().After(exp) {
			apiError(w, http.StatusUnauthorized, "bad.credentials", "Invalid login credentials.")
			return
		}
		if s.rateLimited(w, tok) || s.injectRESTFailure(w) {
			return
		}
		h(w, r)
	}
}

func (s *Server) handleCreateChannel(w http.ResponseWriter, r *http.Request) {
	if s.inBlackout() {
		apiError(w, http.StatusServiceUnavailable, "service.unavailable", "simulated outage")
		return
	}
	id := uuidFromCrypto()
	tok := bearer(r)
	now := time.Now()
	expires := now.Add(s.cfg.ChannelLifetime)
	s.mu.Lock()
	client := s.clientOfLocked(tok)
	evicted := s.admitChannelLocked(client)
	s.channels[id] = &channel{id: id, token: tok, client: client, created: now, expires: expires, topics: map[string]bool{}}
	s.mu.Unlock()
	if evicted != nil {
		s.sendGone([]*simSocket{evicted})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"connectUri": s.wsScheme() + r.Host + "/channels/" + id,
		"id":         id,
		"expires":    expires.UTC().Format(wireTime),
	})
}

func (s *Server) wsScheme() string {
	if s.cfg.TLS != nil {
		return "wss://"
	}
	return "ws://"
}

func uuidFromCrypto() string {
	h := randomHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func (s *Server) handleChannelHead(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	_, ok := s.channelOfLocked(r)
	s.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// permitted reports whether the simulated org lets the client subscribe t.
// withDefaults fills in the documented defaults and checks the channels.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "sim-client"
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = "sim-secret"
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = 24 * time.Hour
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 30 * time.Second
	}
	if cfg.Pregenerate && cfg.Conversations <= 0 {
		return cfg, errors.New("simulator: Pregenerate needs a number of Conversations")
	}
	if cfg.Queues <= 0 {
		cfg.Queues = 3
	}
	if cfg.Agents <= 0 {
		cfg.Agents = 12
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 2
	}
	if cfg.ChannelLifetime <= 0 {
		cfg.ChannelLifetime = 24 * time.Hour
	}
	if cfg.AnalyticsRetention <= 0 {
		cfg.AnalyticsRetention = time.Hour
	}
	if cfg.AnalyticsMaxResults <= 0 {
		cfg.AnalyticsMaxResults = 100_000
	}
	if len(cfg.Channels) == 0 {
		cfg.Channels = []bridge.ChannelType{bridge.ChannelVoice, bridge.ChannelChat, bridge.ChannelEmail, bridge.ChannelMessage, bridge.ChannelCallback}
	}
	for _, c := range cfg.Channels {
		if _, ok := mediaKeys[c]; !ok {
			return cfg, fmt.Errorf("simulator: channel %q is not simulated", c)
		}
	}
	return cfg, nil
}

// routes is the simulator's API: OAuth, channels and subscriptions, the
// socket, the tutorial's stream, conversations, queues and analytics.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", s.handleToken)
	mux.HandleFunc("POST /api/v2/notifications/channels", s.auth(s.handleCreateChannel))
	mux.HandleFunc("PUT /api/v2/notifications/channels/{id}/subscriptions", s.auth(s.handleSubscribe))
	mux.HandleFunc("POST /api/v2/notifications/channels/{id}/subscriptions", s.auth(s.handleSubscribe))
	mux.HandleFunc("DELETE /api/v2/notifications/channels/{id}/subscriptions", s.auth(s.handleUnsubscribe))
	mux.HandleFunc("HEAD /api/v2/notifications/channels/{id}", s.auth(s.handleChannelHead))
	mux.HandleFunc("GET /channels/{id}", s.handleSocket)
	mux.HandleFunc("GET /api/v2/interactions/stream", s.handleInteractionsStream)
	mux.HandleFunc("GET /api/v2/conversations/{id}", s.auth(s.handleGetConversation))
	mux.HandleFunc("GET /api/v2/routing/queues/{id}", s.auth(s.handleGetQueue))
	mux.HandleFunc("GET /api/v2/routing/queues/{id}/members", s.auth(s.handleQueueMembers))
	mux.HandleFunc("GET /api/v2/users/{id}", s.auth(s.handleGetUser))
	mux.HandleFunc("GET /api/v2/users/{id}/routingstatus", s.auth(s.handleRoutingStatus))
	mux.HandleFunc("GET /api/v2/users/{id}/presences/purecloud", s.auth(s.handlePresence))
	mux.HandleFunc("POST /api/v2/analytics/conversations/details/query", s.auth(s.handleDetailsQuery))
	mux.HandleFunc("POST /api/v2/analytics/users/details/query", s.auth(s.handleUserDetailsQuery))
	return mux
}

func (s *Server) permitted(t string) (bool, string) {
	if rest, ok := strings.CutPrefix(t, "v2.routing.queues."); ok {
		id, kind, _ := strings.Cut(rest, ".")
		if s.known[id] == isQueue && (kind == "conversations" || kind == "users") {
			return true, ""
		}
	} else if rest, ok := strings.CutPrefix(t, "v2.users."); ok {
		id, kind, _ := strings.Cut(rest, ".")
		if s.known[id] == isAgent && (kind == "conversations" || kind == "activity") {
			return true, ""
		}
	}
	return false, "Not found or not permitted"
}

// Kinds of the population's ids (Server.known).
const (
	isQueue = 1 + iota
	isAgent
)

// handleUnsubscribe removes every subscription of a channel.
func (s *Server) handleUnsubscribe(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	ch, ok := s.channelOfLocked(r)
	if ok {
		ch.topics = map[string]bool{}
	}
	s.mu.Unlock()
	if !ok {
		apiError(w, http.StatusNotFound, "not.found", "channel not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleSubscribe(w http.ResponseWriter, r *http.Request) {
	var body []struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		apiError(w, http.StatusBadRequest, "bad.request", "body must be a list of {\"id\": topic}")
		return
	}
	if len(body) > 1000 {
		apiError(w, http.StatusBadRequest, "notification.too.many.topics", "a channel holds at most 1000 topics")
		return
	}
	ignore := r.URL.Query().Get("ignoreErrors") == "true"
	type entity struct {
		ID              string `json:"id"`
		State           string `json:"state"`
		RejectionReason string `json:"rejectionReason,omitempty"`
	}
	var out []entity
	topics := map[string]bool{}
	for _, t := range body {
		if ok, why := s.permitted(t.ID); ok {
			topics[t.ID] = true
			out = append(out, entity{ID: t.ID, State: "Permitted"})
		} else {
			if !ignore {
				apiError(w, http.StatusForbidden, "missing.permissions", "topic "+t.ID+": "+why)
				return
			}
			out = append(out, entity{ID: t.ID, State: "Rejected", RejectionReason: why})
		}
	}
	s.mu.Lock()
	ch, ok := s.channelOfLocked(r)
	full := false
	if ok {
		merged := topics
		if r.Method != http.MethodPut {
			merged = maps.Clone(ch.topics)
			maps.Copy(merged, topics)
		}
		if full = len(merged) > 1000; !full {
			ch.expires = time.Now().Add(s.cfg.ChannelLifetime) // re-subscribing extends a channel's life
			ch.topics = merged
		}
	}
	s.mu.Unlock()
	if full {
		apiError(w, http.StatusBadRequest, "notification.too.many.topics", "a channel holds at most 1000 topics")
		return
	}
	if !ok {
		apiError(w, http.StatusNotFound, "not.found", "channel not found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"entities": out})
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func (s *Server) handleSocket(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	ch, ok := s.channels[r.PathValue("id")]
	s.mu.Unlock()
	if !ok {
		http.Error(w, "channel not found", http.StatusNotFound)
		return
	}
	if s.inBlackout() {
		http.Error(w, "simulated outage", http.StatusServiceUnavailable)
		return
	}
	// The socket takes the channel's notifications from before the client
	// learns it is connected: what is sent from then on reaches it (queued
	// until the upgrade is done).
	sock := newSimSocket(nil, s.cfg.HeartbeatInterval)
	sock.lag = s.cfg.EventLag
	s.mu.Lock()
	old := ch.sock
	ch.sock = sock
	hasTopics := len(ch.topics) > 0
	s.mu.Unlock()
	if old != nil {
		old.close() // one socket per channel: a second connection kicks the first
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil || !sock.attach(conn) {
		sock.close()
		s.mu.Lock()
		if ch.sock == sock {
			ch.sock = nil
		}
		s.mu.Unlock()
		return
	}
	if hasTopics {
		s.startOnce.Do(func() { close(s.startCh) })
	}
	sock.serve()
	s.mu.Lock()
	if ch.sock == sock {
		ch.sock = nil
	}
	s.mu.Unlock()
}

// send delivers a conversation frame to every socket subscribed to one of
// its topics, once per matching topic, as the real service does.
func (s *Server) send(f *Frame) {
	s.mu.Lock()
	var targets []*simSocket
	var topics []string
	for _, ch := range s.channels {
		if ch.sock == nil {
			continue
		}
		for _, t := range f.Topics {
			if ch.topics[t] {
				targets, topics = append(targets, ch.sock), append(topics, t)
			}
		}
	}
	isocks := make([]*interactionsSock, 0, len(s.isocks))
	for is := range s.isocks {
		isocks = append(isocks, is)
	}
	s.mu.Unlock()
	if f.ConversationID != "" { // not an agent's activity (agents.go)
		s.sendInteraction(f, isocks)
	}
	for i, sock := range targets {
		msg := fmt.Appendf(nil, `{"topicName":%q,"version":"2","eventBody":%s,"metadata":{"CorrelationId":%q}}`,
			topics[i], f.Body, uuidFromCrypto())
		if sock.enqueue(msg, s.closing) {
			s.framesSent.Add(1)
		}
	}
}

// generate runs the conversation engine: arrivals in simulated time, every
// conversation's frames merged in time order and sent, paced by Speed.
func (s *Server) generate() {
	defer close(s.done)
	if s.cfg.Conversations < 0 {
		return
	}
	rng := rand.New(rand.NewPCG(s.cfg.Seed, 1))
	q := &frameQueue{}
	var simStart, nextArrival time.Time
	started := 0
	begin := func() {
		simStart = time.Now().Truncate(time.Millisecond)
		if !s.cfg.Start.IsZero() {
			simStart = s.cfg.Start.Truncate(time.Millisecond)
		}
		nextArrival = simStart
	}
	admit := func() {
		ch := s.cfg.Channels[rng.IntN(len(s.cfg.Channels))]
		sc := GenerateWith(rng, s.pop, ch, nextArrival, GenerateOptions{Scale: s.cfg.StepScale, Long: s.cfg.LongConversations})
		for i := range sc.Frames {
			heap.Push(q, &queued{f: &sc.Frames[i], script: sc, index: i})
		}
		started++
		nextArrival = nextArrival.Add(time.Duration(rng.ExpFloat64() / s.cfg.Rate * float64(time.Second)))
	}
	if s.cfg.Pregenerate {
		begin()
		for started < s.cfg.Conversations {
			admit()
		}
		close(s.pregenerated)
	}
	select {
	case <-s.startCh:
	case <-s.closing:
		return
	}
	if !s.cfg.Pregenerate {
		begin()
	}
	wallStart := time.Now()
	arng := rand.New(rand.NewPCG(s.cfg.Seed, 3)) // the agents' own: conversations stay as the seed makes them
	s.sendAgents(s.agents.login(simStart))
	held := map[string]*queued{} // conversation -> frame held back for reordering
	for {
		// Admit arrivals due before the next frame.
		for (s.cfg.Conversations == 0 || started < s.cfg.Conversations) && (q.Len() == 0 || !nextArrival.After((*q)[0].f.At)) {
			admit()
		}
		if q.Len() == 0 {
			return
		}
		it := heap.Pop(q).(*queued)
		if s.cfg.Until > 0 && it.f.At.Sub(simStart) > s.cfg.Until {
			return
		}
		if s.cfg.Speed > 0 {
			due := wallStart.Add(time.Duration(float64(it.f.At.Sub(simStart)) / s.cfg.Speed))
			select {
			case <-time.After(time.Until(due)):
			case <-s.closing:
				return
			}
		}
		select {
		case <-s.closing:
			return
		default:
		}
		s.sendAgents(s.agents.joins(it.f.At))
		s.sendAgents(s.agents.due(it.f.At, arng))
		s.record(it)
		s.sendAgents(s.agents.observe(it.f, arng))
		if prev := held[it.f.ConversationID]; prev != nil {
			delete(held, it.f.ConversationID)
			s.sendMaybeTwice(it.f, rng)
			s.sendMaybeTwice(prev.f, rng)
			continue
		}
		if s.reorderable(it) && rng.Float64() < s.cfg.ReorderRate {
			held[it.f.ConversationID] = it
			continue
		}
		s.sendMaybeTwice(it.f, rng)
	}
}

func (s *Server) sendMaybeTwice(f *Frame, rng *rand.Rand) {
	s.send(f)
	if rng.Float64() < s.cfg.DuplicateRate {
		s.send(f)
	}
}

// reorderable reports whether frame it may be delivered after the next
// frame of its conversation without making its status unknowable from live
// frames: the next frame must carry a later forward-only timestamp, and
// this frame's change must be one that timestamps prove (a hold, an unhold
// or an agent starting to alert is not), or leave the status as it was, or
// be an agent's alerting that the next frame ends (its connect or
// disconnect proves the alerting just before).
func (s *Server) reorderable(it *queued) bool { return Reorderable(it.script, it.index) }

// Reorderable reports whether frame i of sc may be delivered after frame
// i+1 (see the package doc).
func Reorderable(sc *Script, i int) bool {
	fs := sc.Frames
	if i+1 >= len(fs) || !fs[i+1].Horizon.After(fs[i].Horizon) {
		return false
	}
	switch {
	case i == 0 || fs[i].Status == fs[i-1].Status:
		return true
	case !fs[i].untimed:
		return fs[i].Horizon.After(fs[i-1].Horizon)
	}
	// An agent's ringing delivered after the offer ended unanswered is
	// proven by that end; after the answer it is not (no live frame times
	// an alert, and an agent on auto-answer never rings).
	next := fs[i+1].Status
	return fs[i].Status == bridge.StatusRinging && next != bridge.StatusRinging && next != bridge.StatusConnected &&
		next != bridge.StatusHeld && fs[i].Horizon.Equal(fs[i-1].Horizon)
}

// record adds the truth of a frame when it is emitted.
func (s *Server) record(it *queued) {
	it.f.seq = s.seq.Add(int64(1 + len(it.f.via)))
	s.store.update(it.f, time.Now(), s.cfg.AnalyticsRetention, s.cfg.AnalyticsLag)
	if it.f.truth < 0 {
		return
	}
	s.mu.Lock()
	s.truth = append(s.truth, it.script.Truth[it.f.truth:it.f.truth+it.f.truths]...)
	s.mu.Unlock()
}

type queued struct {
	f      *Frame
	script *Script
	index  int
}

// frameQueue orders frames by simulated time, then by script position.
type frameQueue []*queued

func (q frameQueue) Len() int { return len(q) }
func (q frameQueue) Less(i, j int) bool {
	if !q[i].f.At.Equal(q[j].f.At) {
		return q[i].f.At.Before(q[j].f.At)
	}
	if q[i].script != q[j].script {
		return q[i].script.ID < q[j].script.ID
	}
	return q[i].index < q[j].index
}
func (q frameQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *frameQueue) Push(x any)   { *q = append(*q, x.(*queued)) }
func (q *frameQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}

// simSocket is one server-side socket: a writer with a queue, heartbeats,
// and a reader answering pings.
type simSocket struct {
	silent    atomic.Bool  // a half-dead connection: nothing is written
	onMessage func([]byte) // if set, handles client messages (interactions dialect)
	mu        sync.Mutex   // guards conn, set once by attach
	conn      *websocket.Conn
	heartbeat time.Duration
	// lag delays each queued frame (a notification in flight); pongs and
	// heartbeats, written by the socket itself, are not delayed.
	lag    time.Duration
	out    chan outFrame
	pongs  chan []byte
	closed chan struct{}
	once   sync.Once
}

// outFrame is a queued frame and when it may be written.
type outFrame struct {
	msg []byte
	due time.Time
}

func newSimSocket(conn *websocket.Conn, hb time.Duration) *simSocket {
	return &simSocket{conn: conn, heartbeat: hb, out: make(chan outFrame, 1024), pongs: make(chan []byte, 16), closed: make(chan struct{})}
}

// attach gives the socket its connection once upgraded; it reports false
// (and closes the connection) if the socket was closed meanwhile.
func (s *simSocket) attach(conn *websocket.Conn) bool {
	s.mu.Lock()
	s.conn = conn
	s.mu.Unlock()
	select {
	case <-s.closed:
		_ = conn.Close()
		return false
	default:
		return true
	}
}

func (s *simSocket) close() {
	s.once.Do(func() {
		close(s.closed)
		s.mu.Lock()
		conn := s.conn
		s.mu.Unlock()
		if conn != nil {
			_ = conn.Close()
		}
	})
}

// enqueue blocks while the socket's queue is full: the simulator never
// drops a frame for a slow client that is still connected.
func (s *simSocket) enqueue(msg []byte, stop <-chan struct{}) bool {
	f := outFrame{msg: msg}
	if s.lag > 0 {
		f.due = time.Now().Add(s.lag)
	}
	select {
	case s.out <- f:
		return true
	case <-s.closed:
		return false
	case <-stop:
		return false
	}
}

var (
	heartbeatFrame = []byte(`{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}}`)
	pongFrame      = []byte(`{"topicName":"channel.metadata","eventBody":{"message":"pong"}}`)
)

func (s *simSocket) serve() {
	var wg sync.WaitGroup
	wg.Go(func() {
		defer s.close()
		for {
			_, data, err := s.conn.ReadMessage()
			if err != nil {
				return
			}
			if s.onMessage != nil {
				s.onMessage(data)
				continue
			}
			var m struct {
				Message string `json:"message"`
			}
			if json.Unmarshal(data, &m) == nil && m.Message == "ping" {
				select {
				case s.pongs <- pongFrame:
				case <-s.closed:
					return
				}
			}
		}
	})
	var beat <-chan time.Time
	if s.heartbeat > 0 {
		tick := time.NewTicker(s.heartbeat)
		defer tick.Stop()
		beat = tick.C
	}
	defer wg.Wait()
	defer s.close()
	// next is the queued frame waiting for its due time; in flight, it
	// holds back the frames queued after it but not pongs or heartbeats.
	var next *outFrame
	var due <-chan time.Time
	for {
		in := s.out
		if next != nil {
			in = nil
		}
		var msg []byte
		select {
		case <-s.closed:
			return
		case <-beat:
			msg = heartbeatFrame
		case msg = <-s.pongs:
		case f := <-in:
			if wait := time.Until(f.due); wait > 0 {
				next, due = &f, time.After(wait)
				continue
			}
			msg = f.msg
		case <-due:
			msg, next, due = next.msg, nil, nil
		}
		if s.silent.Load() {
			continue
		}
		_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := s.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
			return
		}
	}
}
