package simulator

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// Agents' lives (issue 24), driven by the conversations: an agent is
// interacting while a conversation rings it, is connected to it, holds it
// or waits for its wrap-up; not responding for a while after an offer it
// let time out (the conversation went back to the queue); idle otherwise;
// and now and then on a break, a meal or logged off (off queue) when it
// became idle, back on queue when that ends or a conversation reaches it.
// Every agent logs in when the first socket subscribes (its history, in
// every source, starts there).
//
// Two sources show them, each with its real counterpart's fields
// (docs/agents.md):
//   - the live v2.users.{id}.activity notification
//     (AgentActivityChangedTopicAgentActivity): routing status and its
//     startTime, presence (definition id, systemPresence in the
//     presence-definition spelling, "On Queue") and its modifiedDate,
//     outOfOffice, activeQueueIds, dateActiveQueuesChanged;
//   - the users details query (AnalyticsUserDetail): routing status and
//     primary presence intervals (systemPresence in the enum spelling,
//     ON_QUEUE), every boundary in the agent's analytics clock a few
//     milliseconds off the live one, as of AnalyticsLag ago.

// AgentTruth is one agent transition the simulator caused: what a correct
// bridge publishes.
type AgentTruth struct {
	UserID                   string
	FromRouting, ToRouting   bridge.RoutingStatus // "" at the first
	FromPresence, ToPresence bridge.Presence
	At                       time.Time
}

// Chances and spans of an agent's own moves, in simulated seconds (times
// StepScale).
const (
	awayChance          = 0.12 // of going away when idle
	notRespondingFor    = 8.0
	awayMin, awayMax    = 20.0, 90.0
	awayDelay           = 2.0 // the most an agent waits before going away
	agentClockSkewMaxMs = 4
)

// presenceIDs are the organization's presence definitions, one per
// system presence (ids from the real list recorded in docs/agents.md).
var presenceIDs = map[bridge.Presence]string{
	bridge.PresenceAvailable: "6a3af858-942f-489d-9700-5f9bcdcdae9b",
	bridge.PresenceBreak:     "227b37e2-f1d0-4dd0-8f50-badd7cf6d158",
	bridge.PresenceMeal:      "3fd96123-badb-4f69-bc03-1b1ccc6d8014",
	bridge.PresenceOnQueue:   "e08eaf1b-ee47-4fa9-a231-1200e284798f",
	bridge.PresenceOffline:   "ccf3c10a-aa2c-4845-8e8d-f59fa48c58e5",
}

// definitionSpelling is the presence-definition spelling of a system
// presence ("On Queue", "Break").
func definitionSpelling(p bridge.Presence) string {
	words := strings.Split(string(p), "_")
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}

type agentLife struct {
	id                          string
	routing                     bridge.RoutingStatus
	presence                    bridge.Presence
	routingSince, presenceSince time.Time
	engaged                     map[string]bool // conversations that engage the agent
	away                        bridge.Presence // break, meal, offline: "" when not away
	awayAt, awayUntil           time.Time       // a planned absence
	notRespondingUntil          time.Time
	skew                        time.Duration // analytics clock
	routingLog, presenceLog     []interval
	member                      bool      // of its queues; a late joiner is not at first
	queues                      []string  // the queues it is a member of (nil: every queue)
	joinAt                      time.Time // a late joiner's, after the start
}

// interval is one routing status or presence in the analytics clock.
type interval struct {
	value      string
	start, end time.Time // end zero while current
	recorded   time.Time // wall time it became known (for AnalyticsLag)
	ended      time.Time // wall time its end became known
}

// agentWorld owns the agents' lives; the generator drives it, the
// analytics handler reads their logs.
type agentWorld struct {
	mu      sync.Mutex
	lives   map[string]*agentLife
	order   []string
	convs   map[string]convAgent // conversation -> its engaged agent
	truth   []AgentTruth
	queues  []string
	scale   float64
	started bool
	// soonest is no later than every agent's next planned move (zero:
	// none planned), and lateLeft counts late joiners yet to join: due and
	// joins skip scanning every agent when nothing can be due.
	soonest  time.Time
	lateLeft int
}

