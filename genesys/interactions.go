package genesys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// InteractionsConfig configures the "interactions stream" dialect of the
// original tutorial. Zero values are the documented defaults.
type InteractionsConfig struct {
	Client *Client
	// APIURL is the API base URL; the socket is <APIURL>/api/v2/interactions/stream
	// with wss (ws for an http base).
	APIURL string
	// Filter is sent as {"filter":{"types":[...],"status":[...]}} on open.
	Filter bridge.Filter
	// PingInterval: the dialect has no heartbeat, so the client sends
	// WebSocket pings and treats two intervals without any frame or pong as
	// a dead socket. Default 30s.
	PingInterval            time.Duration
	MaxFrameSize            int64
	BackoffBase, BackoffMax time.Duration
	Dialer                  *websocket.Dialer
	Logger                  *slog.Logger
}

// CloseTokenExpired is the close code the interactions stream uses for an
// expired or invalid token.
const CloseTokenExpired = 4001

// InteractionStream speaks the tutorial's dialect: the token in the
// access_token query parameter, a filter message on open, in-band token
// refresh, close code 4001 for a bad token, and flat events
// {sequence,id,type,status,channelType,timestamp,attributes}. Unlike the
// tutorial, every status change of an interaction becomes a transition.
type InteractionStream struct {
	*feed
	cfg         InteractionsConfig
	log         *slog.Logger
	lastSeq     atomic.Int64 // highest sequence delivered; -1 before the first
	regressions atomic.Uint64
	reconnects  atomic.Uint64
}

// NewInteractionStream returns an InteractionStream; Run starts it.
func NewInteractionStream(cfg InteractionsConfig) (*InteractionStream, error) {
	if cfg.Client == nil {
		return nil, errors.New("interactions stream: no client")
	}
	u, err := url.Parse(cfg.APIURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("interactions stream: API URL %q is not an absolute http(s) URL", redactURL(cfg.APIURL))
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 30 * time.Second
	}
	log := socketDefaults(&cfg.MaxFrameSize, &cfg.BackoffBase, &cfg.BackoffMax, &cfg.Dialer, cfg.Logger)
	s := &InteractionStream{feed: newFeed(cfg.PingInterval), cfg: cfg, log: log}
	s.lastSeq.Store(-1)
	return s, nil
}

// SequenceRegressions counts events dropped because their sequence was not
// above the last one delivered (replays and reordering).
func (s *InteractionStream) SequenceRegressions() uint64 { return s.regressions.Load() }

// Reconnects counts sockets replaced.
func (s *InteractionStream) Reconnects() uint64 { return s.reconnects.Load() }

// streamURL is the socket URL without the token (safe to log).
func (s *InteractionStream) streamURL() string {
	base := strings.TrimRight(s.cfg.APIURL, "/")
	if rest, ok := strings.CutPrefix(base, "https://"); ok {
		base = "wss://" + rest
	} else if rest, ok := strings.CutPrefix(base, "http://"); ok {
		base = "ws://" + rest
	}
	return base + "/api/v2/interactions/stream"
}

// Run connects and reconnects until ctx ends or the credentials are refused.
func (s *InteractionStream) Run(ctx context.Context) error {
	err := s.run(ctx)
	s.finish(err)
	return err
}

func (s *InteractionStream) run(ctx context.Context) error {
	attempt := 0
	for {
		started := time.Now()
		err := s.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrBadCredentials) {
			return err
		}
		s.reconnects.Add(1)
		if time.Since(started) > 4*s.cfg.PingInterval {
			attempt = 0
		}
		var wait time.Duration
		var ce *websocket.CloseError
		if errors.As(err, &ce) && ce.Code == CloseTokenExpired {
			s.cfg.Client.InvalidateToken(nil) // drop whatever is cached; fetch anew at once
		} else {
			attempt++
			wait = Backoff(attempt, s.cfg.BackoffBase, s.cfg.BackoffMax)
		}
		s.log.Warn("interactions stream lost; reconnecting", "err", err, "attempt", attempt, "wait", wait.String(),
			"since_last_frame", time.Since(time.Unix(0, s.lastHealthy.Load())).Round(time.Millisecond).String())
		if !sleepCtx(ctx, wait) {
			return nil
		}
	}
}

