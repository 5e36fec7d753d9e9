package consume

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Transition is one published change of an interaction's status: the
// payload on <prefix>.<channelType>.<toStatus>.<interaction>.
type Transition struct {
	ID            string `json:"id"`
	InteractionID string `json:"interactionId"`
	ChannelType   string `json:"channelType"`
	// QueueID is the queue the interaction is in (or was last in); UserID
	// the agent while one rings, is connected, holds or wraps up. Empty
	// when Genesys did not say.
	QueueID    string    `json:"queueId,omitempty"`
	UserID     string    `json:"userId,omitempty"`
	FromStatus string    `json:"fromStatus"` // "" for the first status seen (null in the payload)
	ToStatus   string    `json:"toStatus"`
	OccurredAt time.Time `json:"occurredAt"` // Genesys's time of the change
	ObservedAt time.Time `json:"observedAt"` // when the bridge received it
	// Reconstructed: proven by a later observation's timestamps; Backfilled:
	// found over REST after a gap; Incomplete: published without a gap's
	// complete history.
	Reconstructed bool     `json:"reconstructed"`
	Backfilled    bool     `json:"backfilled"`
	Incomplete    bool     `json:"incomplete"`
	Detail        []string `json:"detail"`

	// Subject and Sequence locate the message in the stream.
	Subject  string `json:"-"`
	Sequence uint64 `json:"-"`
}

// AgentTransition is one published change of an agent's routing status
// or system presence: the payload on <prefix>.agents.<toRoutingStatus>.<userId>.
type AgentTransition struct {
	ID     string `json:"id"`
	UserID string `json:"userId"`
	// From* are "" on the first transition the bridge saw of the agent
	// (null in the payload).
	FromRoutingStatus string `json:"fromRoutingStatus"`
	ToRoutingStatus   string `json:"toRoutingStatus"`
	FromPresence      string `json:"fromPresence"`
	ToPresence        string `json:"toPresence"`
	// PresenceDefinitionID is the organization's presence ("" when not
	// known); ActiveQueueIDs the queues the agent is active on.
	PresenceDefinitionID string    `json:"presenceDefinitionId,omitempty"`
	ActiveQueueIDs       []string  `json:"activeQueueIds"`
	OccurredAt           time.Time `json:"occurredAt"`
	ObservedAt           time.Time `json:"observedAt"`
	// InPrevious is how long the agent was in the previous pair.
	InPrevious    time.Duration `json:"-"`
	Reconstructed bool          `json:"reconstructed"`
	Backfilled    bool          `json:"backfilled"`
	Incomplete    bool          `json:"incomplete"`

	Subject  string `json:"-"`
	Sequence uint64 `json:"-"`
}

