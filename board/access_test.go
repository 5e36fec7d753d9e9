package board

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGuard(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	req := func(remote, auth string, basic ...string) *http.Request {
		r := httptest.NewRequest("GET", "/board/", nil)
		r.RemoteAddr = remote
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		if len(basic) == 2 {
			r.SetBasicAuth(basic[0], basic[1])
		}
		return r
	}
	for _, tt := range []struct {
		name   string
		access Access
		r      *http.Request
		want   int
	}{
		{"open, loopback v4", Access{}, req("127.0.0.1:5000", ""), 200},
		{"open, loopback v6", Access{}, req("[::1]:5000", ""), 200},
		{"open, another host", Access{}, req("10.1.2.3:5000", ""), 403},
		{"token", Access{Token: "s3cret"}, req("10.1.2.3:5000", "Bearer s3cret"), 200},
		{"wrong token", Access{Token: "s3cret"}, req("10.1.2.3:5000", "Bearer s3cre"), 401},
		{"no token, even on loopback", Access{Token: "s3cret"}, req("127.0.0.1:5000", ""), 401},
		{"basic", Access{User: "ops", Password: "pw"}, req("10.1.2.3:5000", "", "ops", "pw"), 200},
		{"wrong password", Access{User: "ops", Password: "pw"}, req("10.1.2.3:5000", "", "ops", "pX"), 401},
		{"either: basic", Access{Token: "s3cret", User: "ops", Password: "pw"}, req("10.1.2.3:5000", "", "ops", "pw"), 200},
		{"either: token", Access{Token: "s3cret", User: "ops", Password: "pw"}, req("10.1.2.3:5000", "Bearer s3cret"), 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			Guard(ok, tt.access).ServeHTTP(w, tt.r)
			if w.Code != tt.want {
				t.Errorf("status %d, want %d (%s)", w.Code, tt.want, w.Body.String())
			}
			if w.Code == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			for _, secret := range []string{"s3cret", "pw"} {
				if w.Code != 200 && len(w.Body.String()) > 0 && strings.Contains(w.Body.String(), secret) {
					t.Errorf("the answer echoes a credential: %q", w.Body.String())
				}
			}
		})
	}
}