// planned records a planned move at c, for due.
func (w *agentWorld) planned(c time.Time) {
	if w.soonest.IsZero() || c.Before(w.soonest) {
		w.soonest = c
	}
}

type convAgent struct {
	user    string
	ringing bool
}

func newAgentWorld(pop Population, rng *rand.Rand, scale float64, lateJoiners, queuesPerAgent int) *agentWorld {
	w := &agentWorld{lives: map[string]*agentLife{}, convs: map[string]convAgent{}, queues: slices.Clone(pop.Queues), scale: scale}
	for _, id := range pop.Agents {
		w.lives[id] = &agentLife{id: id, engaged: map[string]bool{}, member: true,
			skew: time.Duration(1+rng.IntN(agentClockSkewMaxMs)) * time.Millisecond}
		w.order = append(w.order, id)
	}
	slices.Sort(w.order)
	if n := min(queuesPerAgent, len(w.queues)); n > 0 {
		// Agent i of the sorted order is a member of n consecutive queues
		// from i*n: the queues get members evenly.
		for i, id := range w.order {
			for j := range n {
				w.lives[id].queues = append(w.lives[id].queues, w.queues[(i*n+j)%len(w.queues)])
			}
		}
	}
	for _, id := range w.order[max(0, len(w.order)-lateJoiners):] {
		w.lives[id].member = false
		w.lateLeft++
	}
	return w
}

// lateJoinSpacing is how far apart (in simulated seconds, times
// StepScale) late joiners join, the first one that long after the start.
const lateJoinSpacing = 20.0

// agentFrame is one activity notification to send.
type agentFrame struct {
	topic string
	body  []byte
}

// login puts every agent on queue at t (just after the start).
func (w *agentWorld) login(t time.Time) []agentFrame {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.started = true
	var out []agentFrame
	late := 0
	for i, id := range w.order {
		l := w.lives[id]
		if !l.member {
			late++
			l.joinAt = t.Add(time.Duration(float64(late) * lateJoinSpacing * w.scale * float64(time.Second)))
			continue
		}
		at := t.Add(time.Duration(i) * time.Millisecond)
		out = append(out, w.set(l, bridge.RoutingIdle, bridge.PresenceOnQueue, at)...)
	}
	return out
}

// joins returns the frames of the late joiners due by t: a membership
// notification per queue, then the agent's login a millisecond later.
func (w *agentWorld) joins(t time.Time) []agentFrame {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []agentFrame
	if w.lateLeft == 0 {
		return nil
	}
	for _, id := range w.order {
		l := w.lives[id]
		if l.member || l.joinAt.IsZero() || l.joinAt.After(t) {
			continue
		}
		l.member = true
		w.lateLeft--
		for _, q := range l.queuesOf(w.queues) {
			b, err := json.Marshal(wireQueueMember{ID: id, User: wireRef{ID: id}, QueueID: q, Joined: true})
			if err != nil {
				panic(fmt.Sprintf("simulator: marshal queue member: %v", err)) // plain structs: cannot fail
			}
			out = append(out, agentFrame{topic: "v2.routing.queues." + q + ".users", body: b})
		}
		out = append(out, w.set(l, bridge.RoutingIdle, bridge.PresenceOnQueue, l.joinAt.Add(time.Millisecond))...)
	}
	return out
}

// queuesOf is the queues l is a member of, of all.
func (l *agentLife) queuesOf(all []string) []string {
	if l.queues == nil {
		return all
	}
	return l.queues
}

// wireQueueMember is the body of v2.routing.queues.{id}.users
// (QueueUserEventTopicQueueMember).
type wireQueueMember struct {
	ID      string  `json:"id"`
	User    wireRef `json:"user"`
	QueueID string  `json:"queueId"`
	Joined  bool    `json:"joined"`
}

type wireRef struct {
	ID string `json:"id"`
}

