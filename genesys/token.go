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
	tok, _, err := c.TokenDue(ctx)
	return tok, err
}

// TokenDue is Token and when the token is due for replacement (a socket
// that carries it refreshes it then).
func (c *Client) TokenDue(ctx context.Context) (*oauth2.Token, time.Time, error) {
	ct, err := c.tokens.get(ctx, true)
	if err != nil {
		return nil, time.Time{}, err
	}
	return ct.tok, ct.refreshAt, nil
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
// The fetch's goroutine belongs to the tokens: close cancels it and waits
// for it.
type tokens struct {
	cc    clientcredentials.Config
	http  *http.Client
	ahead time.Duration
	log   *slog.Logger

	mu     sync.Mutex
	cur    cachedToken // tok nil: none
	fetch  *tokenFetch // in flight, or nil
	closed bool        // close was called: no new fetch starts
	wg     sync.WaitGroup
	stop   context.CancelFunc // cancels the fetch in flight; set with it
}

// errClosed is what a token request gets from a closed Client.
var errClosed = errors.New("genesys: client closed")

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
		if t.closed {
			t.mu.Unlock()
			return cachedToken{}, errClosed
		}
		f = &tokenFetch{done: make(chan struct{})}
		t.fetch = f
		var fctx context.Context
		fctx, t.stop = context.WithTimeout(context.Background(), time.Minute)
		t.wg.Go(func() { t.run(fctx, f) })
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

// run fetches a token for f, within ctx (a minute, or until close).
func (t *tokens) run(ctx context.Context, f *tokenFetch) {
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
	t.stop() // (releases the fetch's timer)
	t.mu.Unlock()
	close(f.done)
	if err == nil {
		t.log.Info("access token obtained", "expires_in", life.Round(time.Second).String())
	}
}

// close cancels the fetch in flight, if any, waits for its goroutine, and
// refuses new fetches.
func (t *tokens) close() {
	t.mu.Lock()
	t.closed = true
	if t.fetch != nil {
		t.stop()
	}
	t.mu.Unlock()
	t.wg.Wait()
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

// InvalidateToken drops the cached token if it is tok (after a 401), or
// whatever is cached if tok is nil.
func (c *Client) InvalidateToken(tok *oauth2.Token) { c.tokens.invalidate(tok) }

// Close cancels a token fetch in flight and waits for it; the Client then
// fetches no token (its calls fail). A Client that is never closed leaves
// at most one fetch running for at most a minute.
func (c *Client) Close() { c.tokens.close() }

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
