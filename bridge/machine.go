package bridge

import "time"

// MachineConfig tunes how long the Machine keeps state. Zero values are the
// documented defaults.
type MachineConfig struct {
	// Grace is how long a completed interaction's state is kept for late
	// frames before it is released. Default 30s.
	Grace time.Duration
	// TombstoneTTL is how long a released interaction is remembered (its id
	// only; up to a quarter longer) so that a frame arriving even later is
	// dropped without asking the StateStore. After that, Forgotten covers it: a pipeline with a
	// store loads the state of an unknown interaction whose frame is that
	// old. Default 5m.
	TombstoneTTL time.Duration
	// IdleTTL releases an interaction that has not been observed for this
	// long, completed or not, so state stays bounded when a final frame is
	// never seen. Default 48h.
	IdleTTL time.Duration
}

// WithDefaults fills in the documented defaults of the zero values.
func (c MachineConfig) WithDefaults() MachineConfig {
	if c.Grace <= 0 {
		c.Grace = 30 * time.Second
	}
	if c.TombstoneTTL <= 0 {
		c.TombstoneTTL = 5 * time.Minute
	}
	if c.IdleTTL <= 0 {
		c.IdleTTL = 48 * time.Hour
	}
	return c
}

// Verdict is what the Machine made of one event.
type Verdict int

// Verdicts.
const (
	VerdictApplied   Verdict = iota // at least one transition
	VerdictUnchanged                // a repeat, or nothing that changes the status
	VerdictStale                    // provably older than the state already applied
	VerdictLate                     // for an interaction already completed and released
)

func (v Verdict) String() string {
	switch v {
	case VerdictApplied:
		return "applied"
	case VerdictUnchanged:
		return "unchanged"
	case VerdictStale:
		return "stale"
	case VerdictLate:
		return "late"
	}
	return "invalid"
}

// CrossSourceTolerance is how far apart two timestamps of the same fact
// may be when they come from different Genesys sources: analytics segment
// boundaries are in a clock a few milliseconds off the live frames' (and
// GET's). A back-filled horizon counts this much less, and a hold starting
// within it of a hold seen to end is that same hold.
const CrossSourceTolerance = 5 * time.Millisecond

// State is an interaction's applied state as it is persisted with each
// transition, so that a restarted bridge or another replica continues where
// this one left off: the right fromStatus, and nothing applied twice.
type State struct {
	Channel ChannelType
	Status  Status // "" before the first transition
	// Seq counts the interaction's transitions: the last one's position in
	// its history (1 for the first). It is part of every transition's id.
	Seq     uint64
	Anchor  time.Time // when the status began, if known (a hold's start for held)
	StepAt  time.Time // time of the last timestamped step applied
	Horizon time.Time // latest forward-only timestamp applied
	// EndedHold is the start of the latest hold seen to end: a held frame
	// for that hold or an earlier one is a reordered old frame.
	EndedHold time.Time
	// Version identifies the persisted state (the stream sequence of the
	// interaction's last transition); 0 when nothing is persisted. Writers
	// compare and set on it.
	Version uint64
	// Tally is the interaction's contact-center durations so far.
	Tally Tally
	// Agent, when set, makes this an agent's state: Channel, Status,
	// Anchor, Horizon, EndedHold and Tally are unused.
	Agent *AgentState
}

// live is the applied state of one interaction while an event is applied
// to it.
type live struct {
	State
	// owned: this Machine's writer has persisted a version itself, so its
	// next writes build on state it knows is current.
	owned       bool
	lastSeen    time.Time
	completedAt time.Time // observation time of the completion; zero if not completed
}

// interaction is how a Machine holds live between events: times as Unix
// nanoseconds (0 for none, as in the persisted State), durations as
// nanoseconds, channel and status by their position in ChannelTypes and
// Statuses (0 for none), queue and user ids by their number in the
// Machine's refs. 136 bytes instead of about 330, with no pointer for the
// collector to follow.
type interaction struct {
	seq, version                                              uint64
	anchor, stepAt, horizon, endedHold, lastSeen, completedAt int64
	started, since                                            int64
	wait, alert, talk, hold, wrapup                           int64
	queue, user, holds, transfers                             uint32
	channel, status                                           uint8
	owned, answered, partial                                  bool
	// detached: the Machine no longer holds this record (released, or
	// replaced by Restore); a handle to it finds the interaction by id.
	detached bool
}

