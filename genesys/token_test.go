package genesys

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// A token due for replacement but still valid serves REST calls at once
// while its replacement is fetched; a caller that needs a fresh one (a
// channel, a socket) waits for it; concurrent callers share one fetch.
func TestTokenRefreshDoesNotBlockCalls(t *testing.T) {
	release := make(chan struct{})
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := fetches.Add(1)
		<-release // a slow login
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"new-%d","token_type":"bearer","expires_in":3600}`, n)
	}))
	defer srv.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	c := NewClient(ClientConfig{Endpoints: Endpoints{API: srv.URL, Login: srv.URL}, ClientID: "id", ClientSecret: "s"})
	old := &oauth2.Token{AccessToken: "old", Expiry: time.Now().Add(10 * time.Minute)}
	c.tokens.cur = cachedToken{tok: old, refreshAt: time.Now().Add(-time.Second)}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for range 3 {
		ct, err := c.tokens.get(ctx, false)
		if err != nil || ct.tok != old {
			t.Fatalf("a call while the login is slow got %v, %v; want the still valid token at once", ct.tok, err)
		}
	}
	var wg sync.WaitGroup
	fresh := make([]string, 4)
	for i := range fresh {
		wg.Go(func() {
			ct, err := c.tokens.get(ctx, true)
			if err != nil {
				t.Error(err)
				return
			}
			fresh[i] = ct.tok.AccessToken
		})
	}
	time.Sleep(50 * time.Millisecond) // let the fresh callers block; the result does not depend on it
	close(release)
	wg.Wait()
	for _, tok := range fresh {
		if tok != "new-1" {
			t.Fatalf("fresh callers got %v; want the one new token", fresh)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d token fetches; want one shared", n)
	}
	// An expired token is not handed out: the caller waits.
	c.tokens.cur = cachedToken{tok: &oauth2.Token{AccessToken: "expired", Expiry: time.Now().Add(-time.Minute)}, refreshAt: time.Now().Add(-time.Hour)}
	if ct, err := c.tokens.get(ctx, false); err != nil || ct.tok.AccessToken != "new-2" {
		t.Fatalf("after expiry got %v, %v; want a new token", ct.tok, err)
	}
}

// The token fetch's goroutine belongs to the Client: Close cancels a fetch
// in flight (a login that never answers) and returns once it ended; the
// caller waiting for it gets an error, and a closed Client fetches no
// token.
func TestCloseEndsTheTokenFetch(t *testing.T) {
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // (the server notices the client leave only once the body is read)
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-r.Context().Done() // never answers
	}))
	defer srv.Close()
	c := NewClient(ClientConfig{Endpoints: Endpoints{API: srv.URL, Login: srv.URL}, ClientID: "id", ClientSecret: "s"})
	got := make(chan error, 1)
	go func() {
		_, err := c.Token(t.Context())
		got <- err
	}()
	<-arrived
	c.Close() // returns only once the fetch's goroutine ended
	c.tokens.mu.Lock()
	inFlight := c.tokens.fetch != nil
	c.tokens.mu.Unlock()
	if inFlight {
		t.Error("a fetch is still in flight after Close")
	}
	if err := <-got; err == nil {
		t.Error("the waiting caller got a token from a cancelled fetch")
	}
	if _, err := c.Token(t.Context()); err != errClosed {
		t.Errorf("Token after Close: %v, want errClosed", err)
	}
}
