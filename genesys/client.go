package genesys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/genesys-bridge/genesys-bridge/internal/ratelimit"
	"github.com/genesys-bridge/genesys-bridge/internal/retry"
	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

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
	// RequestsPerMinute paces the client's REST requests (a token bucket
	// with ten seconds' worth of burst), each attempt counting: Genesys
	// allows an OAuth client about 300 a minute and answers more with 429.
	// Default 300.
	RequestsPerMinute int
	// AnalyticsMaxResults is how many results the analytics details query
	// pages through at most; an interval with more is split. Default
	// 100,000, the API's limit.
	AnalyticsMaxResults int
	// HTTPClient is used for REST and token calls. Default:
	// Transport{}.HTTPClient().
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Client talks to the Genesys Cloud REST API with client-credentials tokens.
type Client struct {
	cfg    ClientConfig
	http   *http.Client
	log    *slog.Logger
	tokens *tokens
	retry  retry.Policy // REST calls: 250ms to 10s, MaxAttempts
	pace   *ratelimit.Bucket
}

// DefaultClientConfig is the configuration the zero values stand for.
func DefaultClientConfig() ClientConfig { return ClientConfig{}.withDefaults() }

func (cfg ClientConfig) withDefaults() ClientConfig {
	if cfg.RefreshAhead <= 0 {
		cfg.RefreshAhead = 5 * time.Minute
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.RequestsPerMinute <= 0 {
		cfg.RequestsPerMinute = 300
	}
	if cfg.AnalyticsMaxResults <= 0 {
		cfg.AnalyticsMaxResults = 100_000
	}
	return cfg
}

// NewClient returns a Client. It does not contact Genesys.
func NewClient(cfg ClientConfig) *Client {
	cfg = cfg.withDefaults()
	hc := cfg.HTTPClient
	if hc == nil {
		hc = Transport{}.HTTPClient()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{
		cfg:   cfg,
		http:  hc,
		log:   log,
		retry: retry.Policy{Base: 250 * time.Millisecond, Max: 10 * time.Second, Attempts: cfg.MaxAttempts},
		pace:  ratelimit.PerMinute(cfg.RequestsPerMinute, max(1, cfg.RequestsPerMinute/6)),
		tokens: &tokens{http: hc, ahead: cfg.RefreshAhead, log: log, cc: clientcredentials.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret.Reveal(),
			TokenURL:     cfg.Endpoints.Login + "/oauth/token",
			AuthStyle:    oauth2.AuthStyleInHeader,
		}},
	}
}

// PacedFor is how long the client's requests waited for their turn in
// total (RequestsPerMinute).
func (c *Client) PacedFor() time.Duration { return c.pace.Waited() }

type errorBody struct {
	Message   string `json:"message"`
	Code      string `json:"code"`
	ContextID string `json:"contextId"`
}

// do performs one REST call with retries: a 401 refreshes the token once;
// 429 waits Retry-After; 5xx other than 501 backs off.
func (c *Client) do(ctx context.Context, op, method, path string, body, out any) error {
	_, err := c.doToken(ctx, false, op, method, path, body, out)
	return err
}

// doToken is do, and it returns the token the successful call used: if
// fresh, one not yet due for replacement.
func (c *Client) doToken(ctx context.Context, fresh bool, op, method, path string, body, out any) (cachedToken, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return cachedToken{}, fmt.Errorf("%s: encode request: %w", op, err)
		}
	}
	var ct cachedToken
	refreshed := false
	call := func(ctx context.Context) error {
		var err error
		if ct, err = c.tokens.get(ctx, fresh); err != nil {
			return retry.Permanent(fmt.Errorf("%s: %w", op, err))
		}
		apiErr, err := c.once(ctx, op, method, path, payload, ct.tok, out)
		switch {
		case err != nil:
			return retry.Permanent(err)
		case apiErr == nil:
			return nil
		case apiErr.Status == http.StatusUnauthorized && !refreshed:
			// Once, at once, with a fresh token.
			c.InvalidateToken(ct.tok)
			refreshed = true
			if ct, err = c.tokens.get(ctx, fresh); err != nil {
				return retry.Permanent(fmt.Errorf("%s: %w", op, err))
			}
			if apiErr, err = c.once(ctx, op, method, path, payload, ct.tok, out); err != nil {
				return retry.Permanent(err)
			} else if apiErr == nil {
				return nil
			}
		}
		if !apiErr.Temporary() {
			return retry.Permanent(apiErr)
		}
		return retry.After(apiErr, apiErr.RetryAfter)
	}
	err := c.retry.Do(ctx, time.Time{}, call, func(a retry.Attempt) {
		var ae *APIError
		errors.As(a.Err, &ae)
		c.log.Warn("retrying Genesys API call", "op", op, "status", ae.Status, "attempt", a.N, "wait", a.Wait.String(),
			"correlation_id", ae.CorrelationID)
	})
	return ct, err
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
	if err := c.pace.Wait(ctx); err != nil {
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
		return &APIError{Op: op, Err: text.RedactURLError(err)}, nil
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return &APIError{Op: op, Status: resp.StatusCode, Message: "read response", Err: text.RedactURLError(err)}, nil
	}
	if resp.StatusCode/100 != 2 {
		ae := &APIError{Op: op, Status: resp.StatusCode, CorrelationID: resp.Header.Get("ININ-Correlation-Id"),
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
		var eb errorBody
		if json.Unmarshal(data, &eb) == nil {
			ae.Code, ae.Message = eb.Code, text.Truncate(eb.Message, 300)
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

// ID is the client's OAuth client id (not a secret: logs name clients by
// it).
func (c *Client) ID() string { return c.cfg.ClientID }
