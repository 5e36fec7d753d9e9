package genesys

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// Agents (issue 24; docs/agents.md). One topic per agent,
// v2.users.{id}.activity, carries routing status, presence and active
// queues in one body (AgentActivityChangedTopicAgentActivity); after a gap
// the users details query (AnalyticsUserDetail) gives each agent's routing
// status and presence intervals.

const activitySuffix = ".activity"

// ActivityTopic is the activity topic of one agent.
func ActivityTopic(userID string) string { return userPrefix + userID + activitySuffix }

// activityUser returns the user id of an activity topic.
func activityUser(t string) (string, bool) {
	rest, ok := strings.CutPrefix(t, userPrefix)
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, activitySuffix)
	return id, ok && id != "" && !strings.Contains(id, ".")
}

// Activity is the body of a v2.users.{id}.activity notification.
type Activity struct {
	ID                      string            `json:"id"`
	RoutingStatus           *activityRouting  `json:"routingStatus"`
	Presence                *activityPresence `json:"presence"`
	ActiveQueueIDs          []string          `json:"activeQueueIds"`
	DateActiveQueuesChanged string            `json:"dateActiveQueuesChanged"`
}

type activityRouting struct {
	Status    string `json:"status"`
	StartTime string `json:"startTime"`
}

type activityPresence struct {
	PresenceDefinition *activityDefinition `json:"presenceDefinition"`
	PresenceMessage    string              `json:"presenceMessage"`
	ModifiedDate       string              `json:"modifiedDate"`
}

type activityDefinition struct {
	ID             string `json:"id"`
	SystemPresence string `json:"systemPresence"`
}

// DeriveActivity turns an activity body into an agent's event: the
// routing status timed by its startTime, the presence by its modifiedDate
// (a part without its time is timed when observed). A body whose id is not
// the topic's user is refused; one without either part says nothing.
func DeriveActivity(a *Activity, topicUser string, observedAt time.Time) (bridge.Event, error) {
	ev := bridge.Event{InteractionID: topicUser, ObservedAt: observedAt}
	if err := bridge.ValidateInteractionID(topicUser); err != nil {
		return ev, fmt.Errorf("topic's user id: %v", err)
	}
	if a.ID != "" && a.ID != topicUser {
		return ev, fmt.Errorf("body id %q is not the topic's user %q", text.Truncate(a.ID, 64), text.Truncate(topicUser, 64))
	}
	obs := &bridge.AgentObservation{}
	if r := a.RoutingStatus; r != nil && r.Status != "" {
		s, err := bridge.ParseRoutingStatus(r.Status)
		if err != nil {
			return ev, err
		}
		at, err := timeOr(r.StartTime, observedAt)
		if err != nil {
			return ev, fmt.Errorf("routingStatus.startTime: %v", err)
		}
		obs.Steps = append(obs.Steps, bridge.AgentStep{At: at, Routing: s})
	}
	if p := a.Presence; p != nil && p.PresenceDefinition != nil && p.PresenceDefinition.SystemPresence != "" {
		s, err := bridge.ParsePresence(p.PresenceDefinition.SystemPresence)
		if err != nil {
			return ev, err
		}
		at, err := timeOr(p.ModifiedDate, observedAt)
		if err != nil {
			return ev, fmt.Errorf("presence.modifiedDate: %v", err)
		}
		obs.Steps = append(obs.Steps, bridge.AgentStep{At: at, Presence: s})
		if id := p.PresenceDefinition.ID; bridge.ValidRef(id) {
			obs.PresenceID = id
		}
	}
	if len(obs.Steps) == 0 {
		return ev, fmt.Errorf("agent %s: neither routingStatus nor presence", text.Truncate(topicUser, 64))
	}
	obs.Steps = mergeSteps(obs.Steps)
	if a.ActiveQueueIDs != nil {
		obs.QueuesKnown = true
		for _, q := range a.ActiveQueueIDs {
			if bridge.ValidRef(q) {
				obs.Queues = append(obs.Queues, q)
			}
		}
		slices.Sort(obs.Queues)
		obs.Queues = slices.Compact(obs.Queues)
	}
	ev.Agent = obs
	return ev, nil
}

func timeOr(s string, or time.Time) (time.Time, error) {
	t, err := parseTime(s)
	if err == nil && t.IsZero() {
		t = or
	}
	return t, err
}

