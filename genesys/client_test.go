package genesys

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// fakeAPI is an httptest Genesys with a token endpoint and one scripted
// REST endpoint.
type fakeAPI struct {
	tokens   atomic.Int32
	calls    atomic.Int32
	respond  func(call int, w http.ResponseWriter, r *http.Request)
	srv      *httptest.Server
	badCreds bool
}

func newFakeAPI(t *testing.T, respond func(call int, w http.ResponseWriter, r *http.Request)) *fakeAPI {
	f := &fakeAPI{respond: respond}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		if f.badCreds || id != "id" || secret != "s3cret-value" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_client","description":"client not found","error_description":"client not found"}`)
			return
		}
		n := f.tokens.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"bearer","expires_in":86400}`, n)
	})
	mux.HandleFunc("/api/v2/", func(w http.ResponseWriter, r *http.Request) {
		f.respond(int(f.calls.Add(1)), w, r)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) client(secret string) *Client {
	return NewClient(ClientConfig{Endpoints: Endpoints{API: f.srv.URL, Login: f.srv.URL}, ClientID: "id",
		ClientSecret: Secret(secret), MaxAttempts: 4})
}

func genesysError(w http.ResponseWriter, status int, code string, hdr map[string]string) {
	for k, v := range hdr {
		w.Header().Set(k, v)
	}
	w.Header().Set("ININ-Correlation-Id", "corr-123")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"message":"scripted failure","code":%q,"status":%d}`, code, status)
}

func TestClientRetries(t *testing.T) {
	channelOK := func(w http.ResponseWriter) {
		fmt.Fprint(w, `{"id":"ch1","connectUri":"wss://example/channels/ch1","expires":"2026-11-28T09:00:00Z"}`)
	}
	tests := []struct {
		name       string
		respond    func(call int, w http.ResponseWriter, r *http.Request)
		wantCalls  int32
		wantTokens int32
		wantStatus int // 0: success
	}{
		{"429 honours Retry-After then succeeds", func(call int, w http.ResponseWriter, r *http.Request) {
			if call == 1 {
				genesysError(w, 429, "too.many.requests.retry.after", map[string]string{"Retry-After": "0"})
				return
			}
			channelOK(w)
		}, 2, 1, 0},
		{"5xx retried with backoff", func(call int, w http.ResponseWriter, r *http.Request) {
			if call <= 2 {
				genesysError(w, 503, "service.unavailable", nil)
				return
			}
			channelOK(w)
		}, 3, 1, 0},
		{"501 is not retried", func(call int, w http.ResponseWriter, r *http.Request) {
			genesysError(w, 501, "not.implemented", nil)
		}, 1, 1, 501},
		{"400 is not retried", func(call int, w http.ResponseWriter, r *http.Request) {
			genesysError(w, 400, "bad.request", nil)
		}, 1, 1, 400},
		{"401 refreshes the token once", func(call int, w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") == "Bearer tok-1" {
				genesysError(w, 401, "bad.credentials", nil)
				return
			}
			channelOK(w)
		}, 2, 2, 0},
		{"persistent 401 gives up", func(call int, w http.ResponseWriter, r *http.Request) {
			genesysError(w, 401, "bad.credentials", nil)
		}, 2, 2, 401},
		{"5xx gives up after MaxAttempts", func(call int, w http.ResponseWriter, r *http.Request) {
			genesysError(w, 502, "bad.gateway", nil)
		}, 4, 1, 502},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t, tt.respond)
			ch, err := f.client("s3cret-value").CreateChannel(t.Context())
			if got := f.calls.Load(); got != tt.wantCalls {
				t.Errorf("calls = %d, want %d", got, tt.wantCalls)
			}
			if got := f.tokens.Load(); got != tt.wantTokens {
				t.Errorf("tokens = %d, want %d", got, tt.wantTokens)
			}
			if tt.wantStatus == 0 {
				if err != nil || ch.ID != "ch1" {
					t.Fatalf("CreateChannel = %+v, %v", ch, err)
				}
				return
			}
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want an *APIError", err)
			}
			if ae.Status != tt.wantStatus || ae.CorrelationID != "corr-123" || ae.Code == "" || ae.Op != "create channel" {
				t.Fatalf("APIError = %+v", ae)
			}
		})
	}
}

func TestBadCredentials(t *testing.T) {
	f := newFakeAPI(t, func(int, http.ResponseWriter, *http.Request) { t.Error("API called without a token") })
	_, err := f.client("wrong-s3cret").CreateChannel(t.Context())
	if !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("err = %v, want ErrBadCredentials", err)
	}
	if msg := fmt.Sprintf("%v %+v %#v", err, err, err); strings.Contains(msg, "wrong-s3cret") {
		t.Fatalf("the secret leaks into the error: %s", msg)
	}
	if !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("error %q does not name the Genesys error code", err)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("hunter2")
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %s %+v %#v %q", s, s, s, s, s),
		fmt.Sprintf("%+v", struct{ S Secret }{s})} {
		if strings.Contains(out, "hunter2") {
			t.Fatalf("secret printed: %s", out)
		}
	}
	if s.Reveal() != "hunter2" {
		t.Fatal("Reveal lost the value")
	}
}

func TestRetryAfter(t *testing.T) {
	if d := retryAfter("3"); d != 3*time.Second {
		t.Errorf("retryAfter(3) = %s", d)
	}
	if d := retryAfter(""); d != 0 {
		t.Errorf("retryAfter('') = %s", d)
	}
	if d := retryAfter("soon"); d != 0 {
		t.Errorf("retryAfter(soon) = %s", d)
	}
	future := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	if d := retryAfter(future); d < 80*time.Second || d > 91*time.Second {
		t.Errorf("retryAfter(date) = %s", d)
	}
}

