package genesys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Secret is a string that never prints: %v, %s and slog show "[redacted]".
type Secret string

func (Secret) String() string               { return "[redacted]" }
func (Secret) GoString() string             { return "[redacted]" }
func (Secret) LogValue() slog.Value         { return slog.StringValue("[redacted]") }
func (Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Reveal returns the secret's value, for the one place that sends it.
func (s Secret) Reveal() string { return string(s) }

// ClientConfig configures a Client. Zero values are the documented defaults.
type ClientConfig struct {
	Endpoints    Endpoints
	ClientID     string
	ClientSecret Secret
	// RefreshAhead is how long before expiry a token is replaced.
	// Default 5m, at most half the token's lifetime.
	RefreshAhead time.Duration
	// MaxAttempts bounds attempts of one REST call on 429 and 5xx. Default 5.
	MaxAttempts int
	// AnalyticsMaxResults is how many results the analytics details query
	// pages through at most; an interval with more is split. Default
	// 100,000, the API's limit.
	AnalyticsMaxResults int
	// HTTPClient is used for REST and token calls. Default: 30s timeout.
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Client talks to the Genesys Cloud REST API with client-credentials tokens.
type Client struct {
	cfg  ClientConfig
	http *http.Client
	log  *slog.Logger
	cc   clientcredentials.Config

	mu        sync.Mutex
	tok       *oauth2.Token
	refreshAt time.Time
}

// NewClient returns a Client. It does not contact Genesys.
func NewClient(cfg ClientConfig) *Client {
	if cfg.RefreshAhead <= 0 {
		cfg.RefreshAhead = 5 * time.Minute
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.AnalyticsMaxResults <= 0 {
		cfg.AnalyticsMaxResults = 100_000
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{
		cfg:  cfg,
		http: hc,
		log:  log,
		cc: clientcredentials.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret.Reveal(),
			TokenURL:     cfg.Endpoints.Login + "/oauth/token",
			AuthStyle:    oauth2.AuthStyleInHeader,
		},
	}
}

// ErrBadCredentials means the login service refused the client id or
// secret. Retrying cannot help; the bridge stops.
var ErrBadCredentials = errors.New("genesys: client credentials refused")

// Token returns a valid access token, fetching a new one when the cached one
// is within RefreshAhead of expiry.
func (c *Client) Token(ctx context.Context) (*oauth2.Token, error) {
	ct, err := c.token(ctx)
	if err != nil {
		return nil, err
	}
	return ct.tok, nil
}

// cachedToken is a token and when it should be replaced.
type cachedToken struct {
	tok       *oauth2.Token
	refreshAt time.Time
}

func (c *Client) token(ctx context.Context) (cachedToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok != nil && time.Now().Before(c.refreshAt) {
		return cachedToken{c.tok, c.refreshAt}, nil
	}
	tok, err := c.cc.Token(context.WithValue(ctx, oauth2.HTTPClient, c.http))
	if err != nil {
		return cachedToken{}, tokenError(err)
	}
	life := time.Until(tok.Expiry)
	if tok.Expiry.IsZero() {
		life = time.Hour
	}
	c.tok, c.refreshAt = tok, time.Now().Add(life-min(c.cfg.RefreshAhead, life/2))
	c.log.Info("access token obtained", "expires_in", life.Round(time.Second).String())
	return cachedToken{c.tok, c.refreshAt}, nil
}

// InvalidateToken drops the cached token if it is tok (after a 401), or
// whatever is cached if tok is nil.
func (c *Client) InvalidateToken(tok *oauth2.Token) {
	c.mu.Lock()
	if tok == nil || c.tok == tok {
		c.tok = nil
	}
	c.mu.Unlock()
}

func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		ae := &APIError{Op: "fetch token", Status: status, Code: re.ErrorCode, Message: truncate(re.ErrorDescription, 200)}
		if re.Response != nil {
			ae.CorrelationID = re.Response.Header.Get("ININ-Correlation-Id")
			ae.RetryAfter = retryAfter(re.Response.Header.Get("Retry-After"))
		}
		switch re.ErrorCode {
		case "invalid_client", "unauthorized_client", "invalid_grant":
			return fmt.Errorf("%w: %w", ErrBadCredentials, ae)
		}
		if status == http.StatusUnauthorized || status == http.StatusForbidden {
			return fmt.Errorf("%w: %w", ErrBadCredentials, ae)
		}
		return ae
	}
	// Transport errors from x/oauth2 can quote the token URL; that URL has
	// no secret in it (credentials go in the Authorization header).
	return fmt.Errorf("fetch token: %w", err)
}

// APIError is a failed Genesys REST call. It keeps what the caller needs to
// decide and what support needs to trace it.
type APIError struct {
	Op            string // "create channel"
	Status        int    // HTTP status
	Code          string // Genesys error code ("too.many.requests.retry.after", "invalid_client")
	Message       string
	CorrelationID string        // ININ-Correlation-Id
	RetryAfter    time.Duration // from Retry-After, if the server sent one
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s: HTTP %d", e.Op, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.CorrelationID != "" {
		s += " (correlation id " + e.CorrelationID + ")"
	}
	return s
}

