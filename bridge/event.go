package bridge

import (
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// MaxInteractionIDLen bounds an interaction id. Genesys ids are 36-byte UUIDs.
const MaxInteractionIDLen = 128

// Step is one status an interaction is proven to have entered, and when,
// with who and where it was then.
type Step struct {
	Status Status
	At     time.Time
	Who    Who
}

// Who is where an interaction is and who handles it, as far as the
// observation says: the queue it is in (or was last in) and the agent's
// user id while an agent rings, is connected, holds it or wraps it up.
// Empty when the source does not say; never guessed.
type Who struct {
	QueueID string
	UserID  string
}

// ValidRef reports whether s may be published as a queue or user id: the
// rule of interaction ids (1 to MaxInteractionIDLen bytes of valid UTF-8
// without control or space characters). A decoder leaves an id that is not
// one out (unknown) rather than rejecting the observation it came with.
func ValidRef(s string) bool { return ValidateInteractionID(s) == nil }

// EventKind says what an Event carries.
type EventKind uint8

// Event kinds.
const (
	// KindObservation is an observation of one interaction.
	KindObservation EventKind = iota
	// KindGapOpened marks a span (Gap) in which the source may have missed
	// changes: a socket died, or the bridge was not running. Observations
	// of interactions that may have changed in it wait for its history.
	KindGapOpened
	// KindGapClosed says every history of Gap has been delivered (or could
	// not be: Gap.Incomplete).
	KindGapClosed
)

// Gap is a span of time in which the source may have missed changes. The
// source delivers KindGapOpened before any observation that follows the
// gap, then the history of the interactions it concerns (observations with
// HistoryOf set), then KindGapClosed.
type Gap struct {
	ID       uint64
	From, To time.Time
	// Deadline is when interactions still waiting for their history are
	// released without it (marked incomplete).
	Deadline time.Time
	// Incomplete, on KindGapClosed: some history could not be fetched.
	Incomplete bool
	// Only, if set, limits the gap to these entities: agents whose topic
	// was just subscribed (what they did before is their history). Nothing
	// else waits for such a gap.
	Only []string
	// InheritedUntil, if set, tells that another replica read the gapped
	// lane until the gap (it was taken over), and may have published
	// until then: an interaction first met with a start before To may
	// have a persisted state, loaded before anything is derived.
	InheritedUntil time.Time
}

// Event is one observation of an interaction, normalised from any dialect,
// or a gap marker (Kind).
//
// Genesys sends the whole conversation on every change, so an observation
// can prove several statuses at once: Steps holds every status that the
// observation's own timestamps prove, oldest first; Status is the status now
// (it differs from the last step only for states that carry no timestamp of
// their own, such as hold).
type Event struct {
	Kind EventKind
	// Gap is the gap a KindGapOpened or KindGapClosed marker is about.
	Gap *Gap
	// HistoryOf, on a back-filled observation, is the gap whose history it
	// is: the interaction as Genesys recorded it through at least Gap.To.
	HistoryOf uint64

	InteractionID string
	ChannelType   ChannelType

	// Steps are the statuses proven by timestamps in the observation, in
	// time order, consecutive repeats removed. May be empty.
	Steps []Step
	// Status is the status the interaction is in now, and Who who and
	// where it is now.
	Status Status
	Who    Who
	// StatusAt is when Status began if the observation says (a hold's start
	// time); zero otherwise.
	StatusAt time.Time
	// Horizon is the latest forward-only timestamp in the observation
	// (connected, disconnected, ended, wrap-up times). Those facts only ever
	// get added, so an observation with an earlier horizon than one already
	// applied is provably older.
	Horizon time.Time
	// ObservedAt is when the bridge received the observation.
	ObservedAt time.Time
	// Backfilled marks observations fetched over REST after a gap.
	Backfilled bool
	// Sequenced marks an observation from a source that delivers an
	// interaction's observations in order (the interactions dialect's
	// sequence numbers): its status applies in arrival order even without
	// a newer timestamp.
	Sequenced bool
	// Detail is the raw per-participant state, for consumers that need more
	// than the canonical status ("customer:connected", "agent:alerting").
	Detail []string
	// Agent, when set, makes this an observation of an agent, not of an
	// interaction: InteractionID is the agent's user id (the engine's key:
	// its shard, its gap hold, its persisted state), and ChannelType,
	// Steps, Status, Who and Horizon are unused.
	Agent *AgentObservation

	// replayed marks an event applied again after a conflict: like a
	// back-filled one, its untimed status proves nothing on its own.
	replayed bool
	// incomplete marks an event applied without the history of a gap it
	// waited for: its transitions are published marked Incomplete.
	incomplete bool
	// validated marks an event Validate accepted: the pipeline does not
	// check it again (a source that changes an event after validating it
	// must validate it again).
	validated bool
}

// MarkReplayed marks e as applied again after a conflict, or on a state
// loaded from the stream (the engine's mark): like a back-filled event,
// its untimed status proves nothing on its own.
func (e *Event) MarkReplayed(replayed bool) { e.replayed = replayed }

// MarkIncomplete marks e as applied without the history of a gap it waited
// for (the engine's mark): its transitions are published marked Incomplete.
func (e *Event) MarkIncomplete(incomplete bool) { e.incomplete = incomplete }

// Incomplete reports MarkIncomplete's mark.
func (e *Event) Incomplete() bool { return e.incomplete }

// Validated reports whether Validate accepted e (and nothing changed it
// since, the source's promise): the engine does not check it again.
func (e *Event) Validated() bool { return e.validated }

// First is the earliest time the event knows of the interaction.
func (e *Event) First() time.Time {
	switch {
	case e.Agent != nil:
		return e.Agent.Steps[0].At
	case len(e.Steps) > 0:
		return e.Steps[0].At
	case !e.Horizon.IsZero():
		return e.Horizon
	}
	return e.ObservedAt
}

// Truncated returns what a back-filled event proves up to t: its steps at
// or before t and the status then. ok is false if it proves no status by t.
func (e *Event) Truncated(t time.Time) (Event, bool) {
	out := *e
	if e.Agent != nil {
		var ok bool
		out.Agent, ok = e.Agent.truncated(t)
		return out, ok
	}
	out.Steps = nil
	for _, s := range e.Steps {
		if s.At.After(t) {
			break
		}
		out.Steps = append(out.Steps, s)
	}
	if len(out.Steps) == 0 {
		return out, false
	}
	last := out.Steps[len(out.Steps)-1]
	out.Status, out.StatusAt = last.Status, time.Time{}
	if last.Status == StatusHeld {
		out.StatusAt = last.At
	}
	if out.Horizon.After(t) {
		// The facts up to t are known only from the steps; hold edges are
		// not forward-only facts.
		out.Horizon = time.Time{}
		for i, s := range out.Steps {
			if s.Status != StatusHeld && (i == 0 || out.Steps[i-1].Status != StatusHeld) {
				out.Horizon = s.At
			}
		}
	}
	return out, true
}

// Validate checks the invariants every dialect must establish. It returns a
// *RejectError naming the first violation, or marks the event valid (the
// pipeline validates every observation a source did not).
func (e *Event) Validate() error {
	if err := e.validate(); err != nil {
		return err
	}
	e.validated = true
	return nil
}

// ValidateInput is Validate for a source that derived e from input (a
// frame): a rejection carries the input, as a decoding error's does, for
// the log and the dead letter. Validating where the input was decoded
// also spares the pipeline's goroutine reading e's strings again.
func (e *Event) ValidateInput(input []byte) error {
	err := e.Validate()
	if rej, ok := err.(*RejectError); ok {
		withInput := Reject(rej.Reason, input, "")
		rej.Excerpt, rej.Input = withInput.Excerpt, withInput.Input
	}
	return err
}

func (e *Event) validate() error {
	if err := ValidateInteractionID(e.InteractionID); err != nil {
		return reject(ReasonSchema, "%v", err)
	}
	if e.Agent != nil {
		if e.ObservedAt.IsZero() || !representable(e.ObservedAt) {
			return reject(ReasonSchema, "agent %s: no observation time", e.InteractionID)
		}
		return e.Agent.validate(e.InteractionID)
	}
	if _, ok := LookupChannelType(string(e.ChannelType)); !ok {
		_, err := ParseChannelType(string(e.ChannelType))
		return reject(ReasonSchema, "interaction %s: %v", e.InteractionID, err)
	}
	if _, ok := LookupStatus(string(e.Status)); !ok {
		_, err := ParseStatus(string(e.Status))
		return reject(ReasonSchema, "interaction %s: %v", e.InteractionID, err)
	}
	for _, t := range [...]time.Time{e.Horizon, e.StatusAt, e.ObservedAt} {
		if !t.IsZero() && !representable(t) {
			return reject(ReasonSchema, "interaction %s: %v", e.InteractionID, CheckTime(t))
		}
	}
	for i, s := range e.Steps {
		if !s.At.IsZero() && !representable(s.At) {
			return reject(ReasonSchema, "interaction %s: step %d: %v", e.InteractionID, i, CheckTime(s.At))
		}
		if _, ok := LookupStatus(string(s.Status)); !ok {
			_, err := ParseStatus(string(s.Status))
			return reject(ReasonSchema, "interaction %s: step %d: %v", e.InteractionID, i, err)
		}
		if s.At.IsZero() {
			return reject(ReasonSchema, "interaction %s: step %d has no time", e.InteractionID, i)
		}
		if i > 0 && s.At.Before(e.Steps[i-1].At) {
			return reject(ReasonSchema, "interaction %s: steps out of time order", e.InteractionID)
		}
	}
	if e.ObservedAt.IsZero() {
		return reject(ReasonSchema, "interaction %s: no observation time", e.InteractionID)
	}
	if !e.Who.valid() {
		return reject(ReasonSchema, "interaction %s: queue or user id is not a valid id", e.InteractionID)
	}
	checked := e.Who // steps mostly name the same queue and agent: each is checked once in a row
	for i := range e.Steps {
		if w := e.Steps[i].Who; w != checked {
			if !w.valid() {
				return reject(ReasonSchema, "interaction %s: step %d: queue or user id is not a valid id", e.InteractionID, i)
			}
			checked = w
		}
	}
	return nil
}

func (w Who) valid() bool {
	return (w.QueueID == "" || ValidRef(w.QueueID)) && (w.UserID == "" || ValidRef(w.UserID))
}

// Times the bridge accepts: what Unix nanoseconds in an int64 hold (the
// persisted State's form), less a margin, and after 1970.
var (
	earliestTime = time.Unix(1, 0)
	latestTime   = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

func representable(t time.Time) bool { return t.After(earliestTime) && t.Before(latestTime) }

// CheckTime reports a time the bridge cannot hold (before 1970 or from
// 2262 on), which Event.Validate rejects.
func CheckTime(t time.Time) error {
	if representable(t) {
		return nil
	}
	return fmt.Errorf("time %s out of range (1970 to 2262)", t.Format(time.RFC3339))
}

// errEmptyID is allocated once: ValidRef asks about empty ids (an unknown
// queue or agent) on every frame.
var errEmptyID = errors.New("empty interaction id")

// ValidateInteractionID accepts 1 to MaxInteractionIDLen bytes of valid UTF-8
// without control or space characters.
func ValidateInteractionID(id string) error {
	switch {
	case id == "":
		return errEmptyID
	case len(id) > MaxInteractionIDLen:
		return fmt.Errorf("interaction id is %d bytes, more than %d", len(id), MaxInteractionIDLen)
	}
	ascii := true
	i := 0
	for ; i+8 <= len(id) && visible8(id[i:]); i += 8 {
	}
	for ; i < len(id); i++ {
		if c := id[i]; c >= utf8.RuneSelf {
			ascii = false
			break
		} else if c <= ' ' || c == 0x7f {
			return fmt.Errorf("interaction id %q contains a control or space character", text.Truncate(id, 64))
		}
	}
	if ascii {
		return nil
	}
	if !utf8.ValidString(id) {
		return errors.New("interaction id is not valid UTF-8")
	}
	for _, r := range id {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return fmt.Errorf("interaction id %q contains a control or space character", text.Truncate(id, 64))
		}
	}
	return nil
}

// visible8 reports whether the 8 bytes at the start of s are all visible
// ASCII (0x21 to 0x7e): none below 0x21, none equal to 0x7f, none with the
// high bit (each test exact for "some byte is", as in the genesys
// package's string scanner).
func visible8(s string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	del := x ^ (ones * 0x7f)
	return ((x-ones*0x21)&^x|(del-ones)&^del|x)&highs == 0
}

// Reason classifies why an input was not turned into an event.
type Reason string

// Reasons for rejecting input. They are metric label values.
const (
	ReasonMalformed Reason = "malformed" // not parseable (bad JSON, wrong types)
	ReasonSchema    Reason = "schema"    // parseable but violates the schema
	ReasonOversize  Reason = "oversize"  // larger than the configured frame limit
	ReasonUnknown   Reason = "unknown"   // a topic or type the bridge does not handle
)

// Reasons lists every rejection reason; Stats counts by position in it.
// TestEveryReasonIsCounted keeps it in step with the constants above.
var Reasons = [...]Reason{ReasonMalformed, ReasonSchema, ReasonOversize, ReasonUnknown}

// Known returns r if Reasons lists it, and ReasonUnknown otherwise: a value
// safe to put in a subject or a metric label.
func (r Reason) Known() Reason { return Reasons[r.Index()] }

// Index is r's position in Reasons; a reason not listed counts as unknown.
func (r Reason) Index() int {
	for i, x := range Reasons {
		if x == r {
			return i
		}
	}
	return len(Reasons) - 1
}

// RejectError reports an input that was dead-lettered: counted and logged,
// never fatal. Sources return it from Read and carry on.
type RejectError struct {
	Reason Reason
	Msg    string
	// Excerpt is a bounded prefix of the offending input, for the log.
	Excerpt string
	// Input is the offending input as received (a copy of at most
	// MaxRejectedInput bytes), for a dead letter; nil when the rejection
	// concerns something derived rather than a frame.
	Input []byte
	// Topic is the Genesys topic the input came on, when known.
	Topic string
}

// MaxRejectedInput bounds RejectError.Input.
const MaxRejectedInput = 64 << 10

func (e *RejectError) Error() string { return fmt.Sprintf("rejected (%s): %s", e.Reason, e.Msg) }

func reject(r Reason, format string, args ...any) *RejectError {
	return &RejectError{Reason: r, Msg: fmt.Sprintf(format, args...)}
}

// Reject builds a *RejectError with an excerpt of the offending input
// (at most 256 bytes, invalid UTF-8 replaced).
func Reject(r Reason, input []byte, format string, args ...any) *RejectError {
	e := reject(r, format, args...)
	e.Input = append([]byte(nil), input[:min(len(input), MaxRejectedInput)]...)
	if len(input) > 256 {
		input = input[:256]
	}
	e.Excerpt = string([]rune(string(input))) // normalises invalid UTF-8
	return e
}