type filterMessage struct {
	Filter struct {
		Types  []string `json:"types"`
		Status []string `json:"status"`
	} `json:"filter"`
}

type refreshMessage struct {
	Type        string `json:"type"`
	AccessToken string `json:"access_token"`
}

func (s *InteractionStream) session(ctx context.Context) error {
	ct, err := s.cfg.Client.token(ctx)
	if err != nil {
		return err
	}
	target := s.streamURL() + "?access_token=" + url.QueryEscape(ct.tok.AccessToken)
	ws, resp, err := s.cfg.Dialer.DialContext(ctx, target, nil)
	if err != nil {
		if resp != nil {
			if resp.StatusCode == http.StatusUnauthorized {
				s.cfg.Client.InvalidateToken(ct.tok)
			}
			return &APIError{Op: "connect interactions stream", Status: resp.StatusCode}
		}
		// Never log the dial URL: it carries the token.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("connect interactions stream %s: %s", s.streamURL(), strings.ReplaceAll(err.Error(), ct.tok.AccessToken, "[redacted]"))
	}
	sock := &socket{conn: ws}
	defer sock.conn.Close()
	var fm filterMessage
	fm.Filter.Types, fm.Filter.Status = []string{}, []string{}
	for _, c := range s.cfg.Filter.ChannelTypes {
		fm.Filter.Types = append(fm.Filter.Types, string(c))
	}
	for _, st := range s.cfg.Filter.Statuses {
		fm.Filter.Status = append(fm.Filter.Status, string(st))
	}
	if err := sock.writeJSON(fm); err != nil {
		return fmt.Errorf("send filter: %w", err)
	}
	s.log.Info("interactions stream connected", "url", s.streamURL(), "types", fm.Filter.Types, "status", fm.Filter.Status)

	wd := &watchdog{interval: s.cfg.PingInterval, ping: sock.wsPing, kill: sock.kill}
	wd.kick()
	ws.SetPongHandler(func(string) error { wd.kick(); return nil })
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { wd.run(sctx) })
	wg.Go(func() { s.refreshLoop(sctx, sock, ct.refreshAt) })
	stopKill := context.AfterFunc(ctx, func() { sock.kill(ctx.Err()) })
	defer func() {
		stopKill()
		stop()
		wg.Wait()
	}()
	for {
		_, r, err := ws.NextReader()
		if err != nil {
			if why := sock.reason(); why != nil {
				return why
			}
			return err
		}
		now := time.Now()
		wd.kick()
		s.lastHealthy.Store(now.UnixNano())
		data, err := readFrame(r, s.cfg.MaxFrameSize)
		if err != nil {
			if errors.Is(err, errOversize) {
				s.deliver(ctx, wd, item{err: bridge.Reject(bridge.ReasonOversize, data, "frame larger than %d bytes skipped", s.cfg.MaxFrameSize)})
				continue
			}
			return fmt.Errorf("read frame: %w", err)
		}
		ev, seq, err := DecodeInteraction(data, now)
		if err != nil {
			s.deliver(ctx, wd, item{err: err})
			continue
		}
		if last := s.lastSeq.Load(); seq <= last {
			s.regressions.Add(1)
			s.log.Debug("sequence regression dropped", "sequence", seq, "last", last, "interaction_id", ev.InteractionID)
			continue
		}
		s.lastSeq.Store(seq)
		if !s.deliver(ctx, wd, item{ev: ev}) {
			return ctx.Err()
		}
	}
}

