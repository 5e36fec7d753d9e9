package genesys

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Several OAuth clients. Genesys limits each OAuth client to MaxChannels
// channels and a request rate; a stream given several clients spreads its
// lanes over them: lane i's home is client i mod n, and each client holds at
// most MaxChannels-1 lanes (one channel kept free to replace a channel
// make-before-break). A client whose login is refused (invalid_client:
// deleted, disabled, a wrong secret) is named in the log and in
// ClientStatus; the lanes at home there move to the other clients where
// they fit, dealt in lane order to the client with the fewest lanes, so
// every replica of the bridge given the same lanes and the same refusals
// computes the same placement (assignClients). A lane that fits nowhere is
// uncovered: said in the log and in ClientStatus, and retried until a
// client has room or the refused one logs in again (tried again
// clientRetryAfter after its refusal). A lane moves when it next opens a
// channel: after its socket died, or at its next rollover.

// clientRetryAfter is how long after a refused login a client is tried
// again.
const clientRetryAfter = 5 * time.Minute

// lanesPerClient is how many lanes one client holds.
const lanesPerClient = MaxChannels - 1

// clientSlot is one of the stream's OAuth clients.
type clientSlot struct {
	c     *Client
	index int
	roll  chan struct{} // one make-before-break at a time: its spare channel

	// Under Stream.mu.
	refused   error // why its login was refused, nil while it is not
	refusedAt time.Time
}

// eligible reports whether lanes may be placed on the client at now: its
// login was not refused, or long enough ago to try it again.
func (c *clientSlot) eligible(now time.Time) bool {
	return c.refused == nil || now.Sub(c.refusedAt) >= clientRetryAfter
}

// assignClients places lanes on clients: lane i at home on client i mod n
// if that client is eligible, the others dealt in lane order to the
// eligible client with the fewest lanes and room (lower index first on a
// tie). -1 means the lane fits nowhere.
func assignClients(lanes int, eligible []bool) []int {
	n := len(eligible)
	out := make([]int, lanes)
	held := make([]int, n)
	var displaced []int
	for i := range out {
		home := i % n
		if eligible[home] && held[home] < lanesPerClient {
			out[i] = home
			held[home]++
			continue
		}
		displaced = append(displaced, i)
	}
	for _, i := range displaced {
		best := -1
		for c := range n {
			if eligible[c] && held[c] < lanesPerClient && (best < 0 || held[c] < held[best]) {
				best = c
			}
		}
		out[i] = best
		if best >= 0 {
			held[best]++
		}
	}
	return out
}

// clientForLocked is the client lane l opens its next channel with, nil
// when it fits on none. Under s.mu.
func (s *Stream) clientForLocked(l *lane) *clientSlot {
	now := time.Now()
	eligible := make([]bool, len(s.clients))
	for i, c := range s.clients {
		eligible[i] = c.eligible(now)
	}
	at := assignClients(len(s.lanes), eligible)[l.index]
	if at < 0 {
		return nil
	}
	return s.clients[at]
}

// restClient is the client for a REST query of lane l (nil: any): the one
// that holds its channel, else the one it would open a channel with, else
// the first not refused.
func (s *Stream) restClient(l *lane) *Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l != nil {
		if l.chClient != nil && l.chClient.refused == nil {
			return l.chClient.c
		}
		if c := s.clientForLocked(l); c != nil {
			return c.c
		}
	}
	for _, c := range s.clients {
		if c.refused == nil {
			return c.c
		}
	}
	return s.clients[0].c
}

// spreadClient is the i-th REST client among those not refused, for
// queries of the whole stream spread over the clients.
func (s *Stream) spreadClient(i int) *Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ok []*Client
	for _, c := range s.clients {
		if c.refused == nil {
			ok = append(ok, c.c)
		}
	}
	if len(ok) == 0 {
		return s.clients[i%len(s.clients)].c
	}
	return ok[i%len(ok)]
}

