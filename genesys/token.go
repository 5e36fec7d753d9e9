package genesys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

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

// tokens caches the client-credentials token. A token is replaced
// RefreshAhead before it expires (at most half its life). One fetch runs
// at a time, without the lock held, and not bound to any caller's
// context: a caller that can use the current token while it is still
// valid does so at once; the others wait for the fetch or their context.
type tokens struct {
	cc    clientcredentials.Config
	http  *http.Client
	ahead time.Duration
	log   *slog.Logger

	mu    sync.Mutex
	cur   cachedToken // tok nil: none
	fetch *tokenFetch // in flight, or nil
}

type tokenFetch struct {
	done chan struct{}
	ct   cachedToken
	err  error
}

// tokenUseMargin is how long before its expiry a token is no longer handed
// out while its replacement is being fetched.
const tokenUseMargin = 30 * time.Second

// get returns a token. fresh asks for one not yet due for replacement (a
// channel or a socket lives as long as its token); otherwise a token not
// yet expired will do while its replacement is fetched.
func (t *tokens) get(ctx context.Context, fresh bool) (cachedToken, error) {
	now := time.Now()
	t.mu.Lock()
	cur := t.cur
	if cur.tok != nil && now.Before(cur.refreshAt) {
		t.mu.Unlock()
		return cur, nil
	}
	f := t.fetch
	if f == nil {
		f = &tokenFetch{done: make(chan struct{})}
		t.fetch = f
		go t.run(f)
	}
	t.mu.Unlock()
	if !fresh && cur.tok != nil && now.Add(tokenUseMargin).Before(cur.tok.Expiry) {
		return cur, nil
	}
	select {
	case <-f.done:
		return f.ct, f.err
	case <-ctx.Done():
		return cachedToken{}, ctx.Err()
	}
}

// run fetches a token for f.
func (t *tokens) run(f *tokenFetch) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tok, err := t.cc.Token(context.WithValue(ctx, oauth2.HTTPClient, t.http))
	var life time.Duration
	t.mu.Lock()
	if err != nil {
		f.err = tokenError(err)
	} else {
		life = time.Until(tok.Expiry)
		if tok.Expiry.IsZero() {
			life = time.Hour
		}
		f.ct = cachedToken{tok, time.Now().Add(life - min(t.ahead, life/2))}
		t.cur = f.ct
	}
	t.fetch = nil
	t.mu.Unlock()
	close(f.done)
	if err == nil {
		t.log.Info("access token obtained", "expires_in", life.Round(time.Second).String())
	}
}

// invalidate drops the cached token if it is tok, or whatever is cached if
// tok is nil.
func (t *tokens) invalidate(tok *oauth2.Token) {
	t.mu.Lock()
	if tok == nil || t.cur.tok == tok {
		t.cur = cachedToken{}
	}
	t.mu.Unlock()
}

// token returns a token not yet due for replacement.
func (c *Client) token(ctx context.Context) (cachedToken, error) { return c.tokens.get(ctx, true) }

// InvalidateToken drops the cached token if it is tok (after a 401), or
// whatever is cached if tok is nil.
func (c *Client) InvalidateToken(tok *oauth2.Token) { c.tokens.invalidate(tok) }

func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		ae := &APIError{Op: "fetch token", Status: status, Code: re.ErrorCode, Message: text.Truncate(re.ErrorDescription, 200)}
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
