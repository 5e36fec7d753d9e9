package genesys

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// GetConversation fetches the live state of one conversation
// (GET /api/v2/conversations/{id}), in the same shape as the notification
// eventBody.
func (c *Client) GetConversation(ctx context.Context, id string) (*Conversation, error) {
	var conv Conversation
	if err := c.do(ctx, "get conversation", http.MethodGet, "/api/v2/conversations/"+url.PathEscape(id), nil, &conv); err != nil {
		return nil, err
	}
	return &conv, nil
}

// QueueName returns a queue's name (GET /api/v2/routing/queues/{id}; the
// client needs routing:queue:view). An error for which IsDenied or
// IsNotFound holds will not pass by retrying.
func (c *Client) QueueName(ctx context.Context, id string) (string, error) {
	var q struct {
		Name string `json:"name"`
	}
	if err := c.do(ctx, "get queue", http.MethodGet, "/api/v2/routing/queues/"+url.PathEscape(id), nil, &q); err != nil {
		return "", err
	}
	return q.Name, nil
}

// UserName returns a user's name (GET /api/v2/users/{id}).
func (c *Client) UserName(ctx context.Context, id string) (string, error) {
	var u struct {
		Name string `json:"name"`
	}
	if err := c.do(ctx, "get user", http.MethodGet, "/api/v2/users/"+url.PathEscape(id), nil, &u); err != nil {
		return "", err
	}
	return u.Name, nil
}

// IsDenied reports whether err is a 403 from the API: the client lacks a
// permission.
func IsDenied(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusForbidden
}

// IsNotFound reports whether err is a 404 from the API.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// DetailsFilter selects conversations in a details query: any of the
// queues, users or conversation ids.
type DetailsFilter struct {
	QueueIDs, UserIDs, ConversationIDs []string
}

type predicate struct {
	Dimension string `json:"dimension"`
	Value     string `json:"value"`
}

type predicateGroup struct {
	Type       string      `json:"type"`
	Predicates []predicate `json:"predicates"`
}

type detailsQuery struct {
	Interval            string           `json:"interval"`
	Order               string           `json:"order"`
	OrderBy             string           `json:"orderBy"`
	Paging              paging           `json:"paging"`
	SegmentFilters      []predicateGroup `json:"segmentFilters,omitempty"`
	ConversationFilters []predicateGroup `json:"conversationFilters,omitempty"`
}

type paging struct {
	PageSize   int `json:"pageSize"`
	PageNumber int `json:"pageNumber"`
}

// DetailsConversation is one conversation of an analytics details query,
// with the segments the bridge reads history from.
type DetailsConversation struct {
	ConversationID    string `json:"conversationId"`
	ConversationStart string `json:"conversationStart"`
	ConversationEnd   string `json:"conversationEnd,omitempty"`
	// OriginatingDirection (inbound, outbound) marks a record of today's
	// API, which writes conversationEnd once the conversation is over
	// (records of 2016 have neither).
	OriginatingDirection string               `json:"originatingDirection,omitempty"`
	Participants         []DetailsParticipant `json:"participants"`
}

// DetailsParticipant is a participant of an analytics conversation.
type DetailsParticipant struct {
	ParticipantID string           `json:"participantId"`
	Purpose       string           `json:"purpose"`
	UserID        string           `json:"userId,omitempty"`
	Sessions      []DetailsSession `json:"sessions"`
}

// DetailsSession is one media session of a participant.
type DetailsSession struct {
	MediaType string           `json:"mediaType"`
	Segments  []DetailsSegment `json:"segments"`
}

// DetailsSegment is one span of a session: segmentType is alert, dialing,
// contacting, interact, hold, ivr, wrapup, system, ... (an open set).
type DetailsSegment struct {
	SegmentType  string `json:"segmentType"`
	SegmentStart string `json:"segmentStart"`
	SegmentEnd   string `json:"segmentEnd,omitempty"`
	QueueID      string `json:"queueId,omitempty"`
	WrapUpCode   string `json:"wrapUpCode,omitempty"`
}

const detailsPageSize = 100

// MaxDetailsInterval is the longest interval one details query may span.
const MaxDetailsInterval = 7 * 24 * time.Hour

