package interactions

import (
	"context"
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
	"golang.org/x/oauth2"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/genesys"
	"github.com/genesys-bridge/genesys-bridge/genesys/internal/rfc3339"
	"github.com/genesys-bridge/genesys-bridge/genesys/internal/wsock"
	"github.com/genesys-bridge/genesys-bridge/internal/intern"
	"github.com/genesys-bridge/genesys-bridge/internal/jsonscan"
	"github.com/genesys-bridge/genesys-bridge/internal/retry"
	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// Config configures the "interactions stream" dialect of the
// original tutorial. Zero values are the documented defaults.
type Config struct {
	Client *genesys.Client
	// APIURL is the API base URL; the socket is <APIURL>/api/v2/interactions/stream
	// with wss (ws for an http base).
	APIURL string
	// Filter is sent as {"filter":{"types":[...],"status":[...]}} on open.
	Filter bridge.Filter
	// PingInterval: the dialect has no heartbeat, so the client sends
	// WebSocket pings and treats two intervals without any frame or pong as
	// a dead socket. Default 30s.
	PingInterval time.Duration
	genesys.SocketConfig
}

// CloseTokenExpired is the close code the interactions stream uses for an
// expired or invalid token.
const CloseTokenExpired = 4001

// Stream speaks the tutorial's dialect: the token in the
// access_token query parameter, a filter message on open, in-band token
// refresh, close code 4001 for a bad token, and flat events
// {sequence,id,type,status,channelType,timestamp,attributes}. Unlike the
// tutorial, every status change of an interaction becomes a transition.
type Stream struct {
	*wsock.Feed
	cfg         Config
	log         *slog.Logger
	lastSeq     atomic.Int64 // highest sequence delivered; -1 before the first
	regressions atomic.Uint64
	reconnects  atomic.Uint64
}

// New returns a Stream; Run starts it.
func New(cfg Config) (*Stream, error) {
	if cfg.Client == nil {
		return nil, errors.New("interactions stream: no client")
	}
	u, err := url.Parse(cfg.APIURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("interactions stream: API URL %q is not an absolute http(s) URL", text.RedactURL(cfg.APIURL))
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 30 * time.Second
	}
	cfg.SocketConfig = genesys.SocketDefaults(cfg.SocketConfig)
	s := &Stream{Feed: wsock.NewFeed(cfg.PingInterval), cfg: cfg, log: cfg.Logger}
	s.lastSeq.Store(-1)
	return s, nil
}

// SequenceRegressions counts events dropped because their sequence was not
// above the last one delivered (replays and reordering).
func (s *Stream) SequenceRegressions() uint64 { return s.regressions.Load() }

// Reconnects counts sockets replaced.
func (s *Stream) Reconnects() uint64 { return s.reconnects.Load() }

// streamURL is the socket URL without the token (safe to log).
func (s *Stream) streamURL() string {
	base := strings.TrimRight(s.cfg.APIURL, "/")
	if rest, ok := strings.CutPrefix(base, "https://"); ok {
		base = "wss://" + rest
	} else if rest, ok := strings.CutPrefix(base, "http://"); ok {
		base = "ws://" + rest
	}
	return base + "/api/v2/interactions/stream"
}

// Run connects and reconnects until ctx ends or the credentials are refused.
func (s *Stream) Run(ctx context.Context) error {
	err := s.run(ctx)
	s.Finish(err)
	return err
}

func (s *Stream) run(ctx context.Context) error {
	return wsock.Supervise(ctx, s.cfg.RetryPolicy(), 4*s.cfg.PingInterval, genesys.Permanent, s.session, func(err error, attempt int, wait time.Duration) {
		s.reconnects.Add(1)
		s.log.Warn("interactions stream lost; reconnecting", "err", err, "attempt", attempt, "wait", wait.String(),
			"since_last_frame", time.Since(time.Unix(0, s.LastHealthy.Load())).Round(time.Millisecond).String())
	})
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

func (s *Stream) session(ctx context.Context) error {
	ws, ct, err := s.dial(ctx)
	if err != nil {
		return err
	}
	sock := wsock.Watch(ctx, ws, s.cfg.PingInterval, wsock.ControlPing)
	ws.SetPongHandler(func(string) error { sock.WD.Kick(); return nil })
	fm := filterMessageOf(s.cfg.Filter)
	if err := sock.WriteJSON(fm); err != nil {
		sock.Close(nil)
		return fmt.Errorf("send filter: %w", err)
	}
	s.log.Info("interactions stream connected", "url", s.streamURL(), "types", fm.Filter.Types, "status", fm.Filter.Status)

	rctx, stopRefresh := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { s.refreshLoop(rctx, sock, ct.refreshAt) })
	defer func() {
		stopRefresh()
		wg.Wait()
		sock.Close(nil)
	}()
	err = s.ReadSocket(ctx, sock, s.cfg.MaxFrameSize, func(data []byte, now time.Time, rejected error) error {
		if rejected != nil {
			s.Deliver(ctx, sock.WD, wsock.Item{Err: rejected})
			return nil
		}
		ev, seq, err := Decode(data, now)
		if err != nil {
			s.Deliver(ctx, sock.WD, wsock.Item{Err: err})
			return nil
		}
		if last := s.lastSeq.Load(); seq <= last {
			s.regressions.Add(1)
			s.log.Debug("sequence regression dropped", "sequence", seq, "last", last, "interaction_id", ev.InteractionID)
			return nil
		}
		s.lastSeq.Store(seq)
		if !s.Deliver(ctx, sock.WD, wsock.Item{Ev: ev}) {
			return ctx.Err()
		}
		return nil
	})
	if ce, ok := errors.AsType[*websocket.CloseError](err); ok && ce.Code == CloseTokenExpired {
		s.cfg.Client.InvalidateToken(nil) // drop whatever is cached; fetch anew at once
		return fmt.Errorf("%w: %w", wsock.ErrReconnectNow, err)
	}
	return err
}

// dialToken is the token a socket was opened with and when it is due.
type dialToken struct {
	tok       *oauth2.Token
	refreshAt time.Time
}

// dial connects the socket with a token in the access_token parameter,
// and returns the token. Neither the URL nor an error quotes the token.
func (s *Stream) dial(ctx context.Context) (*websocket.Conn, dialToken, error) {
	var ct dialToken
	var err error
	if ct.tok, ct.refreshAt, err = s.cfg.Client.TokenDue(ctx); err != nil {
		return nil, ct, err
	}
	target := s.streamURL() + "?access_token=" + url.QueryEscape(ct.tok.AccessToken)
	ws, resp, err := s.cfg.Dialer.DialContext(ctx, target, nil)
	if err != nil {
		if resp != nil {
			if resp.StatusCode == http.StatusUnauthorized {
				s.cfg.Client.InvalidateToken(ct.tok)
			}
			return nil, ct, &genesys.APIError{Op: "connect interactions stream", Status: resp.StatusCode}
		}
		// Never log the dial URL: it carries the token.
		err = text.RedactURLError(err)
		if tok := ct.tok.AccessToken; tok != "" && strings.Contains(err.Error(), tok) {
			return nil, ct, fmt.Errorf("connect interactions stream %s: %s", s.streamURL(), strings.ReplaceAll(err.Error(), tok, "[redacted]"))
		}
		return nil, ct, fmt.Errorf("connect interactions stream %s: %w", s.streamURL(), err)
	}
	return ws, ct, nil
}

// filterMessageOf is the filter sent on open ({"filter":{"types":[...],
// "status":[...]}}, empty lists for all).
func filterMessageOf(f bridge.Filter) filterMessage {
	var fm filterMessage
	fm.Filter.Types, fm.Filter.Status = []string{}, []string{}
	for _, c := range f.ChannelTypes {
		fm.Filter.Types = append(fm.Filter.Types, string(c))
	}
	for _, st := range f.Statuses {
		fm.Filter.Status = append(fm.Filter.Status, string(st))
	}
	return fm
}

// refreshLoop sends {"type":"refresh","access_token":...} in-band before
// each token is due for replacement.
func (s *Stream) refreshLoop(ctx context.Context, sock *wsock.Socket, refreshAt time.Time) {
	for {
		if !retry.Sleep(ctx, time.Until(refreshAt)) {
			return
		}
		tok, due, err := s.cfg.Client.TokenDue(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("token refresh failed; reconnecting", "err", err)
				sock.Kill(fmt.Errorf("token refresh: %w", err))
			}
			return
		}
		if err := sock.WriteJSON(refreshMessage{Type: "refresh", AccessToken: tok.AccessToken}); err != nil {
			sock.Kill(fmt.Errorf("send token refresh: %w", err))
			return
		}
		s.log.Info("access token refreshed in-band")
		refreshAt = due
	}
}

