package simulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// simCall is one request to the simulator; it returns the status and the
// decoded body.
func simCall(t *testing.T, s *Server, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
		t.Errorf("%s %s: 429 without Retry-After", method, path)
	}
	return resp.StatusCode, out
}

func simLogin(t *testing.T, s *Server, id, secret string) (string, int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/oauth/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.SetBasicAuth(id, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return out.Token, resp.StatusCode
}

func TestClientsHaveTheirOwnCeilings(t *testing.T) {
	s, err := Start(Config{Conversations: -1, Clients: map[string]string{"second": "two"}, RequestsPerMinute: 30})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	first, code := simLogin(t, s, "sim-client", "sim-secret")
	if code != http.StatusOK {
		t.Fatalf("first client's login: %d", code)
	}
	second, code := simLogin(t, s, "second", "two")
	if code != http.StatusOK {
		t.Fatalf("second client's login: %d", code)
	}
	if _, code := simLogin(t, s, "second", "wrong"); code != http.StatusBadRequest {
		t.Fatalf("a wrong secret: %d, want 400 invalid_client", code)
	}

	// 21 channels of the first client: the 21st evicts the oldest; the
	// second client's channels are not counted with them.
	var ids []string
	for range MaxChannels + 1 {
		code, body := simCall(t, s, http.MethodPost, "/api/v2/notifications/channels", first, "")
		if code != http.StatusOK {
			t.Fatalf("create channel: %d %v", code, body)
		}
		ids = append(ids, body["id"].(string))
	}
	if code, _ := simCall(t, s, http.MethodPost, "/api/v2/notifications/channels", second, ""); code != http.StatusOK {
		t.Fatalf("second client's channel: %d", code)
	}
	u := s.Usage()
	if u["sim-client"].Channels != MaxChannels || u["sim-client"].PeakChannels != MaxChannels || u["second"].Channels != 1 || s.Evictions() != 1 {
		t.Fatalf("usage %+v, evictions %d: want 20 channels for the first client, 1 for the second, one eviction", u, s.Evictions())
	}
	if code, _ := simCall(t, s, http.MethodHead, "/api/v2/notifications/channels/"+ids[0], first, ""); code != http.StatusNotFound {
		t.Errorf("the evicted (oldest) channel: %d, want 404", code)
	}
	if code, _ := simCall(t, s, http.MethodHead, "/api/v2/notifications/channels/"+ids[1], first, ""); code != http.StatusOK {
		t.Errorf("the second oldest channel: %d, want 200", code)
	}
	// A channel is its client's: another client's token does not find it.
	if code, _ := simCall(t, s, http.MethodPut, "/api/v2/notifications/channels/"+ids[1]+"/subscriptions?ignoreErrors=true", second, `[]`); code != http.StatusNotFound {
		t.Errorf("subscribing another client's channel: %d, want 404", code)
	}

	// The rate: 30 calls a minute per client (23 made above by the first).
	throttled := 0
	for range 10 {
		if code, _ := simCall(t, s, http.MethodHead, "/api/v2/notifications/channels/"+ids[1], first, ""); code == http.StatusTooManyRequests {
			throttled++
		}
	}
	if throttled != 3 { // 23 + 10 calls, 30 allowed
		t.Errorf("%d calls answered 429, want 3", throttled)
	}
	if code, _ := simCall(t, s, http.MethodPost, "/api/v2/notifications/channels", second, ""); code != http.StatusOK {
		t.Errorf("the second client is paced on its own: %d", code)
	}

	// An administrator disables the second client.
	s.RefuseClient("second")
	if _, code := simLogin(t, s, "second", "two"); code != http.StatusBadRequest {
		t.Errorf("a refused client's login: %d, want 400 invalid_client", code)
	}
	if code, _ := simCall(t, s, http.MethodPost, "/api/v2/notifications/channels", second, ""); code != http.StatusUnauthorized {
		t.Errorf("a refused client's token: %d, want 401", code)
	}
	s.AcceptClient("second")
	if _, code := simLogin(t, s, "second", "two"); code != http.StatusOK {
		t.Errorf("an accepted client's login: %d", code)
	}
}
