package board

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"time"
)

//go:embed page.html
var page []byte

// Handler serves the page at / and its figures at /snapshot (JSON), for
// mounting under a prefix with http.StripPrefix. The page is one static
// file: no build step, no external resources; it asks for /snapshot every
// second.
func (b *Board) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'")
		h.Set("X-Content-Type-Options", "nosniff")
		w.Write(page)
	})
	mux.HandleFunc("GET /snapshot", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(b.Snapshot(time.Now()))
	})
	return mux
}