// interactionFields is the tutorial's flat event as read from the wire.
// A has* flag is false for a member missing or null.
type interactionFields struct {
	sequence                                             int64
	id, typ, status, channelType, timestamp              []byte
	hasSeq, hasID, hasType, hasStatus, hasChannel, hasTS bool
	badAttributes                                        bool   // present and neither an object nor null
	queueID, userID                                      []byte // attributes.queueId and .userId, when strings
}

// scanInteraction reads a flat event without reflection: an object whose
// members named exactly sequence (an int64), id, type, status, channelType,
// timestamp (strings) and attributes (an object) are kept, the others
// validated and skipped; null counts as missing; a repeated member's last
// value wins. The strings alias data or sc's buffers.
func scanInteraction(sc *jsonscan.Scanner, f *interactionFields) error {
	err := sc.Object(func(key []byte) error {
		switch string(key) {
		case "attributes":
			f.queueID, f.userID = nil, nil
			if sc.Null() {
				f.badAttributes = false
				return nil
			}
			if f.badAttributes = sc.Peek() != '{'; f.badAttributes {
				return sc.Skip()
			}
			return sc.Object(func(key []byte) error {
				var dst *[]byte
				switch string(key) {
				case "queueId":
					dst = &f.queueID
				case "userId":
					dst = &f.userID
				default:
					return sc.Skip()
				}
				if sc.Peek() != '"' {
					*dst = nil // not a string: unknown
					return sc.Skip()
				}
				v, err := sc.Str()
				if sc.Unescaped(v) {
					v = append([]byte(nil), v...)
				}
				*dst = v
				return err
			})
		case "sequence":
			if sc.Null() {
				f.sequence, f.hasSeq = 0, false
				return nil
			}
			if c := sc.Peek(); c != '-' && (c < '0' || c > '9') {
				return fmt.Errorf("field sequence: want an integer")
			}
			v, err := sc.Int64()
			if errors.Is(err, jsonscan.ErrNotInt) {
				return fmt.Errorf("field sequence: want an int64")
			}
			f.sequence, f.hasSeq = v, true
			return err
		}
		dst, has, name := f.stringMember(key)
		switch {
		case dst == nil:
			return sc.Skip()
		case sc.Null():
			*dst, *has = nil, false
			return nil
		case sc.Peek() != '"':
			if err := sc.Skip(); err != nil {
				return err
			}
			return fmt.Errorf("field %s: want a string", name)
		}
		v, err := sc.Str()
		// The scanner's buffer is reused by the next string: copy an
		// unescaped one out.
		if sc.Unescaped(v) {
			v = append([]byte(nil), v...)
		}
		*dst, *has = v, true
		return err
	})
	if err != nil {
		return err
	}
	return sc.End()
}