// due returns the frames of the agents' own moves due by t (absences
// beginning or ending, not responding ending), in time order.
func (w *agentWorld) due(t time.Time, rng *rand.Rand) []agentFrame {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []agentFrame
	if w.soonest.IsZero() || w.soonest.After(t) {
		return nil // nothing planned is due
	}
	defer func() {
		// The scan below found nothing more due by t: find the next.
		w.soonest = time.Time{}
		for _, l := range w.lives {
			for _, c := range [...]time.Time{l.awayAt, l.awayUntil, l.notRespondingUntil} {
				if !c.IsZero() {
					w.planned(c)
				}
			}
		}
	}()
	for {
		var next *agentLife
		var at time.Time
		for _, id := range w.order {
			l := w.lives[id]
			for _, c := range [...]time.Time{l.awayAt, l.awayUntil, l.notRespondingUntil} {
				if !c.IsZero() && !c.After(t) && (next == nil || c.Before(at)) {
					next, at = l, c
				}
			}
		}
		if next == nil {
			return out
		}
		switch l := next; at {
		case l.awayAt:
			l.awayAt = time.Time{}
			if len(l.engaged) == 0 {
				l.away = []bridge.Presence{bridge.PresenceBreak, bridge.PresenceMeal, bridge.PresenceOffline}[rng.IntN(3)]
				l.awayUntil = at.Add(w.span(rng, awayMin, awayMax))
				w.planned(l.awayUntil)
			}
		case l.awayUntil:
			l.away, l.awayUntil = "", time.Time{}
		case l.notRespondingUntil:
			l.notRespondingUntil = time.Time{}
		}
		out = append(out, w.update(next, at, rng)...)
	}
}

func (w *agentWorld) span(rng *rand.Rand, lo, hi float64) time.Duration {
	return time.Duration((lo + rng.Float64()*(hi-lo)) * w.scale * float64(time.Second))
}

// observe follows a conversation frame: which agent it engages now.
func (w *agentWorld) observe(f *Frame, rng *rand.Rand) []agentFrame {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.started {
		return nil
	}
	now := convAgent{}
	switch f.Status {
	case bridge.StatusRinging, bridge.StatusConnected, bridge.StatusHeld, bridge.StatusWrapup:
		now = convAgent{user: f.User, ringing: f.Status == bridge.StatusRinging}
	}
	was := w.convs[f.ConversationID]
	if now.user == "" {
		delete(w.convs, f.ConversationID)
	} else {
		w.convs[f.ConversationID] = now
	}
	var out []agentFrame
	if was.user != "" && was.user != now.user {
		if l := w.lives[was.user]; l != nil && l.member {
			delete(l.engaged, f.ConversationID)
			if was.ringing && f.Status == bridge.StatusQueued {
				// The offer timed out: the conversation went back to the queue.
				l.notRespondingUntil = f.At.Add(w.span(rng, notRespondingFor, notRespondingFor))
				w.planned(l.notRespondingUntil)
			}
			out = append(out, w.update(l, f.At, rng)...)
		}
	}
	if l := w.lives[now.user]; l != nil && l.member && !l.engaged[f.ConversationID] {
		l.engaged[f.ConversationID] = true
		l.away, l.awayAt, l.awayUntil, l.notRespondingUntil = "", time.Time{}, time.Time{}, time.Time{}
		out = append(out, w.update(l, f.At, rng)...)
	}
	return out
}

// update sets an agent's statuses from its situation at t.
func (w *agentWorld) update(l *agentLife, t time.Time, rng *rand.Rand) []agentFrame {
	routing, presence := bridge.RoutingIdle, bridge.PresenceOnQueue
	switch {
	case len(l.engaged) > 0:
		routing = bridge.RoutingInteracting
	case l.away != "":
		routing, presence = bridge.RoutingOffQueue, l.away
	case !l.notRespondingUntil.IsZero():
		routing = bridge.RoutingNotResponding
	}
	became := routing == bridge.RoutingIdle && l.routing != bridge.RoutingIdle
	out := w.set(l, routing, presence, t)
	if became && l.awayAt.IsZero() && rng.Float64() < awayChance {
		l.awayAt = t.Add(w.span(rng, 0.5, awayDelay))
		w.planned(l.awayAt)
	}
	return out
}

