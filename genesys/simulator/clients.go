package simulator

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// OAuth clients: the simulated org accepts Config.ClientID and the
// Config.Clients besides, each with the real service's ceilings: at most
// MaxChannels notification channels (creating one more evicts the oldest
// channel without a socket, or the oldest of all when every one has a
// socket; an evicted channel's socket gets {"result":"404"} and closes),
// and, with RequestsPerMinute, that many API calls a minute (a 429 with
// Retry-After beyond it). A channel is the client's that created it: a
// token of another client finds no such channel. RefuseClient disables a
// client as an administrator would: its login answers invalid_client, its
// tokens stop working and its sockets close.

// MaxChannels is how many notification channels one OAuth client holds.
const MaxChannels = 20

// clientState is one OAuth client's standing. Guarded by Server.mu.
type clientState struct {
	secret   string
	refused  bool
	window   time.Time // start of the current rate window
	requests int       // API calls in it
	total    uint64    // API calls ever
	peak     int       // most channels held at once
	throttle uint64    // calls answered 429 for the rate
}

// clientOf returns the client a token was issued to ("" if unknown).
// Under s.mu.
func (s *Server) clientOfLocked(tok string) string { return s.tokenClient[tok] }

// acceptLogin reports whether id and secret are an enabled client's.
func (s *Server) acceptLogin(id, secret string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	return ok && !c.refused && c.secret == secret
}

// RefuseClient disables OAuth client id: its login answers invalid_client,
// its tokens are revoked (API calls answer 401) and the sockets of its
// channels close. AcceptClient enables it again.
func (s *Server) RefuseClient(id string) {
	s.mu.Lock()
	if c, ok := s.clients[id]; ok {
		c.refused = true
	}
	now := time.Now()
	for tok, client := range s.tokenClient {
		if client == id {
			s.tokens[tok] = now
		}
	}
	s.mu.Unlock()
	s.reapOnce()
}

// AcceptClient enables a client RefuseClient disabled.
func (s *Server) AcceptClient(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[id]; ok {
		c.refused = false
	}
}

// ClientUsage is what one OAuth client used.
type ClientUsage struct {
	// Channels is how many channels it holds now, Sockets how many of them
	// have a socket, PeakChannels the most it held at once.
	Channels, Sockets, PeakChannels int
	// Requests counts its API calls (the token endpoint aside); Throttled
	// those answered 429 for RequestsPerMinute.
	Requests, Throttled uint64
}

// Usage reports each client's use, by client id.
func (s *Server) Usage() map[string]ClientUsage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]ClientUsage, len(s.clients))
	for id, c := range s.clients {
		out[id] = ClientUsage{PeakChannels: c.peak, Requests: c.total, Throttled: c.throttle}
	}
	for _, ch := range s.channels {
		u := out[ch.client]
		u.Channels++
		if ch.sock != nil {
			u.Sockets++
		}
		out[ch.client] = u
	}
	return out
}

// Evictions counts channels evicted because their client created one more
// than MaxChannels.
func (s *Server) Evictions() uint64 { return s.evictions.Load() }

// admitChannelLocked makes room for one more channel of client, evicting
// the oldest channel without a socket (or the oldest) at MaxChannels, and
// returns the evicted channel's socket, if any. Under s.mu.
func (s *Server) admitChannelLocked(client string) *simSocket {
	var held []*channel
	for _, ch := range s.channels {
		if ch.client == client {
			held = append(held, ch)
		}
	}
	c := s.clients[client]
	c.peak = max(c.peak, min(len(held)+1, MaxChannels))
	if len(held) < MaxChannels {
		return nil
	}
	var victim *channel
	for _, ch := range held {
		switch {
		case victim == nil,
			ch.sock == nil && victim.sock != nil,
			(ch.sock == nil) == (victim.sock == nil) && ch.created.Before(victim.created):
			victim = ch
		}
	}
	delete(s.channels, victim.id)
	s.evictions.Add(1)
	s.log.Warn("simulator: channel evicted: its client created more than 20", "client_id", client, "channel_id", victim.id, "had_socket", victim.sock != nil)
	return victim.sock
}

// rateLimited answers an API call 429 when the token's client is over
// RequestsPerMinute in the current minute, and counts the call.
func (s *Server) rateLimited(w http.ResponseWriter, tok string) bool {
	s.mu.Lock()
	c := s.clients[s.clientOfLocked(tok)]
	if c == nil {
		s.mu.Unlock()
		return false
	}
	c.total++
	limit := s.cfg.RequestsPerMinute
	now := time.Now()
	if now.Sub(c.window) >= time.Minute {
		c.window, c.requests = now, 0
	}
	c.requests++
	over := limit > 0 && c.requests > limit
	retry := 1
	if over {
		c.throttle++
		retry = max(1, int(time.Until(c.window.Add(time.Minute)).Seconds()+0.999))
	}
	s.mu.Unlock()
	if over {
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		apiError(w, http.StatusTooManyRequests, "too.many.requests.retry.after", "Rate limit exceeded the maximum. Retry the request in ["+strconv.Itoa(retry)+"] seconds")
	}
	return over
}

// channelOfLocked is the channel the request's path names, if the
// request's token belongs to the client that created it. Under s.mu.
func (s *Server) channelOfLocked(r *http.Request) (*channel, bool) {
	ch, ok := s.channels[r.PathValue("id")]
	if !ok || ch.client != s.clientOfLocked(bearer(r)) {
		return nil, false
	}
	return ch, true
}

// bearer is the request's access token.
func bearer(r *http.Request) string {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return tok
}