// mergeSteps sorts steps by time (stably: at the same time, routing
// before presence as given) and merges those at the same instant.
func mergeSteps(steps []bridge.AgentStep) []bridge.AgentStep {
	slices.SortStableFunc(steps, func(a, b bridge.AgentStep) int { return a.At.Compare(b.At) })
	out := steps[:0]
	for _, s := range steps {
		if n := len(out); n > 0 && out[n-1].At.Equal(s.At) {
			if s.Routing != "" {
				out[n-1].Routing = s.Routing
			}
			if s.Presence != "" {
				out[n-1].Presence = s.Presence
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// UserDetail is one user of an analytics users details query
// (AnalyticsUserDetail): intervals of system presence and of routing
// status.
type UserDetail struct {
	UserID          string `json:"userId"`
	PrimaryPresence []struct {
		StartTime      string `json:"startTime"`
		EndTime        string `json:"endTime,omitempty"`
		SystemPresence string `json:"systemPresence"`
		// OrganizationPresenceID is the presence definition.
		OrganizationPresenceID string `json:"organizationPresenceId,omitempty"`
	} `json:"primaryPresence"`
	RoutingStatus []struct {
		StartTime     string `json:"startTime"`
		EndTime       string `json:"endTime,omitempty"`
		RoutingStatus string `json:"routingStatus"`
	} `json:"routingStatus"`
}

// DeriveUserDetail turns a user's analytics intervals into a back-filled
// agent event: a step at every interval's start (an interval's end is the
// next one's start; the last one's end, if any, is not a status), routing
// and presence merged in time. Intervals of unknown values are refused.
func DeriveUserDetail(ud *UserDetail, observedAt time.Time) (bridge.Event, error) {
	ev := bridge.Event{InteractionID: ud.UserID, ObservedAt: observedAt, Backfilled: true}
	if !bridge.ValidRef(ud.UserID) {
		return ev, fmt.Errorf("user id %q is not a valid id", text.Truncate(ud.UserID, 64))
	}
	obs := &bridge.AgentObservation{}
	var presenceAt time.Time
	for i, p := range ud.PrimaryPresence {
		s, err := bridge.ParsePresence(p.SystemPresence)
		if err != nil {
			return ev, fmt.Errorf("primaryPresence %d: %v", i, err)
		}
		at, err := parseTime(p.StartTime)
		if err != nil || at.IsZero() {
			return ev, fmt.Errorf("primaryPresence %d: startTime %q", i, text.Truncate(p.StartTime, 40))
		}
		obs.Steps = append(obs.Steps, bridge.AgentStep{At: at, Presence: s})
		if !at.Before(presenceAt) {
			presenceAt, obs.PresenceID = at, ""
			if bridge.ValidRef(p.OrganizationPresenceID) {
				obs.PresenceID = p.OrganizationPresenceID
			}
		}
	}
	for i, r := range ud.RoutingStatus {
		s, err := bridge.ParseRoutingStatus(r.RoutingStatus)
		if err != nil {
			return ev, fmt.Errorf("routingStatus %d: %v", i, err)
		}
		at, err := parseTime(r.StartTime)
		if err != nil || at.IsZero() {
			return ev, fmt.Errorf("routingStatus %d: startTime %q", i, text.Truncate(r.StartTime, 40))
		}
		obs.Steps = append(obs.Steps, bridge.AgentStep{At: at, Routing: s})
	}
	if len(obs.Steps) == 0 {
		return ev, fmt.Errorf("user %s: no intervals", text.Truncate(ud.UserID, 64))
	}
	obs.Steps = mergeSteps(obs.Steps)
	ev.Agent = obs
	return ev, nil
}

type userDetailsQuery struct {
	Interval    string           `json:"interval"`
	Order       string           `json:"order"`
	Paging      paging           `json:"paging"`
	UserFilters []predicateGroup `json:"userFilters"`
}

// QueryUserDetails runs POST /api/v2/analytics/users/details/query for
// the users' presence and routing status intervals in [from, to),
// following every page (at most MaxDetailsInterval at a time). The result
// has each user once, intervals of every page and interval together.
func (c *Client) QueryUserDetails(ctx context.Context, from, to time.Time, userIDs []string) ([]UserDetail, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	q := userDetailsQuery{Order: "asc", Paging: paging{PageSize: detailsPageSize}}
	var preds []predicate
	for _, id := range userIDs {
		preds = append(preds, predicate{"userId", id})
	}
	q.UserFilters = []predicateGroup{{Type: "or", Predicates: preds}}
	byUser := map[string]*UserDetail{}
	var order []string
	for start := from; start.Before(to); start = start.Add(MaxDetailsInterval) {
		end := start.Add(MaxDetailsInterval)
		if end.After(to) {
			end = to
		}
		q.Interval = start.UTC().Format(time.RFC3339Nano) + "/" + end.UTC().Format(time.RFC3339Nano)
		for page := 1; ; page++ {
			q.Paging.PageNumber = page
			var resp struct {
				UserDetails []UserDetail `json:"userDetails"`
				TotalHits   int          `json:"totalHits"`
			}
			if err := c.do(ctx, "query user details", http.MethodPost, "/api/v2/analytics/users/details/query", q, &resp); err != nil {
				return nil, err
			}
			for _, ud := range resp.UserDetails {
				have := byUser[ud.UserID]
				if have == nil {
					u := ud
					byUser[ud.UserID] = &u
					order = append(order, ud.UserID)
					continue
				}
				have.PrimaryPresence = append(have.PrimaryPresence, ud.PrimaryPresence...)
				have.RoutingStatus = append(have.RoutingStatus, ud.RoutingStatus...)
			}
			if len(resp.UserDetails) < detailsPageSize || page*detailsPageSize >= resp.TotalHits {
				break
			}
		}
	}
	out := make([]UserDetail, 0, len(order))
	for _, id := range order {
		out = append(out, *byUser[id])
	}
	slices.SortFunc(out, func(a, b UserDetail) int { return cmp.Compare(a.UserID, b.UserID) })
	return out, nil
}
