package genesys

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// Queue membership (issue 24; docs/agents.md): by default the agents are
// the members of the configured queues, listed at start with GET
// /api/v2/routing/queues/{id}/members and kept current from
// v2.routing.queues.{id}.users, whose notifications name a member added
// to the queue or joining or leaving it (QueueUserEventTopicQueueMember:
// id, user{id}, queueId, joined).

const membersSuffix = ".users"

// MembershipTopic is the membership topic of one queue.
func MembershipTopic(queueID string) string { return queuePrefix + queueID + membersSuffix }

// membershipQueue returns the queue id of a membership topic.
func membershipQueue(t string) (string, bool) {
	rest, ok := strings.CutPrefix(t, queuePrefix)
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, membersSuffix)
	return id, ok && id != "" && !strings.Contains(id, ".")
}

// Membership is a decoded v2.routing.queues.{id}.users notification.
type Membership struct {
	QueueID, UserID string
	// Joined is the member's joined flag (active on the queue); a member
	// who is not joined is a member still.
	Joined bool
}

// queueMemberEvent is the body of v2.routing.queues.{id}.users.
type queueMemberEvent struct {
	ID   string `json:"id"`
	User *struct {
		ID string `json:"id"`
	} `json:"user"`
	QueueID string `json:"queueId"`
	Joined  bool   `json:"joined"`
}

// deriveMembership checks a membership body against its topic's queue.
func deriveMembership(b *queueMemberEvent, topicQueue string) (Membership, error) {
	m := Membership{QueueID: topicQueue, Joined: b.Joined}
	if b.QueueID != "" && b.QueueID != topicQueue {
		return m, fmt.Errorf("body queueId %q is not the topic's queue %q", text.Truncate(b.QueueID, 64), text.Truncate(topicQueue, 64))
	}
	switch {
	case b.User != nil && b.User.ID != "":
		m.UserID = b.User.ID
	default:
		m.UserID = b.ID // the member's id is its user's
	}
	if err := bridge.ValidateInteractionID(m.UserID); err != nil || strings.Contains(m.UserID, ".") {
		return m, fmt.Errorf("member user id %q is not a valid id", text.Truncate(m.UserID, 64))
	}
	return m, nil
}

// membersPageSize is the page size of GET .../members (the API's most).
const membersPageSize = 100

// QueueMembers lists the user ids of a queue's members (GET
// /api/v2/routing/queues/{id}/members, every page), sorted.
func (c *Client) QueueMembers(ctx context.Context, queueID string) ([]string, error) {
	var out []string
	for page := 1; ; page++ {
		var resp struct {
			Entities []struct {
				ID   string `json:"id"`
				User *struct {
					ID string `json:"id"`
				} `json:"user"`
			} `json:"entities"`
			PageCount int `json:"pageCount"`
		}
		path := "/api/v2/routing/queues/" + url.PathEscape(queueID) + "/members?pageSize=" + strconv.Itoa(membersPageSize) + "&pageNumber=" + strconv.Itoa(page)
		if err := c.do(ctx, "list queue members", http.MethodGet, path, nil, &resp); err != nil {
			return nil, err
		}
		for _, e := range resp.Entities {
			id := e.ID
			if e.User != nil && e.User.ID != "" {
				id = e.User.ID
			}
			if bridge.ValidateInteractionID(id) == nil && !strings.Contains(id, ".") {
				out = append(out, id)
			}
		}
		if len(resp.Entities) == 0 || page >= resp.PageCount {
			break
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// AgentNow fetches an agent's routing status and presence now (GET
// /api/v2/users/{id}/routingstatus and /presences/purecloud): the third
// source, for what analytics could not tell. The event is marked
// back-filled: its times are the server's, like analytics'.
func (c *Client) AgentNow(ctx context.Context, userID string) (bridge.Event, error) {
	var rs struct {
		Status    string `json:"status"`
		StartTime string `json:"startTime"`
	}
	base := "/api/v2/users/" + url.PathEscape(userID)
	if err := c.do(ctx, "get routing status", http.MethodGet, base+"/routingstatus", nil, &rs); err != nil {
		return bridge.Event{}, err
	}
	var p struct {
		PresenceDefinition *struct {
			ID             string `json:"id"`
			SystemPresence string `json:"systemPresence"`
		} `json:"presenceDefinition"`
		ModifiedDate string `json:"modifiedDate"`
	}
	if err := c.do(ctx, "get presence", http.MethodGet, base+"/presences/purecloud", nil, &p); err != nil {
		return bridge.Event{}, err
	}
	// The same parts as an activity body: one derivation for both.
	a := Activity{ID: userID}
	if rs.Status != "" {
		a.RoutingStatus = &activityRouting{Status: rs.Status, StartTime: rs.StartTime}
	}
	if p.PresenceDefinition != nil {
		a.Presence = &activityPresence{PresenceDefinition: &activityDefinition{ID: p.PresenceDefinition.ID, SystemPresence: p.PresenceDefinition.SystemPresence},
			ModifiedDate: p.ModifiedDate}
	}
	ev, err := DeriveActivity(&a, userID, time.Now())
	if err != nil {
		return ev, err
	}
	ev.Backfilled = true
	return ev, nil
}