func (st *interaction) unpack(l *live, refs *refs) {
	*l = live{
		State: State{Channel: entry(ChannelTypes, st.channel), Status: entry(Statuses, st.status), Seq: st.seq,
			Anchor: fromNanos(st.anchor), StepAt: fromNanos(st.stepAt), Horizon: fromNanos(st.horizon),
			EndedHold: fromNanos(st.endedHold), Version: st.version,
			Tally: Tally{Started: fromNanos(st.started), Since: fromNanos(st.since),
				Wait: time.Duration(st.wait), Alert: time.Duration(st.alert), Talk: time.Duration(st.talk),
				Hold: time.Duration(st.hold), Wrapup: time.Duration(st.wrapup), Holds: st.holds, Transfers: st.transfers,
				Answered: st.answered, Partial: st.partial, QueueID: refs.get(st.queue), UserID: refs.get(st.user)}},
		owned: st.owned, lastSeen: fromNanos(st.lastSeen), completedAt: fromNanos(st.completedAt),
	}
}

func (st *interaction) pack(l *live, refs *refs) {
	t := &l.Tally
	*st = interaction{
		seq: l.Seq, version: l.Version,
		anchor: nanos(l.Anchor), stepAt: nanos(l.StepAt), horizon: nanos(l.Horizon), endedHold: nanos(l.EndedHold),
		lastSeen: nanos(l.lastSeen), completedAt: nanos(l.completedAt),
		started: nanos(t.Started), since: nanos(t.Since),
		wait: int64(t.Wait), alert: int64(t.Alert), talk: int64(t.Talk), hold: int64(t.Hold), wrapup: int64(t.Wrapup),
		queue: refs.keep(st.queue, t.QueueID), user: refs.keep(st.user, t.UserID), holds: t.Holds, transfers: t.Transfers,
		channel: position(ChannelTypes, l.Channel), status: position(Statuses, l.Status),
		owned: l.owned, answered: t.Answered, partial: t.Partial, detached: st.detached,
	}
}

// refs numbers the queue and user ids a Machine holds (a few thousand in
// an organisation), so an interaction keeps 4 bytes and no pointer for
// each. Numbers are never reused; past maxRefs ids, new ones are not
// remembered (kept as unknown).
type refs struct {
	ids []string
	num map[string]uint32
}

const maxRefs = 1 << 18

// put returns id's number, 0 for "" (or for a new id past maxRefs).
func (r *refs) put(id string) uint32 {
	if id == "" {
		return 0
	}
	if n, ok := r.num[id]; ok {
		return n
	}
	if len(r.ids) >= maxRefs {
		return 0
	}
	if r.num == nil {
		r.num = make(map[string]uint32)
	}
	r.ids = append(r.ids, id)
	n := uint32(len(r.ids))
	r.num[id] = n
	return n
}

// keep returns n if it still numbers id (the usual case: unpack gave the
// same string, so the comparison is by pointer), else id's number.
func (r *refs) keep(n uint32, id string) uint32 {
	if r.get(n) == id {
		return n
	}
	return r.put(id)
}

func (r *refs) get(n uint32) string {
	if n == 0 || int(n) > len(r.ids) {
		return ""
	}
	return r.ids[n-1]
}

// nanos is t in Unix nanoseconds, 0 for the zero time; Event.Validate
// keeps the times it lets in within what int64 nanoseconds hold.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// position is v's 1-based position in set, 0 for "" (or a value not in
// it, which validated input never has).
func position[T ~string](set []T, v T) uint8 {
	for i, s := range set {
		if s == v {
			return uint8(i + 1)
		}
	}
	return 0
}

func entry[T ~string](set []T, i uint8) T {
	if i == 0 || int(i) > len(set) {
		return ""
	}
	return set[i-1]
}

