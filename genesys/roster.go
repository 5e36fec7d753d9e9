package genesys

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/genesys/internal/wsock"
	"github.com/genesys-bridge/genesys-bridge/internal/retry"
	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// The roster: which agents the stream follows, and on which lane. Agents
// are listed (activity topics among the stream's topics) or the members
// of queues (a membership topic, v2.routing.queues.{id}.users, among
// them): those are listed at start (GET .../members) and followed as
// they join (the membership topic). Every agent topic counts in the lane
// budget; a start that cannot fit is refused with the numbers.
//
// An agent's history before its topic was subscribed (the bridge's first
// start, a member joining) is its history, back-filled like a gap's: a
// gap limited to those agents (bridge.Gap.Only) holds their frames until
// the users details query tells what they were doing, so their first
// transition is where they really were, and nothing else waits.

// TopicCount breaks a subscription list down by kind, for the budget.
type TopicCount struct {
	Conversations, Memberships, Agents, Other int
}

// CountTopics counts topics by kind.
func CountTopics(topics []string) TopicCount {
	var c TopicCount
	for _, t := range topics {
		switch _, _, suffix, ok := splitTopic(t); {
		case ok && suffix == "":
			c.Conversations++
		default:
			if _, ok := activityUser(t); ok {
				c.Agents++
			} else if _, ok := membershipQueue(t); ok {
				c.Memberships++
			} else {
				c.Other++
			}
		}
	}
	return c
}

// Total is the number of topics.
func (c TopicCount) Total() int { return c.Conversations + c.Memberships + c.Agents + c.Other }

// Channels is the number of channels they need.
func (c TopicCount) Channels() int {
	return (c.Total() + MaxTopicsPerChannel - 1) / MaxTopicsPerChannel
}

func (c TopicCount) String() string {
	return fmt.Sprintf("%d topics (%d conversation, %d queue membership, %d agent activity, %d other) in %d channels of %d",
		c.Total(), c.Conversations, c.Memberships, c.Agents, c.Other, c.Channels(), MaxTopicsPerChannel)
}

// ClientsNeeded is how many OAuth clients the topics need: each holds at
// most MaxChannels-1 channels.
func (c TopicCount) ClientsNeeded() int {
	return max(1, (c.Channels()+lanesPerClient-1)/lanesPerClient)
}

// Fit refuses a count that does not fit the given number of OAuth clients.
func (c TopicCount) Fit(clients int) error {
	if c.Total() <= clients*MaxTopics {
		return nil
	}
	return fmt.Errorf("%v need %d OAuth clients, and %d are configured: Genesys allows %d channels per OAuth client and the bridge keeps one free to replace channels without a gap, so at most %d topics a client; add OAuth clients (GENESYS_CLIENTS)",
		c, c.ClientsNeeded(), clients, MaxChannels, MaxTopics)
}

// memberQueues returns the queues of the membership topics.
func memberQueues(topics []string) []string {
	var out []string
	for _, t := range topics {
		if q, ok := membershipQueue(t); ok {
			out = append(out, q)
		}
	}
	return out
}

// discoverMembers lists the members of the stream's membership queues and
// adds each one's activity topic, refusing a total that does not fit. A
// listing that fails for good (permissions, an unknown queue) ends the
// start; others are retried.
func (s *Stream) discoverMembers(ctx context.Context) error {
	queues := memberQueues(s.allTopics())
	if len(queues) == 0 {
		return nil
	}
	var members []string
	for i, q := range queues {
		var ids []string
		err := s.retryQuery(ctx, time.Time{}, "listing a queue's members failed; retrying", func(ctx context.Context) (err error) {
			ids, err = s.spreadClient(i).QueueMembers(ctx, q)
			return err
		}, "queue_id", q)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case IsNotFound(err):
			// No such queue: its conversation topic is rejected too (and
			// logged); the other queues' members are followed.
			s.log.Error("listing a queue's members: no such queue; its members are not followed", "queue_id", q, "err", err)
			continue
		default:
			return fmt.Errorf("%w: list the members of queue %s (agents as queue members need routing:queue:member:view; or set GENESYS_AGENTS=list or none): %v",
				ErrNoTopicPermitted, text.Truncate(q, 64), err)
		}
		members = append(members, ids...)
	}
	slices.Sort(members)
	members = slices.Compact(members)
	s.mu.Lock()
	var add []string
	for _, id := range members {
		if !s.agentSet[id] {
			add = append(add, id)
		}
	}
	c := CountTopics(s.allTopicsLocked())
	c.Agents += len(add)
	s.mu.Unlock()
	if err := c.Fit(len(s.clients)); err != nil {
		return fmt.Errorf("%w: the members of %d queues: %v", ErrTooManyTopics, len(queues), err)
	}
	now := time.Now()
	for _, id := range add {
		s.mu.Lock()
		lane := s.chooseLaneLocked(nil)
		s.mu.Unlock()
		p := Placement{Agent: id, Lane: lane, Since: now}
		if s.cfg.Roster != nil {
			var err error
			if p, err = s.cfg.Roster.Place(ctx, id, lane, now); err != nil {
				return err
			}
		}
		s.follow(ctx, p, nil)
	}
	s.log.Info("agents: the members of the configured queues", "queues", len(queues), "members", len(members),
		"topics", c.Total(), "channels", c.Channels(), "clients_needed", c.ClientsNeeded(), "clients", len(s.clients), "budget", c.String())
	return nil
}

