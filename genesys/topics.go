package genesys

import (
	"fmt"
	"strings"
)

// Topics builds the subscription list: v2.routing.queues.{id}.conversations
// per queue id, v2.users.{id}.conversations per user id, then extra topics
// verbatim. Ids must be non-empty, without dots or whitespace; topics must
// be under 200 bytes. Repeats are removed.
//
// An extra topic must be one of those two forms: the media-suffixed forms
// (...conversations.calls, .chats, ...) carry a flattened participant, and
// ...conversations.summaries another body again; the bridge decodes neither,
// so every frame of them would be rejected. They are refused with the form
// to use instead.
func Topics(queueIDs, userIDs, extra []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(t string) error {
		if len(t) >= 200 {
			return fmt.Errorf("topic %q is %d bytes; Genesys accepts under 200", truncate(t, 60), len(t))
		}
		if strings.ContainsAny(t, " \t\r\n") || t == "" {
			return fmt.Errorf("topic %q is empty or contains whitespace", truncate(t, 60))
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
		{"queue", "v2.routing.queues.%s.conversations", queueIDs},
		{"user", "v2.users.%s.conversations", userIDs},
	} {
		for _, id := range set.ids {
			if id == "" || strings.ContainsAny(id, ". \t\r\n*>?&") {
				return nil, fmt.Errorf("%s id %q is empty or contains '.', whitespace or a wildcard", set.kind, truncate(id, 60))
			}
			if err := add(fmt.Sprintf(set.format, id)); err != nil {
				return nil, err
			}
		}
	}
	for _, t := range extra {
		if err := checkTopic(t); err != nil {
			return nil, err
		}
		if err := add(t); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkTopic accepts the conversation topics the bridge decodes.
func checkTopic(t string) error {
	for _, prefix := range []string{"v2.routing.queues.", "v2.users."} {
		rest, ok := strings.CutPrefix(t, prefix)
		if !ok {
			continue
		}
		id, tail, _ := strings.Cut(rest, ".")
		switch {
		case tail == "conversations" && id != "":
			return nil
		case strings.HasPrefix(tail, "conversations.summaries"):
			return fmt.Errorf("topic %q: the summaries topic has a body of its own, which the bridge does not decode; subscribe %sconversations", truncate(t, 80), prefix+id+".")
		case strings.HasPrefix(tail, "conversations."):
			return fmt.Errorf("topic %q: media-suffixed topics carry a flattened participant, which the bridge does not decode; subscribe %sconversations (it carries every medium)", truncate(t, 80), prefix+id+".")
		}
	}
	return fmt.Errorf("topic %q is not one the bridge decodes: use v2.routing.queues.{id}.conversations or v2.users.{id}.conversations (or GENESYS_QUEUE_IDS / GENESYS_USER_IDS)", truncate(t, 80))
}