// Machine holds the applied status of every open interaction and turns
// events into transitions. It is not safe for concurrent use: one goroutine
// owns a Machine (the pipeline gives each shard its own).
type Machine struct {
	cfg    MachineConfig
	states map[string]*interaction
	agents map[string]*agent // agentmachine.go
	// memo is the interaction found last, under memoID: one frame asks
	// for its interaction several times (Known, Apply, Version), and the
	// map is large enough that each lookup is a cache miss.
	memoID     string
	memo       *interaction
	refs       refs
	tombstones tombstones
	// peakStates is the high-water mark since the map was last rebuilt: Go
	// maps never give back their buckets, so Sweep rebuilds a map that
	// shrank to a quarter of its peak.
	peakStates int
	// forgotten: every interaction released and no longer remembered was
	// last observed (completed, or seen when idle) before this.
	forgotten time.Time
}

// NewMachine returns an empty Machine.
func NewMachine(cfg MachineConfig) *Machine {
	cfg = cfg.WithDefaults()
	return &Machine{
		cfg:        cfg,
		states:     make(map[string]*interaction),
		agents:     make(map[string]*agent),
		tombstones: newTombstones(cfg.TombstoneTTL),
	}
}

// Apply applies one validated event and appends the transitions it causes to
// out, oldest first.
//
// Rules, in order (nothing follows completed: an event for a completed
// interaction changes nothing):
//  1. An event for a released interaction is late and changes nothing.
//  2. A live event whose Horizon is before the applied horizon is stale: it
//     lacks a forward-only fact the state already has. A back-filled event
//     (history fetched over REST) is never stale, and moves the horizon
//     only to its own less CrossSourceTolerance.
//  3. Each step beyond the last applied step moves the status (see
//     firstNew: timed after it, by more than CrossSourceTolerance for a
//     step from another source, or following the applied status in the
//     event's own steps); a move to a different status is a transition,
//     stamped no earlier than the one before it. A held step at or before
//     the start of a hold already seen to end (within
//     CrossSourceTolerance) is that hold again and is skipped.
//  4. If the event's current Status still differs, that is a transition too
//     (hold, unhold and the start of alerting carry no forward-only
//     timestamp, so they are applied in arrival order), except a hold
//     already seen to end, and except for an event that proves nothing
//     newer than the state: a back-filled one (its history is in its steps)
//     unless its current status is timed after the state; one re-applied
//     after a conflict or a load (the stored state may be ahead of it); and
//     one with no newer timestamp whose change is not one of those untimed
//     moves (it is older than the state). Newer means after the applied
//     horizon and not before the last step applied (less twice
//     CrossSourceTolerance): a history's alert is timed later than any
//     forward-only timestamp, and a live frame held through the gap may
//     predate it.
func (m *Machine) Apply(ev *Event, out []Transition) ([]Transition, Verdict) {
	if ev.Agent != nil {
		return m.applyAgent(ev, out)
	}
	held, ok := m.find(ev.InteractionID)
	if !ok {
		if m.tombstones.has(ev.InteractionID) {
			return out, VerdictLate
		}
		held = &interaction{channel: position(ChannelTypes, ev.ChannelType)}
		m.states[ev.InteractionID] = held
		m.memoID, m.memo = ev.InteractionID, held
		m.peakStates = max(m.peakStates, len(m.states))
	}
	var st live
	held.unpack(&st, &m.refs)
	out, v := m.apply(ev, out, &st)
	held.pack(&st, &m.refs)
	return out, v
}