// set moves an agent to (routing, presence) at t: the truth, the
// analytics logs and the live frame.
func (w *agentWorld) set(l *agentLife, routing bridge.RoutingStatus, presence bridge.Presence, t time.Time) []agentFrame {
	if routing == l.routing && presence == l.presence {
		return nil
	}
	// Each change in a millisecond of its own: the wire has milliseconds,
	// and two changes of one agent within one would be one.
	if last := later(l.routingSince, l.presenceSince); !last.IsZero() && !t.Truncate(time.Millisecond).After(last.Truncate(time.Millisecond)) {
		t = last.Truncate(time.Millisecond).Add(time.Millisecond)
	}
	w.truth = append(w.truth, AgentTruth{UserID: l.id, FromRouting: l.routing, ToRouting: routing,
		FromPresence: l.presence, ToPresence: presence, At: t})
	wall := time.Now()
	if routing != l.routing {
		l.routingLog = logMove(l.routingLog, strings.ToUpper(string(routing)), t.Add(l.skew), wall)
		l.routing, l.routingSince = routing, t
	}
	if presence != l.presence {
		l.presenceLog = logMove(l.presenceLog, strings.ToUpper(string(presence)), t.Add(l.skew), wall)
		l.presence, l.presenceSince = presence, t
	}
	return []agentFrame{{topic: "v2.users." + l.id + ".activity", body: w.activityBody(l)}}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func logMove(log []interval, value string, at, wall time.Time) []interval {
	if n := len(log); n > 0 {
		log[n-1].end, log[n-1].ended = at, wall
	}
	return append(log, interval{value: value, start: at, recorded: wall})
}

// wireActivity is the live activity body
// (AgentActivityChangedTopicAgentActivity).
type wireActivity struct {
	ID            string `json:"id"`
	RoutingStatus struct {
		Status    string `json:"status"`
		StartTime string `json:"startTime"`
	} `json:"routingStatus"`
	Presence struct {
		PresenceDefinition struct {
			ID             string `json:"id"`
			SystemPresence string `json:"systemPresence"`
		} `json:"presenceDefinition"`
		PresenceMessage string `json:"presenceMessage"`
		ModifiedDate    string `json:"modifiedDate"`
	} `json:"presence"`
	OutOfOffice struct {
		Active       bool   `json:"active"`
		ModifiedDate string `json:"modifiedDate"`
	} `json:"outOfOffice"`
	ActiveQueueIDs          []string `json:"activeQueueIds"`
	DateActiveQueuesChanged string   `json:"dateActiveQueuesChanged"`
}

func (w *agentWorld) activityBody(l *agentLife) []byte {
	var a wireActivity
	a.ID = l.id
	a.RoutingStatus.Status = strings.ToUpper(string(l.routing))
	a.RoutingStatus.StartTime = ts(l.routingSince)
	a.Presence.PresenceDefinition.ID = presenceIDs[l.presence]
	a.Presence.PresenceDefinition.SystemPresence = definitionSpelling(l.presence)
	a.Presence.ModifiedDate = ts(l.presenceSince)
	a.OutOfOffice.ModifiedDate = ts(l.presenceSince)
	a.ActiveQueueIDs = []string{}
	if l.routing != bridge.RoutingOffQueue {
		a.ActiveQueueIDs = w.queues
	}
	a.DateActiveQueuesChanged = ts(later(l.routingSince, l.presenceSince))
	b, err := json.Marshal(&a)
	if err != nil {
		panic(fmt.Sprintf("simulator: marshal activity: %v", err)) // plain structs: cannot fail
	}
	return b
}

// handleQueueMembers serves GET /api/v2/routing/queues/{id}/members:
// the queue's members now (QueueMember: id, name, user, ringNumber,
// joined, memberBy, routingStatus, selfUri), paged by pageSize (at most
// 100) and pageNumber.
func (s *Server) handleQueueMembers(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if s.QueueName(id) == "" {
		apiError(w, http.StatusNotFound, "not.found", "The requested resource was not found.")
		return
	}
	size, page, ok := pageParams(w, r)
	if !ok {
		return
	}
	type routing struct {
		UserID    string `json:"userId"`
		Status    string `json:"status"`
		StartTime string `json:"startTime,omitempty"`
	}
	type member struct {
		ID            string   `json:"id"`
		Name          string   `json:"name"`
		User          wireRef  `json:"user"`
		RingNumber    int      `json:"ringNumber"`
		Joined        bool     `json:"joined"`
		MemberBy      string   `json:"memberBy"`
		RoutingStatus *routing `json:"routingStatus,omitempty"`
		SelfURI       string   `json:"selfUri"`
	}
	var all []member
	s.agents.mu.Lock()
	for _, uid := range s.agents.order {
		l := s.agents.lives[uid]
		if !l.member || !slices.Contains(l.queuesOf(s.agents.queues), id) {
			continue
		}
		m := member{ID: uid, Name: AgentName(uid), User: wireRef{ID: uid}, RingNumber: 1, Joined: l.routing != bridge.RoutingOffQueue,
			MemberBy: "user", SelfURI: "/api/v2/users/" + uid}
		if l.routing != "" {
			m.RoutingStatus = &routing{UserID: uid, Status: strings.ToUpper(string(l.routing)), StartTime: ts(l.routingSince)}
		}
		all = append(all, m)
	}
	s.agents.mu.Unlock()
	lo, hi := min((page-1)*size, len(all)), min(page*size, len(all))
	writeJSON(w, http.StatusOK, map[string]any{"entities": all[lo:hi], "pageSize": size, "pageNumber": page,
		"total": len(all), "pageCount": (len(all) + size - 1) / size})
}

// pageParams reads pageSize (default 25, at most 100) and pageNumber
// (default 1), answering 400 to anything else.
func pageParams(w http.ResponseWriter, r *http.Request) (size, page int, ok bool) {
	size, page = 25, 1
	for name, dst := range map[string]*int{"pageSize": &size, "pageNumber": &page} {
		if v := r.URL.Query().Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || (name == "pageSize" && n > 100) {
				apiError(w, http.StatusBadRequest, "bad.request", name+" must be a number from 1"+map[bool]string{true: " to 100", false: ""}[name == "pageSize"])
				return 0, 0, false
			}
			*dst = n
		}
	}
	return size, page, true
}