// UnmarshalJSON reads the published form (inPreviousMs in milliseconds).
func (a *AgentTransition) UnmarshalJSON(b []byte) error {
	type plain AgentTransition // without this method
	var w struct {
		plain
		InPreviousMs int64 `json:"inPreviousMs"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*a = AgentTransition(w.plain)
	a.InPrevious = time.Duration(w.InPreviousMs) * time.Millisecond
	return nil
}

// Timings are a completed interaction's contact-center figures: the
// payload on <timings prefix>.<channelType>.<interaction>.
type Timings struct {
	ID            string
	InteractionID string
	ChannelType   string
	// QueueID is the queue it was last in, UserID the last agent.
	QueueID, UserID        string
	StartedAt, CompletedAt time.Time
	// Wait is the time queued, Alert ringing, Talk connected, Hold held,
	// Wrapup in after-call work; Handle is talk, hold and wrap-up.
	Wait, Alert, Talk, Hold, Wrapup, Handle time.Duration
	Holds, Transfers                        int
	Answered, Abandoned                     bool
	AbandonedIn                             string // the status it ended from, when abandoned
	// Partial: some of the interaction's history is missing from these
	// figures.
	Partial bool

	Subject  string
	Sequence uint64
}

// UnmarshalJSON reads the published form (durations in milliseconds).
func (t *Timings) UnmarshalJSON(b []byte) error {
	var w struct {
		ID, InteractionID, ChannelType, QueueID, UserID string
		StartedAt, CompletedAt                          time.Time
		WaitMs, AlertMs, TalkMs, HoldMs, WrapupMs       int64
		HandleMs                                        int64
		Holds, Transfers                                int
		Answered, Abandoned, Partial                    bool
		AbandonedIn                                     string
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	ms := func(n int64) time.Duration { return time.Duration(n) * time.Millisecond }
	*t = Timings{ID: w.ID, InteractionID: w.InteractionID, ChannelType: w.ChannelType, QueueID: w.QueueID, UserID: w.UserID,
		StartedAt: w.StartedAt, CompletedAt: w.CompletedAt, Wait: ms(w.WaitMs), Alert: ms(w.AlertMs), Talk: ms(w.TalkMs),
		Hold: ms(w.HoldMs), Wrapup: ms(w.WrapupMs), Handle: ms(w.HandleMs), Holds: w.Holds, Transfers: w.Transfers,
		Answered: w.Answered, Abandoned: w.Abandoned, AbandonedIn: w.AbandonedIn, Partial: w.Partial}
	return nil
}

// Start is where a subscription begins.
type Start int

const (
	// New delivers only what is published after the subscription starts.
	New Start = iota
	// All delivers everything the stream retains, then what follows.
	All
	// At delivers from Config.From on.
	At
)

// Config says what to read and how. Zero values are the bridge's
// defaults.
type Config struct {
	// Stream and the subject prefixes, as the bridge is configured
	// (NATS_STREAM, NATS_SUBJECT_PREFIX, NATS_TIMINGS_SUBJECT_PREFIX).
	// Defaults GENESYS_INTERACTIONS, genesys.interactions, genesys.timings.
	Stream, SubjectPrefix, TimingsPrefix string

	// Channels and Statuses select by channel type and (for transitions)
	// status entered; empty selects all. The server filters these.
	Channels, Statuses []string
	// Interaction selects one interaction; the server filters it.
	Interaction string
	// Queue selects transitions and timings whose queueId is this one, and
	// agents' transitions whose activeQueueIds hold it; it is not in the
	// subject, so the client filters it (what it skips of a durable
	// consumer is acknowledged).
	Queue string
	// Agent selects one agent's transitions (its user id); RoutingStatuses
	// agents' transitions by the routing status entered. The server
	// filters both.
	Agent           string
	RoutingStatuses []string

	// Start and From: where to begin.
	Start Start
	From  time.Time

	// Durable names a durable consumer: the server remembers what was
	// acknowledged, so a restarted reader resumes after the last message it
	// handled, and several readers with the same name share the work. Each
	// message is acknowledged when the loop body that received it returns
	// (at least once: a reader that dies before that gets it again). Empty:
	// an ordered consumer, in stream order, with nothing to acknowledge,
	// that starts again from Start each time.
	Durable string
	// AckWait is how long the server waits for a durable consumer's
	// acknowledgement before it delivers the message again. Default 30s.
	AckWait time.Duration
}

// The bridge's defaults (NATS_STREAM, NATS_SUBJECT_PREFIX,
// NATS_TIMINGS_SUBJECT_PREFIX); a test holds them to its configuration.
const (
	DefaultStream        = "GENESYS_INTERACTIONS"
	DefaultSubjectPrefix = "genesys.interactions"
	DefaultTimingsPrefix = "genesys.timings"
)

func (c Config) withDefaults() Config {
	for _, d := range [...]struct {
		v   *string
		def string
	}{
		{&c.Stream, DefaultStream}, {&c.SubjectPrefix, DefaultSubjectPrefix}, {&c.TimingsPrefix, DefaultTimingsPrefix}} {
		if *d.v == "" {
			*d.v = d.def
		}
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	return c
}

// Selectable reports whether an interaction id is its own subject token
// (the bridge hashes any other into the subject), so Config.Interaction
// can select it: 1 to 64 of A-Z a-z 0-9 _ -, not starting with _.
func Selectable(id string) bool {
	if id == "" || len(id) > 64 || id[0] == '_' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// token is one subject token: a filter value that is not one is refused
// (it would widen or break the filter).
func token(what, v string) error {
	if v == "" || strings.ContainsAny(v, ".*> \t\r\n") {
		return fmt.Errorf("consume: %s %q is not a subject token", what, v)
	}
	return nil
}

// subjects returns the filter subjects: for transitions (status true)
// prefix.<channel>.<status>.<id>, for timings prefix.<channel>.<id>.
// ChannelTypes are the channel types the bridge publishes (package
// bridge's, which this package does not import).
var ChannelTypes = []string{"voice", "chat", "email", "message", "callback", "video", "cobrowse", "screenshare", "social"}

// agentsToken is the subject token of agents' transitions in place of a
// channel type.
const agentsToken = "agents"

func (c Config) subjects(prefix string, status bool) ([]string, error) {
	id := "*"
	if c.Interaction != "" {
		id = c.Interaction
		if !Selectable(id) {
			return nil, fmt.Errorf("consume: interaction %q: only ids of 1 to 64 letters, digits, - and _ not starting with _ (Genesys's UUIDs) are in the subject; read all and compare InteractionID", id)
		}
	}
	channels, statuses := c.Channels, c.Statuses
	switch {
	case len(channels) == 0 && status:
		// Each channel type by name, not "*": agents' transitions share
		// the prefix (<prefix>.agents.<routingStatus>.<userId>).
		channels = ChannelTypes
	case len(channels) == 0:
		channels = []string{"*"}
	case slices.Contains(channels, agentsToken):
		return nil, fmt.Errorf("consume: %q is not a channel type: agents' transitions are another kind of message (docs/agents.md)", agentsToken)
	}
	if len(statuses) == 0 || !status {
		statuses = []string{"*"}
	}
	var out []string
	for _, ch := range channels {
		if ch != "*" {
			if err := token("channel", ch); err != nil {
				return nil, err
			}
		}
		for _, st := range statuses {
			if st != "*" {
				if err := token("status", st); err != nil {
					return nil, err
				}
			}
			s := prefix + "." + ch + "." + id
			if status {
				s = prefix + "." + ch + "." + st + "." + id
			}
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// PayloadError is a message whose payload could not be read: the
// sequence yields it and goes on with the next message.
type PayloadError struct {
	Subject  string
	Sequence uint64
	Err      error
}

func (e *PayloadError) Error() string {
	return fmt.Sprintf("consume: %s (sequence %d): %v", e.Subject, e.Sequence, e.Err)
}

func (e *PayloadError) Unwrap() error { return e.Err }

// Transitions reads transitions as cfg says, in stream order (see the
// package's invariants). A payload that cannot be read is yielded as an
// error and skipped; an error from the server ends the sequence after it
// is yielded. Breaking out of the loop stops the subscription.
func Transitions(ctx context.Context, js jetstream.JetStream, cfg Config) iter.Seq2[Transition, error] {
	cfg = cfg.withDefaults()
	return payloads(ctx, js, cfg, cfg.SubjectPrefix, true, func(t *Transition, subject string, seq uint64) string {
		t.Subject, t.Sequence = subject, seq
		return t.QueueID
	})
}

// AgentTransitions reads agents' transitions as cfg says (Agent,
// RoutingStatuses, Queue, Start, Durable; Channels, Statuses and
// Interaction do not apply), under Transitions' rules: in order per agent.
func AgentTransitions(ctx context.Context, js jetstream.JetStream, cfg Config) iter.Seq2[AgentTransition, error] {
	cfg = cfg.withDefaults()
	return func(yield func(AgentTransition, error) bool) {
		subjects, err := cfg.agentSubjects()
		if err != nil {
			yield(AgentTransition{}, err)
			return
		}
		decode(ctx, js, cfg, subjects, func(a *AgentTransition, subject string, seq uint64) bool {
			a.Subject, a.Sequence = subject, seq
			return cfg.Queue == "" || slices.Contains(a.ActiveQueueIDs, cfg.Queue)
		}, yield)
	}
}

// agentSubjects returns the filter subjects of agents' transitions:
// prefix.agents.<routingStatus>.<userId>.
func (c Config) agentSubjects() ([]string, error) {
	user := "*"
	if c.Agent != "" {
		if !Selectable(c.Agent) {
			return nil, fmt.Errorf("consume: agent %q is not a user id (1 to 64 letters, digits, - and _)", c.Agent)
		}
		user = c.Agent
	}
	statuses := c.RoutingStatuses
	if len(statuses) == 0 {
		statuses = []string{"*"}
	}
	var out []string
	for _, st := range statuses {
		if st != "*" {
			if err := token("routing status", st); err != nil {
				return nil, err
			}
		}
		out = append(out, c.SubjectPrefix+"."+agentsToken+"."+st+"."+user)
	}
	return out, nil
}

// TimingsOf reads completed interactions' timings as cfg says (Statuses
// does not apply), under Transitions' rules.
func TimingsOf(ctx context.Context, js jetstream.JetStream, cfg Config) iter.Seq2[Timings, error] {
	cfg = cfg.withDefaults()
	return payloads(ctx, js, cfg, cfg.TimingsPrefix, false, func(t *Timings, subject string, seq uint64) string {
		t.Subject, t.Sequence = subject, seq
		return t.QueueID
	})
}

// payloads decodes the messages under prefix into T; locate records where
// one was and returns its queue, for the client-side filter.
func payloads[T any](ctx context.Context, js jetstream.JetStream, cfg Config, prefix string, status bool,
	locate func(t *T, subject string, seq uint64) string) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		subjects, err := cfg.subjects(prefix, status)
		if err != nil {
			yield(zero, err)
			return
		}
		decode(ctx, js, cfg, subjects, func(t *T, subject string, seq uint64) bool {
			queue := locate(t, subject, seq)
			return cfg.Queue == "" || queue == cfg.Queue
		}, yield)
	}
}

// decode reads subjects and yields each message decoded into T that keep
// (which also records where it was) accepts; a payload that cannot be
// read is yielded as a *PayloadError.
func decode[T any](ctx context.Context, js jetstream.JetStream, cfg Config, subjects []string,
	keep func(t *T, subject string, seq uint64) bool, yield func(T, error) bool) {
	var zero T
	read(ctx, js, cfg, subjects, func(m jetstream.Msg, seq uint64) (bool, bool) {
		var t T
		if err := json.Unmarshal(m.Data(), &t); err != nil {
			return true, yield(zero, &PayloadError{Subject: m.Subject(), Sequence: seq, Err: err})
		}
		if !keep(&t, m.Subject(), seq) {
			return true, true
		}
		return true, yield(t, nil)
	}, func(err error) { yield(zero, err) })
}

// read runs a consumer on subjects and hands each message to handle,
// which returns whether to acknowledge it and whether to go on; fail
// gets an error that ends the reading.
func read(ctx context.Context, js jetstream.JetStream, cfg Config, subjects []string,
	handle func(m jetstream.Msg, seq uint64) (ack, more bool), fail func(error)) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := js.Stream(ctx, cfg.Stream)
	if err != nil {
		fail(fmt.Errorf("consume: stream %s: %w", cfg.Stream, err))
		return
	}
	policy := jetstream.DeliverNewPolicy
	var from *time.Time
	switch cfg.Start {
	case All:
		policy = jetstream.DeliverAllPolicy
	case At:
		if cfg.From.IsZero() {
			fail(errors.New("consume: Start At needs From"))
			return
		}
		policy, from = jetstream.DeliverByStartTimePolicy, &cfg.From
	}
	var cons jetstream.Consumer
	if cfg.Durable == "" {
		cons, err = stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
			FilterSubjects: subjects, DeliverPolicy: policy, OptStartTime: from})
	} else {
		cons, err = stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable: cfg.Durable, FilterSubjects: subjects, DeliverPolicy: policy, OptStartTime: from,
			AckPolicy: jetstream.AckExplicitPolicy, AckWait: cfg.AckWait})
	}
	if err != nil {
		fail(fmt.Errorf("consume: consumer on %s: %w", cfg.Stream, err))
		return
	}
	msgs, err := cons.Messages()
	if err != nil {
		fail(fmt.Errorf("consume: %w", err))
		return
	}
	defer msgs.Stop()
	// Next blocks without a context: stopping the iterator when ctx ends
	// makes it return.
	stop := context.AfterFunc(ctx, msgs.Stop)
	defer stop()
	for {
		m, err := msgs.Next()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				fail(fmt.Errorf("consume: %w", err))
			}
			return
		}
		var seq uint64
		if md, err := m.Metadata(); err == nil {
			seq = md.Sequence.Stream
		}
		ack, more := handle(m, seq)
		if ack && cfg.Durable != "" {
			// An acknowledgement that does not arrive makes the server
			// deliver the message again after AckWait: at least once.
			_ = m.Ack()
		}
		if !more {
			if cfg.Durable != "" {
				// What the client fetched ahead and the loop never saw goes
				// back to the server at once (not after AckWait), so a
				// reader that resumes gets it next.
				msgs.Drain()
				for {
					m, err := msgs.Next()
					if err != nil {
						break
					}
					_ = m.Nak()
				}
			}
			return
		}
	}
}