func TestSubscribeReportsRejections(t *testing.T) {
	f := newFakeAPI(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut || r.URL.Query().Get("ignoreErrors") != "true" {
			t.Errorf("subscribe used %s %s", r.Method, r.URL)
		}
		fmt.Fprint(w, `{"entities":[{"id":"v2.routing.queues.q1.conversations","state":"Permitted"},{"id":"v2.users.u1.conversations","state":"Rejected","rejectionReason":"missing permission"}]}`)
	})
	res, err := f.client("s3cret-value").Subscribe(context.Background(), "ch1", []string{"v2.routing.queues.q1.conversations", "v2.users.u1.conversations"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[1].State != "Rejected" || res[1].RejectionReason == "" {
		t.Fatalf("results %+v", res)
	}
}

func TestEndpoints(t *testing.T) {
	tests := []struct {
		region, api, login string
		wantAPI, wantLogin string
		wantErr            string
	}{
		{region: "eu-west-1", wantAPI: "https://api.mypurecloud.ie", wantLogin: "https://login.mypurecloud.ie"},
		{region: "mypurecloud.de", wantAPI: "https://api.mypurecloud.de", wantLogin: "https://login.mypurecloud.de"},
		{region: "api.usw2.pure.cloud", wantAPI: "https://api.usw2.pure.cloud", wantLogin: "https://login.usw2.pure.cloud"},
		{region: "USW2", wantAPI: "https://api.usw2.pure.cloud", wantLogin: "https://login.usw2.pure.cloud"},
		{region: "mars-1", wantErr: "unknown Genesys Cloud region"},
		{api: "http://127.0.0.1:9/", login: "http://127.0.0.1:9", wantAPI: "http://127.0.0.1:9", wantLogin: "http://127.0.0.1:9"},
		{region: "eu-west-1", api: "ftp://x", wantErr: "not an absolute http(s) URL"},
		{api: "http://user:pw@host", login: "http://host", wantErr: "without credentials"},
		{api: "http://host", wantErr: "no Genesys Cloud region"},
	}
	for _, tt := range tests {
		t.Run(tt.region+tt.api, func(t *testing.T) {
			e, err := EndpointsFor(tt.region, tt.api, tt.login)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "pw") {
					t.Fatalf("error leaks URL credentials: %v", err)
				}
				return
			}
			if err != nil || e.API != tt.wantAPI || e.Login != tt.wantLogin {
				t.Fatalf("EndpointsFor = %+v, %v", e, err)
			}
		})
	}
}

func TestTopics(t *testing.T) {
	got, err := Topics(TopicSet{Queues: []string{"q1", "q2", "q1"}, Users: []string{"u1"}, Agents: []string{"a1"}, MembersOf: []string{"q1"}, Extra: []string{"v2.users.u2.conversations", "v2.routing.queues.q1.conversations", "v2.routing.queues.q3.users"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "v2.routing.queues.q1.conversations v2.routing.queues.q2.conversations v2.users.u1.conversations v2.users.a1.activity v2.routing.queues.q1.users v2.users.u2.conversations v2.routing.queues.q3.users"
	if strings.Join(got, " ") != want {
		t.Fatalf("Topics = %v", got)
	}
	for topic, why := range map[string]string{
		"v2.routing.queues.q1.conversations.calls":       "media-suffixed",
		"v2.users.u1.conversations.emails":               "media-suffixed",
		"v2.routing.queues.q1.conversations.summaries":   "summaries",
		"v2.detail.events.conversation.x.customer.start": "not one the bridge decodes",
	} {
		if _, err := Topics(TopicSet{Extra: []string{topic}}); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("topic %s: %v, want an error saying %q", topic, err, why)
		}
	}
	for _, bad := range [][]string{{"a.b"}, {""}, {"a b"}, {"*"}} {
		if _, err := Topics(TopicSet{Queues: bad}); err == nil {
			t.Errorf("queue id %q accepted", bad[0])
		}
		if _, err := Topics(TopicSet{Agents: bad}); err == nil {
			t.Errorf("agent id %q accepted", bad[0])
		}
	}
	if got, err := Topics(TopicSet{Extra: []string{"v2.users.a2.activity"}}); err != nil || len(got) != 1 {
		t.Errorf("an activity topic as an extra topic: %v %v", got, err)
	}
	if _, err := Topics(TopicSet{Extra: []string{strings.Repeat("x", 200)}}); err == nil {
		t.Error("a 200-byte topic was accepted")
	}
}

// A transport error keeps its cause (errors.Is and errors.As reach it)
// and loses its URL's query and credentials, where a token can ride.
func TestTransportErrorsWrapped(t *testing.T) {
	err := text.RedactURLError(&url.Error{Op: "Get", URL: "wss://u:p@host/stream?access_token=t0ken-value", Err: syscall.ECONNREFUSED})
	if !errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(err.Error(), "t0ken-value") || strings.Contains(err.Error(), "u:p") {
		t.Errorf("redacted: %v; want the cause kept and no query or credentials", err)
	}
	f := newFakeAPI(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close() // no response at all
		}
	})
	_, err = f.client("s3cret-value").CreateChannel(t.Context())
	var ae *APIError
	var ue *url.Error
	if !errors.As(err, &ae) || ae.Status != 0 || !errors.As(err, &ue) || !errors.Is(err, io.EOF) {
		t.Fatalf("err = %v (%T); want an APIError without status wrapping the transport's *url.Error and its io.EOF", err, err)
	}
}