// Placement is an agent followed on a lane since a time.
type Placement struct {
	Agent string
	Lane  int
	Since time.Time
}

// AgentRoster shares the agents followed, and their lanes, among replicas
// (package publish implements it on a NATS key-value bucket): the first
// placement of an agent wins, and every replica learns every placement.
type AgentRoster interface {
	// Place places agent id on lane since a time, unless it is placed
	// already; it returns the agent's placement.
	Place(ctx context.Context, id string, lane int, since time.Time) (Placement, error)
	// Placements returns the placements known now, and delivers each
	// later one on the channel until ctx ends.
	Placements(ctx context.Context) ([]Placement, <-chan Placement)
}

// followRoster follows every placement of the shared roster: those known
// now at once, each later one as it comes, until ctx ends.
func (s *Stream) followRoster(ctx context.Context) {
	now, later := s.cfg.Roster.Placements(ctx)
	for _, p := range now {
		s.follow(ctx, p, nil)
	}
	s.bf.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case p := <-later:
				if !s.follow(ctx, p, nil) {
					return
				}
			}
		}
	})
}

// ErrTooManyTopics means the agents found do not fit the OAuth clients.
var ErrTooManyTopics = fmt.Errorf("genesys: too many topics for the OAuth clients")

// allTopics is every lane's topics.
func (s *Stream) allTopics() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.allTopicsLocked()
}

func (s *Stream) allTopicsLocked() []string {
	var out []string
	for _, l := range s.lanes {
		out = append(out, l.topics...)
	}
	return out
}

// join follows a membership notification read on lane reader (nil when
// a listing found the member): a member not yet followed is placed on a
// lane (the reader's if it has room; through the shared roster when there
// is one, where the first placement wins) and followed there (follow).
// It reports false if ctx ended.
func (s *Stream) join(ctx context.Context, m Membership, at time.Time, reader *lane) bool {
	s.mu.Lock()
	if s.agentSet[m.UserID] {
		s.mu.Unlock()
		return true
	}
	lane := s.chooseLaneLocked(reader)
	s.mu.Unlock()
	if lane < 0 {
		s.joinsRefused.Add(1)
		s.log.Error("a queue member joined but every channel is full: the agent is not followed; add OAuth clients (GENESYS_CLIENTS)",
			"user_id", m.UserID, "queue_id", m.QueueID, "topics", MaxTopics*len(s.clients), "clients", len(s.clients))
		return true
	}
	p := Placement{Agent: m.UserID, Lane: lane, Since: at}
	if s.cfg.Roster != nil {
		var err error
		if p, err = s.cfg.Roster.Place(ctx, m.UserID, lane, at); err != nil {
			if ctx.Err() != nil {
				return false
			}
			s.joinsRefused.Add(1)
			s.log.Error("a queue member joined but placing it in the shared roster failed: it is followed after the lane's next gap lists the queue again",
				"user_id", m.UserID, "queue_id", m.QueueID, "err", err)
			return true
		}
	}
	if !s.follow(ctx, p, reader) {
		return false
	}
	s.joins.Add(1)
	s.log.Info("agent followed: a member of a configured queue", "user_id", m.UserID, "queue_id", m.QueueID, "lane", p.Lane)
	return true
}

// chooseLaneLocked is the lane a new agent goes on: reader if it has room,
// else the first lane with room, else a new lane (-1 when every client's
// channels are taken). Under s.mu.
func (s *Stream) chooseLaneLocked(reader *lane) int {
	if reader != nil && len(reader.topics) < MaxTopicsPerChannel {
		return reader.index
	}
	for _, l := range s.lanes {
		if len(l.topics) < MaxTopicsPerChannel {
			return l.index
		}
	}
	if len(s.lanes) >= lanesPerClient*len(s.clients) {
		return -1
	}
	return len(s.lanes)
}