// life returns an agent's life for a users/{id} request, or answers 404.
func (s *Server) life(w http.ResponseWriter, r *http.Request) (agentLife, bool) {
	s.agents.mu.Lock()
	defer s.agents.mu.Unlock()
	l := s.agents.lives[r.PathValue("id")]
	if l == nil {
		apiError(w, http.StatusNotFound, "not.found", "The requested resource was not found.")
		return agentLife{}, false
	}
	return *l, true
}

// handleGetUser serves GET /api/v2/users/{id} (User: id, name, state,
// username, selfUri...): AgentName's name; 403 with RoutingDenied (the
// same client lacks directory:user:view).
func (s *Server) handleGetUser(w http.ResponseWriter, r *http.Request) {
	if s.cfg.RoutingDenied {
		apiError(w, http.StatusForbidden, "missing.permissions", "Unable to perform the requested action. You are missing the following permission(s): [directory:user:view]")
		return
	}
	l, ok := s.life(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": l.id, "name": AgentName(l.id), "state": "active",
		"username": strings.ToLower(strings.ReplaceAll(AgentName(l.id), " ", ".")) + "@example.com", "selfUri": "/api/v2/users/" + l.id})
}

// AgentName is a simulated agent's name.
func AgentName(id string) string { return "Agent " + id[:min(8, len(id))] }

// handleRoutingStatus serves GET /api/v2/users/{id}/routingstatus
// (RoutingStatus: userId, status, startTime).
func (s *Server) handleRoutingStatus(w http.ResponseWriter, r *http.Request) {
	l, ok := s.life(w, r)
	if !ok {
		return
	}
	routing, since := l.routing, l.routingSince
	if routing == "" {
		routing, since = bridge.RoutingOffQueue, time.Time{}
	}
	out := map[string]any{"userId": l.id, "status": strings.ToUpper(string(routing))}
	if !since.IsZero() {
		out["startTime"] = ts(since)
	}
	writeJSON(w, http.StatusOK, out)
}