// Temporary reports whether retrying later may succeed.
func (e *APIError) Temporary() bool {
	return e.Status == http.StatusTooManyRequests || (e.Status >= 500 && e.Status != http.StatusNotImplemented) || e.Status == 0
}

type errorBody struct {
	Message   string `json:"message"`
	Code      string `json:"code"`
	ContextID string `json:"contextId"`
}

// do performs one REST call with retries: a 401 refreshes the token once;
// 429 waits Retry-After; 5xx other than 501 backs off.
func (c *Client) do(ctx context.Context, op, method, path string, body, out any) error {
	_, err := c.doToken(ctx, op, method, path, body, out)
	return err
}

// doToken is do, and it returns the token the successful call used.
func (c *Client) doToken(ctx context.Context, op, method, path string, body, out any) (cachedToken, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return cachedToken{}, fmt.Errorf("%s: encode request: %w", op, err)
		}
	}
	refreshed := false
	for attempt := 1; ; attempt++ {
		ct, err := c.token(ctx)
		if err != nil {
			return ct, fmt.Errorf("%s: %w", op, err)
		}
		apiErr, err := c.once(ctx, op, method, path, payload, ct.tok, out)
		if err != nil {
			return ct, err
		}
		if apiErr == nil {
			return ct, nil
		}
		switch {
		case apiErr.Status == http.StatusUnauthorized && !refreshed:
			c.InvalidateToken(ct.tok)
			refreshed = true
			continue
		case !apiErr.Temporary() || attempt >= c.cfg.MaxAttempts:
			return ct, apiErr
		}
		wait := apiErr.RetryAfter
		if wait <= 0 {
			wait = Backoff(attempt, 250*time.Millisecond, 10*time.Second)
		}
		c.log.Warn("retrying Genesys API call", "op", op, "status", apiErr.Status, "attempt", attempt, "wait", wait.String(),
			"correlation_id", apiErr.CorrelationID)
		select {
		case <-ctx.Done():
			return ct, fmt.Errorf("%s: %w (last error: %w)", op, ctx.Err(), apiErr)
		case <-time.After(wait):
		}
	}
}

// once performs a single HTTP exchange. A non-2xx answer is an *APIError in
// the first result; transport failures are in the second only when ctx
// ended, otherwise they become a status-0 APIError so they are retried.
func (c *Client) once(ctx context.Context, op, method, path string, payload []byte, tok *oauth2.Token, out any) (*APIError, error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.cfg.Endpoints.API+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", op, ctx.Err())
		}
		return &APIError{Op: op, Message: scrubURLError(err)}, nil
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return &APIError{Op: op, Status: resp.StatusCode, Message: "read response: " + scrubURLError(err)}, nil
	}
	if resp.StatusCode/100 != 2 {
		ae := &APIError{Op: op, Status: resp.StatusCode, CorrelationID: resp.Header.Get("ININ-Correlation-Id"),
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
		var eb errorBody
		if json.Unmarshal(data, &eb) == nil {
			ae.Code, ae.Message = eb.Code, truncate(eb.Message, 300)
			if ae.CorrelationID == "" {
				ae.CorrelationID = eb.ContextID
			}
		}
		return ae, nil
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("%s: decode response: %s", op, jsonErr(err))
		}
	}
	return nil, nil
}

// scrubURLError keeps a transport error's cause without its URL's query.
func scrubURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + " " + redactURL(ue.URL) + ": " + ue.Err.Error()
	}
	return err.Error()
}

func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, time.Until(t))
	}
	return 0
}

// Backoff returns an exponential delay with full jitter for the given
// attempt (1-based), between base/2 and min(cap, base*2^(attempt-1)).
func Backoff(attempt int, base, cap time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < cap; i++ {
		d *= 2
	}
	d = min(d, cap)
	return d/2 + rand.N(d/2+1)
}

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
	ct, err := c.doToken(ctx, "create channel", http.MethodPost, "/api/v2/notifications/channels", nil, &ch)
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
	body := make([]map[string]string, len(topics))
	for i, t := range topics {
		body[i] = map[string]string{"id": t}
	}
	var resp struct {
		Entities []TopicResult `json:"entities"`
	}
	path := "/api/v2/notifications/channels/" + url.PathEscape(channelID) + "/subscriptions?ignoreErrors=true"
	if err := c.do(ctx, "subscribe topics", http.MethodPut, path, body, &resp); err != nil {
		return nil, err
	}
	return resp.Entities, nil
}