// QueryConversationDetails runs POST /api/v2/analytics/conversations/details/query
// for the conversations matching f that were active in [from, to) (the API
// also requires that they started on a UTC day the interval touches),
// following every page. An interval over seven days is queried seven days
// at a time; a query with more results than the API pages through
// (ClientConfig.AnalyticsMaxResults) is split: its queues, users or ids in
// halves, else its interval. Pages can repeat a conversation; the result
// has each id once.
func (c *Client) QueryConversationDetails(ctx context.Context, from, to time.Time, f DetailsFilter) ([]DetailsConversation, error) {
	q := detailsQuery{Order: "asc", OrderBy: "conversationStart", Paging: paging{PageSize: detailsPageSize}}
	var seg []predicate
	for _, id := range f.QueueIDs {
		seg = append(seg, predicate{"queueId", id})
	}
	for _, id := range f.UserIDs {
		seg = append(seg, predicate{"userId", id})
	}
	if len(seg) > 0 {
		q.SegmentFilters = []predicateGroup{{Type: "or", Predicates: seg}}
	}
	var conv []predicate
	for _, id := range f.ConversationIDs {
		conv = append(conv, predicate{"conversationId", id})
	}
	if len(conv) > 0 {
		q.ConversationFilters = []predicateGroup{{Type: "or", Predicates: conv}}
	}
	r := detailsResult{seen: map[string]bool{}}
	for start := from; start.Before(to); start = start.Add(MaxDetailsInterval) {
		end := start.Add(MaxDetailsInterval)
		if end.After(to) {
			end = to
		}
		if err := c.queryDetails(ctx, q, start, end, &r); err != nil {
			return r.out, err
		}
	}
	return r.out, nil
}

// split halves the query's predicates, if it has more than one.
func (q detailsQuery) split() (detailsQuery, detailsQuery, bool) {
	halve := func(groups []predicateGroup) ([]predicateGroup, []predicateGroup, bool) {
		if len(groups) != 1 || len(groups[0].Predicates) < 2 {
			return groups, groups, false
		}
		p := groups[0].Predicates
		return []predicateGroup{{Type: groups[0].Type, Predicates: p[:len(p)/2]}},
			[]predicateGroup{{Type: groups[0].Type, Predicates: p[len(p)/2:]}}, true
	}
	a, b := q, q
	var ok bool
	if a.SegmentFilters, b.SegmentFilters, ok = halve(q.SegmentFilters); ok {
		return a, b, true
	}
	a.ConversationFilters, b.ConversationFilters, ok = halve(q.ConversationFilters)
	return a, b, ok
}

type detailsResult struct {
	seen map[string]bool
	out  []DetailsConversation
}

func (c *Client) queryDetails(ctx context.Context, q detailsQuery, from, to time.Time, r *detailsResult) error {
	q.Interval = from.UTC().Format(time.RFC3339Nano) + "/" + to.UTC().Format(time.RFC3339Nano)
	for page := 1; ; page++ {
		q.Paging.PageNumber = page
		var resp struct {
			Conversations []DetailsConversation `json:"conversations"`
			TotalHits     int                   `json:"totalHits"`
		}
		if err := c.do(ctx, "query conversation details", http.MethodPost, "/api/v2/analytics/conversations/details/query", q, &resp); err != nil {
			return err
		}
		if page == 1 && resp.TotalHits > c.cfg.AnalyticsMaxResults {
			// More than the API pages through: ask for fewer queues or
			// users at a time, or for shorter intervals.
			if a, b, ok := q.split(); ok {
				if err := c.queryDetails(ctx, a, from, to, r); err != nil {
					return err
				}
				return c.queryDetails(ctx, b, from, to, r)
			}
			if to.Sub(from) <= 2*time.Millisecond {
				return fmt.Errorf("query conversation details: %d conversations were active in %s, more than the %d the API pages through",
					resp.TotalHits, q.Interval, c.cfg.AnalyticsMaxResults)
			}
			mid := from.Add(to.Sub(from) / 2).Truncate(time.Millisecond)
			if err := c.queryDetails(ctx, q, from, mid, r); err != nil {
				return err
			}
			return c.queryDetails(ctx, q, mid, to, r)
		}
		for _, dc := range resp.Conversations {
			if dc.ConversationID != "" && !r.seen[dc.ConversationID] {
				r.seen[dc.ConversationID] = true
				r.out = append(r.out, dc)
			}
		}
		if len(resp.Conversations) < detailsPageSize || page*detailsPageSize >= resp.TotalHits {
			return nil
		}
	}
}