func (m *Machine) apply(ev *Event, out []Transition, st *live) ([]Transition, Verdict) {
	st.lastSeen = ev.ObservedAt
	if st.Status == StatusCompleted {
		// Completed is terminal: the conversation was over for everyone.
		// A later observation (a lagging state, a history in another
		// clock) adds nothing to it.
		return out, VerdictUnchanged
	}
	horizon := ev.Horizon
	if ev.Backfilled && !horizon.IsZero() {
		horizon = horizon.Add(-CrossSourceTolerance)
	} else if horizon.Before(st.Horizon) {
		return out, VerdictStale
	}
	var overlay bool
	switch {
	case st.Status == "":
		overlay = true
	case ev.Backfilled: // only a current status timed after the state (a GET's hold)
		overlay = !ev.StatusAt.IsZero() && ev.StatusAt.After(st.StepAt.Add(CrossSourceTolerance))
	case horizon.IsZero() || ev.Sequenced:
		overlay = true // a source that orders: arrival order
	case horizon.After(st.Horizon) && !horizon.Before(st.StepAt.Add(-2*CrossSourceTolerance)):
		// A newer fact, and not older than the last step applied: a
		// history's step (an agent's alert) may be later than every
		// forward-only timestamp, and a live frame held through the gap
		// may be from before it.
		overlay = true
	default:
		// Nothing newer than the state: only a move no timestamp records
		// can be news (an agent starting to ring, a hold, an unhold), and
		// not from an event that may be older than the state.
		overlay = !ev.replayed && untimedMove(st.Status, ev.Status)
	}
	if horizon.After(st.Horizon) {
		st.Horizon = horizon
	}
	n := len(out)
	for i := firstNew(ev, &st.State); i < len(ev.Steps); i++ {
		s := ev.Steps[i]
		st.StepAt = s.At
		if ev.Backfilled {
			// Live steps within the tolerance after it are this step again.
			st.StepAt = s.At.Add(CrossSourceTolerance)
		}
		if s.Status == st.Status {
			continue
		}
		if s.Status == StatusHeld && st.endedHoldCovers(s.At) {
			continue // a hold already applied and ended (back-fill after live frames)
		}
		last := i == len(ev.Steps)-1 && ev.Status == s.Status
		out = m.emit(out, st, ev, s.Status, s.At, s.At, !last, s.Who)
	}
	if ev.Status != st.Status && overlay {
		if ev.Status == StatusHeld && !ev.StatusAt.IsZero() && st.endedHoldCovers(ev.StatusAt) {
			if len(out) == n {
				return out, VerdictStale
			}
		} else {
			occurred := ev.StatusAt
			if occurred.IsZero() {
				occurred = ev.ObservedAt
			}
			out = m.emit(out, st, ev, ev.Status, ev.StatusAt, occurred, false, ev.Who)
		}
	}
	if len(out) == n {
		return out, VerdictUnchanged
	}
	return out, VerdictApplied
}

// firstNew returns the index of the first of ev's steps beyond the state:
// the first timed after the last step applied; or, when that step set the
// status now and ev's steps show that status around its time (a
// back-filled history, in a clock a few milliseconds off: within
// CrossSourceTolerance; a live frame: at the same instant), the step after
// that one. So a status that followed the applied one within the
// tolerance (a 1 ms wrap-up, the return to the queue after a failed offer)
// is applied, not taken for the same fact.
func firstNew(ev *Event, st *State) int {
	after, low := st.StepAt, st.StepAt
	if ev.Backfilled && !after.IsZero() {
		// A back-filled step's StepAt already counts the tolerance once.
		after, low = after.Add(CrossSourceTolerance), low.Add(-2*CrossSourceTolerance)
	}
	i := 0
	for i < len(ev.Steps) && !ev.Steps[i].At.After(after) {
		i++
	}
	if st.Status == "" || after.IsZero() || st.Anchor.Before(low) || st.Anchor.After(after) {
		// No state, or a status not set by the last timed step (an untimed
		// move seen live: ringing, a hold), which the steps cannot place.
		return i
	}
	within := func(j int) bool {
		return ev.Steps[j].Status == st.Status && !ev.Steps[j].At.Before(low) && !ev.Steps[j].At.After(after)
	}
	// Steps tell a history from its start, one status each, as every
	// source reveals the same sequence: the state's status is the Seq-th.
	if k := int(st.Seq) - 1; k >= 0 && k < i && within(k) {
		return k + 1
	}
	for j := range i { // else the first showing it around its time
		if within(j) {
			return j + 1
		}
	}
	return i
}

// untimedMove reports whether a change from one status to another can
// happen with no new forward-only timestamp: an agent starting to alert,
// a hold and an unhold. Every other change sets one (a connect, a
// disconnect, an end of after-call work), so an event that shows it without
// a newer timestamp than the state is older than the state.
func untimedMove(from, to Status) bool {
	return to == StatusRinging || (from == StatusConnected && to == StatusHeld) || (from == StatusHeld && to == StatusConnected)
}

