package genesys

import (
	"fmt"
	"strings"

	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// TopicSet is what a bridge subscribes, by kind of id.
type TopicSet struct {
	Queues []string // v2.routing.queues.{id}.conversations
	Users  []string // v2.users.{id}.conversations
	Agents []string // v2.users.{id}.activity
	// MembersOf are the queues whose members are agents:
	// v2.routing.queues.{id}.users (the members' own topics are added when
	// the stream lists them).
	MembersOf []string
	Extra     []string // verbatim
}

// Topics builds the subscription list: v2.routing.queues.{id}.conversations
// per queue id, v2.users.{id}.conversations per user id,
// v2.users.{id}.activity per agent id, v2.routing.queues.{id}.users per
// queue whose members are agents, then extra topics verbatim. Ids must be
// non-empty, without dots or whitespace; topics must be under 200 bytes.
// Repeats are removed. Whether they fit the OAuth clients is
// TopicCount.Fit's.
//
// An extra topic must be one of those two forms: the media-suffixed forms
// (...conversations.calls, .chats, ...) carry a flattened participant, and
// ...conversations.summaries another body again; the bridge decodes neither,
// so every frame of them would be rejected. They are refused with the form
// to use instead.
func Topics(ts TopicSet) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(t string) error {
		if len(t) >= 200 {
			return fmt.Errorf("topic %q is %d bytes; Genesys accepts under 200", text.Truncate(t, 60), len(t))
		}
		if strings.ContainsAny(t, " \t\r\n") || t == "" {
			return fmt.Errorf("topic %q is empty or contains whitespace", text.Truncate(t, 60))
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
		return nil
	}
	for _, set := range []struct {
		kind, format string
		ids          []string
	}{
		{"queue", queuePrefix + "%s.conversations", ts.Queues},
		{"user", userPrefix + "%s.conversations", ts.Users},
		{"agent", userPrefix + "%s" + activitySuffix, ts.Agents},
		{"queue", queuePrefix + "%s" + membersSuffix, ts.MembersOf},
	} {
		for _, id := range set.ids {
			if id == "" || strings.ContainsAny(id, ". \t\r\n*>?&") {
				return nil, fmt.Errorf("%s id %q is empty or contains '.', whitespace or a wildcard", set.kind, text.Truncate(id, 60))
			}
			if err := add(fmt.Sprintf(set.format, id)); err != nil {
				return nil, err
			}
		}
	}
	for _, t := range ts.Extra {
		if err := checkTopic(t); err != nil {
			return nil, err
		}
		if err := add(t); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Topic prefixes of the conversation topics the bridge decodes.
const (
	queuePrefix = "v2.routing.queues."
	userPrefix  = "v2.users."
)

// splitTopic splits a conversation topic into its prefix (queuePrefix or
// userPrefix), its id and what follows "conversations" ("" for the plain
// topic, ".calls", ".summaries"...). ok is false for any other topic.
func splitTopic(t string) (prefix, id, suffix string, ok bool) {
	for _, prefix := range []string{queuePrefix, userPrefix} {
		rest, found := strings.CutPrefix(t, prefix)
		if !found {
			continue
		}
		id, tail, _ := strings.Cut(rest, ".")
		if suffix, found := strings.CutPrefix(tail, "conversations"); found && id != "" && (suffix == "" || suffix[0] == '.') {
			return prefix, id, suffix, true
		}
	}
	return "", "", "", false
}

// checkTopic accepts the conversation topics the bridge decodes.
func checkTopic(t string) error {
	if _, ok := activityUser(t); ok {
		return nil
	}
	if _, ok := membershipQueue(t); ok {
		return nil
	}
	prefix, id, suffix, ok := splitTopic(t)
	switch {
	case ok && suffix == "":
		return nil
	case ok && strings.HasPrefix(suffix, ".summaries"):
		return fmt.Errorf("topic %q: the summaries topic has a body of its own, which the bridge does not decode; subscribe %sconversations", text.Truncate(t, 80), prefix+id+".")
	case ok:
		return fmt.Errorf("topic %q: media-suffixed topics carry a flattened participant, which the bridge does not decode; subscribe %sconversations (it carries every medium)", text.Truncate(t, 80), prefix+id+".")
	}
	return fmt.Errorf("topic %q is not one the bridge decodes: use v2.routing.queues.{id}.conversations, v2.users.{id}.conversations, v2.users.{id}.activity or v2.routing.queues.{id}.users (or GENESYS_QUEUE_IDS / GENESYS_USER_IDS / GENESYS_AGENT_IDS)", text.Truncate(t, 80))
}