// stringMember returns where the string member named key goes, or nil for
// a member that is not one of them.
func (f *interactionFields) stringMember(key []byte) (dst *[]byte, has *bool, name string) {
	switch string(key) {
	case "id":
		return &f.id, &f.hasID, "id"
	case "type":
		return &f.typ, &f.hasType, "type"
	case "status":
		return &f.status, &f.hasStatus, "status"
	case "channelType":
		return &f.channelType, &f.hasChannel, "channelType"
	case "timestamp":
		return &f.timestamp, &f.hasTS, "timestamp"
	}
	return nil, nil, ""
}

// Decode validates one flat event strictly (valid UTF-8 JSON,
// every field present with its type, status and channelType from the
// canonical sets, timestamp RFC 3339, attributes an object if present) and
// returns it as a bridge event with its sequence. It reads the frame
// without reflection (scanInteraction); member names are matched exactly.
func Decode(data []byte, observedAt time.Time) (bridge.Event, int64, error) {
	var f interactionFields
	sc := jsonscan.New(data)
	if err := scanInteraction(&sc, &f); err != nil {
		return bridge.Event{}, 0, bridge.Reject(bridge.ReasonMalformed, data, "decode interaction event: %v", err)
	}
	for _, m := range [...]struct {
		name    string
		missing bool
	}{{"sequence", !f.hasSeq}, {"id", !f.hasID}, {"type", !f.hasType}, {"status", !f.hasStatus},
		{"channelType", !f.hasChannel}, {"timestamp", !f.hasTS}} {
		if m.missing {
			return bridge.Event{}, 0, bridge.Reject(bridge.ReasonSchema, data, "interaction event: %s is missing", m.name)
		}
	}
	if f.sequence < 0 {
		return bridge.Event{}, 0, bridge.Reject(bridge.ReasonSchema, data, "interaction event: sequence %d is negative", f.sequence)
	}
	if len(f.typ) == 0 {
		return bridge.Event{}, 0, bridge.Reject(bridge.ReasonSchema, data, "interaction event: type is empty")
	}
	status, ok := bridge.LookupStatus(string(f.status))
	if !ok {
		_, err := bridge.ParseStatus(string(f.status))
		return bridge.Event{}, 0, bridge.Reject(bridge.ReasonSchema, data, "interaction event: %v", err)
	}
	ch, ok := bridge.LookupChannelType(string(f.channelType))
	if !ok {
		_, err := bridge.ParseChannelType(string(f.channelType))
		return bridge.Event{}, 0, bridge.Reject(bridge.ReasonSchema, data, "interaction event: %v", err)
	}
	ts, err := rfc3339.Parse(string(f.timestamp))
	if err != nil {
		return bridge.Event{}, 0, bridge.Reject(bridge.ReasonSchema, data, "interaction event: timestamp %q is not RFC 3339", text.Truncate(string(f.timestamp), 40))
	}
	if f.badAttributes {
		return bridge.Event{}, 0, bridge.Reject(bridge.ReasonSchema, data, "interaction event: attributes is not an object")
	}
	// Where and who, from the attributes (the tutorial's free-form map):
	// the agent only in the statuses an agent has.
	var user []byte
	if status.HasAgent() {
		user = f.userID
	}
	who := bridge.Who{QueueID: refs.Bytes(f.queueID), UserID: refs.Bytes(user)}
	ev := bridge.Event{
		InteractionID: string(f.id), ChannelType: ch, Status: status, Who: who,
		Steps:   []bridge.Step{{Status: status, At: ts, Who: who}},
		Horizon: ts, ObservedAt: observedAt, Sequenced: true,
		Detail: typeDetail(f.typ),
	}
	if err := ev.ValidateInput(data); err != nil {
		return bridge.Event{}, 0, err
	}
	return ev, f.sequence, nil
}

// refs interns queue and user ids: a few queues and agents recur in
// every frame, and each would otherwise be a new string per frame. Only
// valid ids are kept (bridge.ValidRef); anything else is "" (unknown),
// as in whoOf. Bounded: when full it starts again.
var refs = &intern.Table{Max: 4096, Accept: bridge.ValidRef}

// typeDetails caches the Detail of each event type seen (a handful in
// practice, bounded): events share the slice, which nothing modifies.
var typeDetails struct {
	sync.Mutex
	m map[string][]string
}

func typeDetail(typ []byte) []string {
	typeDetails.Lock()
	defer typeDetails.Unlock()
	if d, ok := typeDetails.m[string(typ)]; ok {
		return d
	}
	d := []string{"type:" + text.DetailToken(string(typ), 64)}
	if typeDetails.m == nil {
		typeDetails.m = map[string][]string{}
	}
	if len(typeDetails.m) < 256 {
		typeDetails.m[string(typ)] = d
	}
	return d
}