// endedHoldCovers reports whether a hold starting at t is the hold seen to
// end last, or an earlier one.
func (st *live) endedHoldCovers(t time.Time) bool {
	return !st.EndedHold.IsZero() && !t.After(st.EndedHold.Add(CrossSourceTolerance))
}

// emit appends the transition from the current status to to, which began
// at since (zero if unknown) and is reported as occurred at occurred.
func (m *Machine) emit(out []Transition, st *live, ev *Event, to Status, since, occurred time.Time, reconstructed bool, who Who) []Transition {
	from := st.Status
	if ev.incomplete {
		st.Tally.Partial = true
	}
	// A transition is never stamped before the one it follows (a step
	// timed in another clock, after a status only seen at its arrival).
	if occurred.Before(st.Tally.Since) {
		occurred = st.Tally.Since
	}
	// A live snapshot never times the start of ringing (startAlertingTime
	// is GET's): the step carries the snapshot's latest timestamp. For the
	// tally, ringing seen now began about when it was seen.
	tallyAt := occurred
	if to == StatusRinging && !reconstructed && !ev.Sequenced && !ev.Backfilled && ev.ObservedAt.After(tallyAt) {
		tallyAt = ev.ObservedAt
	}
	st.Tally.add(from, to, tallyAt, who)
	if who.QueueID == "" {
		who.QueueID = st.Tally.QueueID // the queue it was last in
	}
	if st.Status == StatusHeld {
		// A hold ends once: remember its start, so that the same hold seen
		// again (a back-filled segment, a reordered frame) is not applied
		// twice.
		st.EndedHold = st.Anchor
	}
	st.Seq++
	out = append(out, Transition{
		ID:            TransitionID(ev.InteractionID, st.Seq, st.Status, to),
		InteractionID: ev.InteractionID,
		ChannelType:   st.Channel,
		QueueID:       who.QueueID,
		UserID:        who.UserID,
		FromStatus:    st.Status,
		ToStatus:      to,
		OccurredAt:    occurred,
		ObservedAt:    ev.ObservedAt,
		Reconstructed: reconstructed,
		Backfilled:    ev.Backfilled,
		Detail:        ev.Detail,
	})
	st.Status = to
	st.Anchor = since
	st.completedAt = time.Time{}
	if to == StatusCompleted {
		st.completedAt = ev.ObservedAt
		out[len(out)-1].Timings = timingsOf(ev.InteractionID, st.Channel, from, st.Seq, &st.Tally, occurred)
	}
	out[len(out)-1].State = st.State
	return out
}

// Sweep releases interactions completed more than Grace before now and
// interactions idle for IdleTTL, and forgets expired tombstones. It returns
// how many interactions it released.
func (m *Machine) Sweep(now time.Time) int {
	released := 0
	ns := now.UnixNano()
	grace, idle := m.cfg.Grace.Nanoseconds(), m.cfg.IdleTTL.Nanoseconds()
	for id, st := range m.states {
		completed := st.completedAt != 0 && ns-st.completedAt >= grace
		if completed || ns-st.lastSeen >= idle {
			delete(m.states, id)
			st.detached = true
			m.memo = nil
			released++
			if completed {
				m.tombstones.add(id, now)
			} else if seen := fromNanos(st.lastSeen); seen.After(m.forgotten) {
				m.forgotten = seen
			}
		}
	}
	if latest := m.tombstones.expire(now); latest.After(m.forgotten) {
		m.forgotten = latest // released by then, completed before
	}
	m.states, m.peakStates = shrink(m.states, m.peakStates)
	return released
}

// shrink copies a map that fell below a quarter of its peak size into a
// new one, so the memory of released entries is returned.
func shrink[K comparable, V any](m map[K]V, peak int) (map[K]V, int) {
	if peak < 1024 || len(m) > peak/4 {
		return m, peak
	}
	n := make(map[K]V, len(m))
	for k, v := range m {
		n[k] = v
	}
	return n, len(m)
}

// Len reports how many interactions and tombstones the Machine holds.
func (m *Machine) Len() (open, tombstones int) { return len(m.states), m.tombstones.len() }