// refreshLoop sends {"type":"refresh","access_token":...} in-band before
// each token is due for replacement.
func (s *InteractionStream) refreshLoop(ctx context.Context, sock *socket, refreshAt time.Time) {
	for {
		if !sleepCtx(ctx, time.Until(refreshAt)) {
			return
		}
		ct, err := s.cfg.Client.token(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("token refresh failed; reconnecting", "err", err)
				sock.kill(fmt.Errorf("token refresh: %w", err))
			}
			return
		}
		if err := sock.writeJSON(refreshMessage{Type: "refresh", AccessToken: ct.tok.AccessToken}); err != nil {
			sock.kill(fmt.Errorf("send token refresh: %w", err))
			return
		}
		s.log.Info("access token refreshed in-band")
		refreshAt = ct.refreshAt
	}
}

// interactionEvent is the tutorial's flat event. Pointers tell a missing
// field from a zero one; encoding/json rejects wrong types.
type interactionEvent struct {
	Sequence    *int64          `json:"sequence"`
	ID          *string         `json:"id"`
	Type        *string         `json:"type"`
	Status      *string         `json:"status"`
	ChannelType *string         `json:"channelType"`
	Timestamp   *string         `json:"timestamp"`
	Attributes  json.RawMessage `json:"attributes"`
}

// DecodeInteraction validates one flat event strictly (every field present
// with its type, status and channelType from the canonical sets, timestamp
// RFC 3339, attributes an object if present) and returns it as a bridge
// event with its sequence.
func DecodeInteraction(data []byte, observedAt time.Time) (bridge.Event, int64, error) {
	var e interactionEvent
	if err := json.Unmarshal(data, &e); err != nil {
		return bridge.Event{}, 0, bridge.Reject(bridge.ReasonMalformed, data, "decode interaction event: %v", jsonErr(err))
	}
	for _, f := range []struct {
		name    string
		missing bool
	}{{"sequence", e.Sequence == nil}, {"id", e.ID == nil}, {"type", e.Type == nil}, {"status", e.Status == nil},
		{"channelType", e.ChannelType == nil}, {"timestamp", e.Timestamp == nil}} {
		if f.missing {
			return bridge.Event{}, 0, bridge.Reject(bridge.ReasonSchema, data, "interaction event: %s is missing", f.name)
		}
	}
	if *e.Sequence < 0 {
		return bridge.Event{}, 0, bridge.Reject(bridge.ReasonSchema, data, "interaction event: sequence %d is negative", *e.Sequence)
	}
	if *e.Type == "" {
		return bridge.Event{}, 0, bridge.Reject(bridge.ReasonSchema, data, "interaction event: type is empty")
	}
	status, err := bridge.ParseStatus(*e.Status)
	if err != nil {
		return bridge.Event{}, 0, bridge.Reject(bridge.ReasonSchema, data, "interaction event: %v", err)
	}
	ch, err := bridge.ParseChannelType(*e.ChannelType)
	if err != nil {
		return bridge.Event{}, 0, bridge.Reject(bridge.ReasonSchema, data, "interaction event: %v", err)
	}
	ts, err := time.Parse(time.RFC3339Nano, *e.Timestamp)
	if err != nil {
		return bridge.Event{}, 0, bridge.Reject(bridge.ReasonSchema, data, "interaction event: timestamp %q is not RFC 3339", truncate(*e.Timestamp, 40))
	}
	if a := bytes.TrimSpace(e.Attributes); len(a) > 0 && !bytes.Equal(a, []byte("null")) && a[0] != '{' {
		return bridge.Event{}, 0, bridge.Reject(bridge.ReasonSchema, data, "interaction event: attributes is not an object")
	}
	ev := bridge.Event{
		InteractionID: *e.ID, ChannelType: ch, Status: status,
		Steps:   []bridge.Step{{Status: status, At: ts}},
		Horizon: ts, ObservedAt: observedAt, Sequenced: true,
		Detail: []string{"type:" + safeToken(*e.Type, 64)},
	}
	if err := ev.Validate(); err != nil {
		var rej *bridge.RejectError
		if errors.As(err, &rej) {
			rej.Excerpt = bridge.Reject(rej.Reason, data, "").Excerpt
		}
		return bridge.Event{}, 0, err
	}
	return ev, *e.Sequence, nil
}