// refuse records that c's login was refused, and reports whether every
// client is refused now (then the stream cannot go on).
func (s *Stream) refuse(c *clientSlot, err error) (all bool) {
	s.mu.Lock()
	first := c.refused == nil
	c.refused, c.refusedAt = err, time.Now()
	all = true
	for _, o := range s.clients {
		all = all && o.refused != nil
	}
	s.mu.Unlock()
	if first && len(s.clients) > 1 {
		s.log.Error("Genesys refused an OAuth client's login: its lanes move to the other clients where they fit (retried in 5m)",
			"client_id", c.c.ID(), "err", err)
	}
	return all
}

// accepted records that c logged in (a channel was created with it).
func (s *Stream) accepted(c *clientSlot) {
	s.mu.Lock()
	was := c.refused
	c.refused = nil
	s.mu.Unlock()
	if was != nil {
		s.log.Info("an OAuth client refused earlier logs in again", "client_id", c.c.ID())
	}
}

// Errors of a lane's attempt that the lane retries: its client refused
// (it moves to another), or no client has room for it.
var (
	errClientRefused = errors.New("login refused; the lane moves to another client")
	errUncovered     = errors.New("no OAuth client has a free channel for the lane")
)

// placed is the client lane l opens its next channel with. A lane that
// fits nowhere is said once, when it becomes uncovered, and its attempt
// fails with errUncovered (retried with backoff).
func (l *lane) placed() (*clientSlot, error) {
	s := l.s
	s.mu.Lock()
	slot := s.clientForLocked(l)
	was := l.uncovered
	l.uncovered = slot == nil
	topics := len(l.topics)
	var refused []string
	for _, c := range s.clients {
		if c.refused != nil {
			refused = append(refused, c.c.ID())
		}
	}
	s.mu.Unlock()
	if slot != nil {
		if was {
			s.log.Info("a lane without a client is covered again", "lane", l.index, "client_id", slot.c.ID())
		}
		return slot, nil
	}
	if !was {
		s.log.Error("a lane fits on no OAuth client: its topics are not read until a client has room; add an OAuth client (GENESYS_CLIENTS) or restore the refused one",
			"lane", l.index, "topics", topics, "clients", len(s.clients), "refused", strings.Join(refused, ","), "channels_per_client", lanesPerClient)
	}
	return nil, errUncovered
}

// ClientState is one OAuth client's standing, for /readyz and metrics.
type ClientState struct {
	ID string
	// Lanes is how many lanes hold a channel of it now.
	Lanes int
	// Refused is why its login was refused (nil while it is not).
	Refused error
	// PacedFor is how long its requests waited for their turn.
	PacedFor time.Duration
}

// ClientStatus reports each client's standing and how many lanes have no
// channel because no client can hold them (uncovered).
func (s *Stream) ClientStatus() (clients []ClientState, uncovered int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	byClient := map[*clientSlot]int{}
	for _, l := range s.lanes {
		byClient[l.chClient]++
		if l.uncovered {
			uncovered++
		}
	}
	for _, c := range s.clients {
		clients = append(clients, ClientState{ID: c.c.ID(), Lanes: byClient[c], Refused: c.refused, PacedFor: c.c.PacedFor()})
	}
	return clients, uncovered
}

// Readiness says what stands in the way of a complete stream: lanes no
// client can hold (not ready), clients refused (ready, said). ok is false
// when a lane is uncovered.
func (s *Stream) Readiness() (ok bool, detail string) {
	clients, uncovered := s.ClientStatus()
	var b strings.Builder
	for _, c := range clients {
		if c.Refused != nil {
			fmt.Fprintf(&b, "OAuth client %s: login refused (%v); its lanes moved to the other clients where they fit\n", c.ID, c.Refused)
		}
	}
	if uncovered > 0 {
		fmt.Fprintf(&b, "%d lanes (channels of up to %d topics) have no OAuth client with a free channel: their topics are not read\n", uncovered, MaxTopicsPerChannel)
	}
	return uncovered == 0, b.String()
}