// follow adds placement p's agent to its lane, unless it is followed
// already. Where this replica reads the lane, the agent's activity topic
// is subscribed behind a gap limited to it, so that its history since it
// was placed is back-filled before its live frames flow. On the reader's
// goroutine, with the topic on the reader's own lane, no frame of the
// topic can be taken before follow returns: the topic is subscribed first
// and the gap ends then. Otherwise another lane may take its frames at
// once: the gap opens first and ends when the subscription is certain to
// be in place (or given up: then the lane's next channel subscribes the
// topic). Where the lane is not read now, its next session's gap starts
// no later than the placement (lane.earliest). It reports false if ctx
// ended.
func (s *Stream) follow(ctx context.Context, p Placement, reader *lane) bool {
	s.mu.Lock()
	if s.agentSet[p.Agent] {
		s.mu.Unlock()
		return true
	}
	l := s.laneLocked(p.Lane)
	l.topics = append(l.topics, ActivityTopic(p.Agent))
	l.agents = append(l.agents, p.Agent)
	s.agentSet[p.Agent] = true
	var chID string
	var cl *Client
	if l.chClient != nil {
		chID, cl = l.chID, l.chClient.c
	}
	if chID == "" && (l.earliest.IsZero() || p.Since.Before(l.earliest)) {
		l.earliest = p.Since
	}
	s.mu.Unlock()
	if chID == "" {
		return true
	}
	g := &bridge.Gap{ID: s.gapSeq.Add(1), From: p.Since.Add(-s.cfg.BackfillSlack), Only: []string{p.Agent}}
	open := func(to time.Time) bool {
		g.To, g.Deadline = to, to.Add(s.cfg.BackfillMaxWait)
		s.gapOpened(l, g.ID, g.From)
		return s.Deliver(ctx, nil, wsock.Item{Ev: bridge.Event{Kind: bridge.KindGapOpened, Gap: g}})
	}
	bound := time.Now().Add(joinSubscribeTimeout)
	if l != reader && !open(bound) {
		return false
	}
	sctx, cancel := context.WithDeadline(ctx, bound)
	results, err := cl.AddSubscriptions(sctx, chID, []string{ActivityTopic(p.Agent)})
	cancel()
	for _, r := range results {
		if r.State == "Rejected" {
			s.log.Error("topic rejected by Genesys", "topic", text.Truncate(r.ID, 200), "reason", r.RejectionReason, "channel_id", chID)
		}
	}
	if err != nil {
		s.log.Warn("subscribing a joining member's activity failed; it is subscribed with the lane's next channel", "user_id", p.Agent, "lane", l.index, "err", err)
	}
	if l == reader && !open(time.Now()) {
		return false
	}
	s.bf.Go(func() { s.backfillAgents(ctx, l, g, []string{p.Agent}) })
	return true
}

// laneLocked returns lane i, adding lanes up to it (started at once if
// the stream runs). Under s.mu.
func (s *Stream) laneLocked(i int) *lane {
	for len(s.lanes) <= i {
		l := newLane(s, len(s.lanes))
		s.lanes = append(s.lanes, l)
		if s.spawn != nil {
			s.spawn(l)
		}
		if s.cfg.Leases != nil {
			s.cfg.Leases.SetLanes(len(s.lanes))
		}
	}
	return s.lanes[i]
}

// rejoin lists the members of lane l's membership queues after gap g and
// follows those who joined unseen (their notification was in the gap),
// each from the gap's start. It reports false if ctx ended.
func (s *Stream) rejoin(ctx context.Context, l *lane, g *bridge.Gap) bool {
	s.mu.Lock()
	queues := memberQueues(l.topics)
	s.mu.Unlock()
	for _, q := range queues {
		var ids []string
		err := s.queryRetrying(ctx, l, g, "queue members", func(ctx context.Context) (err error) {
			ids, err = s.restClient(l).QueueMembers(ctx, q)
			return err
		})
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			s.log.Error("back-fill: listing a queue's members failed; members who joined in the gap are followed from their next notification", "lane", l.index, "gap", g.ID, "queue_id", q, "err", err)
			continue
		}
		for _, id := range ids {
			if !s.join(ctx, Membership{QueueID: q, UserID: id, Joined: true}, g.From.Add(s.cfg.BackfillSlack), nil) {
				return false
			}
		}
	}
	return true
}

// joinSubscribeTimeout bounds subscribing a joining member's topic: its
// gap ends then.
const joinSubscribeTimeout = 10 * time.Second

// backfillAgents fills a gap limited to agents: their histories once
// analytics covers it, then its end.
func (s *Stream) backfillAgents(ctx context.Context, l *lane, g *bridge.Gap, ids []string) {
	if !retry.Sleep(ctx, time.Until(g.To.Add(s.cfg.BackfillLag))) {
		return
	}
	n, failed, ok := s.deliverAgentHistories(ctx, l, g, ids)
	if !ok {
		return
	}
	if !s.Deliver(ctx, nil, wsock.Item{Ev: bridge.Event{Kind: bridge.KindGapClosed, Gap: &bridge.Gap{ID: g.ID, From: g.From, To: g.To, Only: g.Only, Incomplete: failed}}}) {
		return
	}
	s.gapClosed(l, g.ID)
	s.backfilled.Add(uint64(n))
	s.log.Info("agents' back-fill done", "lane", l.index, "gap", g.ID, "agents", len(ids), "histories", n, "incomplete", failed)
}