// OpenIDs lists the interactions held that have not completed (not the
// agents: AgentIDs).
func (m *Machine) OpenIDs() []string {
	ids := make([]string, 0, len(m.states))
	completed := position(Statuses, StatusCompleted)
	for id, st := range m.states {
		if st.status != completed {
			ids = append(ids, id)
		}
	}
	return ids
}

// Forgotten returns the time before which every interaction this Machine
// released and no longer remembers was last observed (zero if none): a
// frame of an unknown interaction timed after it (give or take the clock
// skew between Genesys and this host) is not of one of those.
func (m *Machine) Forgotten() time.Time { return m.forgotten }

// Known reports whether the Machine holds state or a tombstone for id.
func (m *Machine) Known(id string) bool {
	if _, ok := m.find(id); ok {
		return true
	}
	if _, ok := m.agents[id]; ok {
		return true
	}
	return m.tombstones.has(id)
}

// find returns the interaction held under id.
func (m *Machine) find(id string) (*interaction, bool) {
	if m.memo != nil && id == m.memoID {
		return m.memo, true
	}
	st, ok := m.states[id]
	if ok {
		m.memoID, m.memo = id, st
	}
	return st, ok
}

// Restore sets an interaction's state from its persisted form (after a
// restart, or when another writer got ahead), observed at now.
func (m *Machine) Restore(id string, s State, now time.Time) {
	if s.Agent != nil {
		m.restoreAgent(id, s)
		return
	}
	l := live{State: s, lastSeen: now}
	if s.Status == StatusCompleted {
		l.completedAt = now
	}
	st := new(interaction)
	st.pack(&l, &m.refs)
	m.memo = nil
	old, ok := m.states[id]
	m.states[id] = st
	if !ok {
		m.peakStates = max(m.peakStates, len(m.states))
		return
	}
	old.detached = true
}

// Version returns the persisted version of an interaction's state, whether
// this writer persisted it itself (owned), and whether the Machine holds the
// interaction.
func (m *Machine) Version(id string) (version uint64, owned, ok bool) {
	st, ok := m.find(id)
	if !ok {
		if a := m.agents[id]; a != nil {
			return a.state.Version, a.owned, true
		}
		return 0, false, false
	}
	return st.version, st.owned, true
}

// SetVersion records that this writer persisted the interaction's state up
// to its last transition as version v.
func (m *Machine) SetVersion(id string, v uint64) {
	if st, ok := m.find(id); ok {
		st.owned = true
		if v > st.version {
			st.version = v
		}
	} else if a := m.agents[id]; a != nil {
		a.setVersion(v)
	}
}

func (a *agent) setVersion(v uint64) {
	a.owned = true
	if v > a.state.Version {
		a.state.Version = v
	}
}

// Handle is a held interaction's record, opaque, for VersionOf and
// SetVersionOf, which then need no lookup by id: the engine keeps one with
// each transition it publishes. The zero Handle looks the id up.
type Handle struct {
	in *interaction
	ag *agent
}

// Handle returns the record of a held interaction or agent (the zero
// Handle if none).
func (m *Machine) Handle(id string) Handle {
	if st, ok := m.find(id); ok {
		return Handle{in: st}
	}
	return Handle{ag: m.agents[id]}
}

// VersionOf is Version through a handle for id.
func (m *Machine) VersionOf(h Handle, id string) (version uint64, owned, ok bool) {
	if h.ag != nil && !h.ag.detached {
		return h.ag.state.Version, h.ag.owned, true
	}
	if h.in == nil || h.in.detached {
		return m.Version(id)
	}
	return h.in.version, h.in.owned, true
}

// SetVersionOf is SetVersion through a handle for id.
func (m *Machine) SetVersionOf(h Handle, id string, v uint64) {
	if h.ag != nil && !h.ag.detached {
		h.ag.setVersion(v)
		return
	}
	if h.in == nil || h.in.detached {
		m.SetVersion(id, v)
		return
	}
	h.in.owned = true
	if v > h.in.version {
		h.in.version = v
	}
}

// Status reports the applied status of an interaction ("" if unknown).
func (m *Machine) Status(id string) Status {
	if st, ok := m.states[id]; ok {
		return entry(Statuses, st.status)
	}
	return ""
}