// handlePresence serves GET /api/v2/users/{id}/presences/purecloud
// (UserPresence: source, primary, presenceDefinition{id, systemPresence},
// message, modifiedDate), systemPresence in the enum spelling.
func (s *Server) handlePresence(w http.ResponseWriter, r *http.Request) {
	l, ok := s.life(w, r)
	if !ok {
		return
	}
	presence, since := l.presence, l.presenceSince
	if presence == "" {
		presence, since = bridge.PresenceOffline, time.Time{}
	}
	out := map[string]any{"source": "PURECLOUD", "primary": true, "message": "",
		"presenceDefinition": map[string]string{"id": presenceIDs[presence], "systemPresence": strings.ToUpper(string(presence))}}
	if !since.IsZero() {
		out["modifiedDate"] = ts(since)
	}
	writeJSON(w, http.StatusOK, out)
}

// AgentTruth returns the agent transitions caused so far, in order.
func (s *Server) AgentTruth() []AgentTruth {
	s.agents.mu.Lock()
	defer s.agents.mu.Unlock()
	return slices.Clone(s.agents.truth)
}

// sendAgents sends activity frames to the sockets subscribed to them.
func (s *Server) sendAgents(fs []agentFrame) {
	for _, f := range fs {
		s.send(&Frame{Body: f.body, Topics: []string{f.topic}, truth: -1})
	}
}

// handleUserDetailsQuery serves POST /api/v2/analytics/users/details/query:
// the intervals of the users named in userFilters that overlap the
// interval, as analytics knew them AnalyticsLag ago (an interval whose end
// it did not know yet is open), in each agent's analytics clock.
func (s *Server) handleUserDetailsQuery(w http.ResponseWriter, r *http.Request) {
	q, ok := readQuery(w, r)
	if !ok {
		return
	}
	size, page := q.Paging.PageSize, q.Paging.PageNumber
	want := map[string]bool{}
	for _, g := range q.UserFilters {
		for _, p := range g.Predicates {
			if p.Dimension == "userId" {
				want[p.Value] = true
			}
		}
	}
	asOf := time.Now().Add(-s.cfg.AnalyticsLag)
	s.countQuery()
	type record struct {
		StartTime      string `json:"startTime"`
		EndTime        string `json:"endTime,omitempty"`
		SystemPresence string `json:"systemPresence,omitempty"`
		OrgPresenceID  string `json:"organizationPresenceId,omitempty"`
		RoutingStatus  string `json:"routingStatus,omitempty"`
	}
	type detail struct {
		UserID          string   `json:"userId"`
		PrimaryPresence []record `json:"primaryPresence,omitempty"`
		RoutingStatus   []record `json:"routingStatus,omitempty"`
	}
	var out []detail
	s.agents.mu.Lock()
	for _, id := range s.agents.order {
		if !want[id] {
			continue
		}
		l := s.agents.lives[id]
		d := detail{UserID: id}
		for _, iv := range visible(l.presenceLog, q.from, q.to, asOf) {
			d.PrimaryPresence = append(d.PrimaryPresence, record{StartTime: ts(iv.start), EndTime: ts(iv.end),
				SystemPresence: iv.value, OrgPresenceID: presenceIDs[bridge.Presence(strings.ToLower(iv.value))]})
		}
		for _, iv := range visible(l.routingLog, q.from, q.to, asOf) {
			d.RoutingStatus = append(d.RoutingStatus, record{StartTime: ts(iv.start), EndTime: ts(iv.end), RoutingStatus: iv.value})
		}
		if len(d.PrimaryPresence)+len(d.RoutingStatus) > 0 {
			out = append(out, d)
		}
	}
	s.agents.mu.Unlock()
	lo, hi := min((page-1)*size, len(out)), min(page*size, len(out))
	writeJSON(w, http.StatusOK, map[string]any{"userDetails": out[lo:hi], "totalHits": len(out)})
}

// visible returns the intervals overlapping [from, to) known at asOf,
// with ends not known then left open.
func visible(log []interval, from, to, asOf time.Time) []interval {
	var out []interval
	for _, iv := range log {
		if iv.recorded.After(asOf) {
			break
		}
		if !iv.ended.IsZero() && iv.ended.After(asOf) {
			iv.end = time.Time{}
		}
		if iv.start.Before(to) && (iv.end.IsZero() || iv.end.After(from)) {
			out = append(out, iv)
		}
	}
	return out
}
