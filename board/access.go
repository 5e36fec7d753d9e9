package board

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// Access says who may see the board: the holders of a bearer token or
// of basic credentials; with neither configured, loopback clients only
// (the same host, or kubectl port-forward). The credentials are never
// logged or echoed.
type Access struct {
	Token          string
	User, Password string
}

// Open reports whether no credentials are configured.
func (a Access) Open() bool { return a.Token == "" && a.User == "" }

// Guard serves h to the requests a allows: others get 401 (credentials
// missing or wrong, with the scheme to use) or, with no credentials
// configured, 403 to any client not on loopback.
func Guard(h http.Handler, a Access) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.Open() {
			if !loopback(r.RemoteAddr) {
				http.Error(w, "the board serves loopback clients only: configure BOARD_TOKEN_FILE or BOARD_BASIC_AUTH_FILE to serve others", http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, r)
			return
		}
		if a.Token != "" {
			if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && equal(tok, a.Token) {
				h.ServeHTTP(w, r)
				return
			}
		}
		if a.User != "" {
			if u, p, ok := r.BasicAuth(); ok && equal(u, a.User) && equal(p, a.Password) {
				h.ServeHTTP(w, r)
				return
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="genesys-bridge board", charset="UTF-8"`)
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer realm="genesys-bridge board"`)
		}
		http.Error(w, "credentials required", http.StatusUnauthorized)
	})
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// loopback reports whether a request's remote address is on loopback.
func loopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
