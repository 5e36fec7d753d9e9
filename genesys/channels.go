package genesys

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Channel is a Notification Service channel.
type Channel struct {
	ID         string    `json:"id"`
	ConnectURI string    `json:"connectUri"`
	Expires    time.Time `json:"expires"`
	// TokenRefreshAt is when the token that created the channel is due to
	// be replaced. A channel belongs to its token, so the channel must be
	// replaced by then too.
	TokenRefreshAt time.Time `json:"-"`
}

// CreateChannel creates a notification channel (POST /api/v2/notifications/channels).
func (c *Client) CreateChannel(ctx context.Context) (Channel, error) {
	var ch Channel
	ct, err := c.doToken(ctx, true, "create channel", http.MethodPost, "/api/v2/notifications/channels", nil, &ch)
	if err != nil {
		return ch, err
	}
	ch.TokenRefreshAt = ct.refreshAt
	if ch.ID == "" || ch.ConnectURI == "" {
		return ch, fmt.Errorf("create channel: response has no id or connectUri")
	}
	return ch, nil
}

// TopicResult is the server's verdict on one topic of a subscription.
type TopicResult struct {
	ID              string `json:"id"`
	State           string `json:"state"` // Permitted, Rejected, Unknown
	RejectionReason string `json:"rejectionReason,omitempty"`
}

// Subscribe replaces the channel's subscriptions with topics
// (PUT .../subscriptions?ignoreErrors=true), so one topic lacking permission
// does not fail the others, and returns the per-topic verdicts.
func (c *Client) Subscribe(ctx context.Context, channelID string, topics []string) ([]TopicResult, error) {
	return c.subscribe(ctx, http.MethodPut, channelID, topics)
}

// AddSubscriptions adds topics to the channel's subscriptions (POST
// .../subscriptions?ignoreErrors=true) and returns the per-topic verdicts.
func (c *Client) AddSubscriptions(ctx context.Context, channelID string, topics []string) ([]TopicResult, error) {
	return c.subscribe(ctx, http.MethodPost, channelID, topics)
}

func (c *Client) subscribe(ctx context.Context, method, channelID string, topics []string) ([]TopicResult, error) {
	body := make([]map[string]string, len(topics))
	for i, t := range topics {
		body[i] = map[string]string{"id": t}
	}
	var resp struct {
		Entities []TopicResult `json:"entities"`
	}
	path := "/api/v2/notifications/channels/" + url.PathEscape(channelID) + "/subscriptions?ignoreErrors=true"
	if err := c.do(ctx, "subscribe topics", method, path, body, &resp); err != nil {
		return nil, err
	}
	return resp.Entities, nil
}

// Unsubscribe removes every subscription of a channel
// (DELETE .../subscriptions); the channel itself expires on its own.
func (c *Client) Unsubscribe(ctx context.Context, channelID string) error {
	path := "/api/v2/notifications/channels/" + url.PathEscape(channelID) + "/subscriptions"
	return c.do(ctx, "remove subscriptions", http.MethodDelete, path, nil, nil)
}
