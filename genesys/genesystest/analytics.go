package genesystest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// conversationStore keeps every conversation's latest state for GET
// /api/v2/conversations/{id} and the analytics details query. It is
// updated when a change happens, whether or not a socket received it.
type conversationStore struct {
	mu    sync.Mutex
	convs map[string]*storedConv
	done  []string // completed ids, oldest first
}

type storedConv struct {
	id        string
	start     time.Time
	queues    []string
	users     []string
	body      []byte
	details   []byte
	completed time.Time // wall time; zero while open
}

func (cs *conversationStore) update(f *Frame, now time.Time, retention time.Duration) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.convs == nil {
		cs.convs = map[string]*storedConv{}
	}
	c := cs.convs[f.ConversationID]
	if c == nil {
		c = &storedConv{id: f.ConversationID}
		cs.convs[f.ConversationID] = c
	}
	c.start, c.queues, c.users, c.body, c.details = f.Start, f.Queues, f.Users, f.Body, f.Details
	if f.Status == bridge.StatusCompleted && c.completed.IsZero() {
		c.completed = now
		cs.done = append(cs.done, c.id)
	}
	for len(cs.done) > 0 {
		old := cs.convs[cs.done[0]]
		if old != nil && now.Sub(old.completed) < retention {
			break
		}
		delete(cs.convs, cs.done[0])
		cs.done = cs.done[1:]
	}
}

func (s *Server) handleGetConversation(w http.ResponseWriter, r *http.Request) {
	s.store.mu.Lock()
	c := s.store.convs[r.PathValue("id")]
	var body []byte
	if c != nil {
		body = c.body
	}
	s.store.mu.Unlock()
	if body == nil {
		apiError(w, http.StatusNotFound, "not.found", "conversation not found")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

type predicateGroup struct {
	Type       string `json:"type"`
	Predicates []struct {
		Dimension string `json:"dimension"`
		Value     string `json:"value"`
	} `json:"predicates"`
}

// matches reports whether any predicate of the groups matches (an empty
// list matches everything).
func matches(groups []predicateGroup, c *storedConv) bool {
	if len(groups) == 0 {
		return true
	}
	for _, g := range groups {
		for _, p := range g.Predicates {
			switch p.Dimension {
			case "queueId":
				if slices.Contains(c.queues, p.Value) {
					return true
				}
			case "userId":
				if slices.Contains(c.users, p.Value) {
					return true
				}
			case "conversationId":
				if c.id == p.Value {
					return true
				}
			}
		}
	}
	return false
}

// handleDetailsQuery serves conversations that started in the interval and
// match the filters, ordered by start, paged. Like the real service, a page
// may repeat the last conversation of the page before it.
func (s *Server) handleDetailsQuery(w http.ResponseWriter, r *http.Request) {
	var q struct {
		Interval string `json:"interval"`
		Paging   struct {
			PageSize   int `json:"pageSize"`
			PageNumber int `json:"pageNumber"`
		} `json:"paging"`
		SegmentFilters      []predicateGroup `json:"segmentFilters"`
		ConversationFilters []predicateGroup `json:"conversationFilters"`
	}
	if err := json.NewDecoder(r.Body).Decode(&q); err != nil {
		apiError(w, http.StatusBadRequest, "bad.request", "invalid query body")
		return
	}
	a, b, ok := strings.Cut(q.Interval, "/")
	from, err1 := time.Parse(time.RFC3339Nano, a)
	to, err2 := time.Parse(time.RFC3339Nano, b)
	if !ok || err1 != nil || err2 != nil || !from.Before(to) {
		apiError(w, http.StatusBadRequest, "bad.request", "interval must be <start>/<end> in ISO-8601")
		return
	}
	size, page := q.Paging.PageSize, q.Paging.PageNumber
	if size <= 0 || size > 100 || page <= 0 {
		apiError(w, http.StatusBadRequest, "bad.request", "pageSize 1-100 and pageNumber from 1")
		return
	}
	visible := time.Now().Add(-s.cfg.AnalyticsLag)
	s.store.mu.Lock()
	var hits []*storedConv
	for _, c := range s.store.convs {
		if c.start.Before(from) || !c.start.Before(to) || (s.cfg.AnalyticsLag > 0 && c.start.After(visible)) {
			continue
		}
		if matches(q.SegmentFilters, c) && matches(q.ConversationFilters, c) {
			hits = append(hits, c)
		}
	}
	slices.SortFunc(hits, func(x, y *storedConv) int {
		if c := x.start.Compare(y.start); c != 0 {
			return c
		}
		return strings.Compare(x.id, y.id)
	})
	lo := (page - 1) * size
	if page > 1 {
		lo-- // repeat the previous page's last conversation
	}
	var out []json.RawMessage
	for i := lo; i < min(page*size, len(hits)); i++ {
		out = append(out, hits[i].details)
	}
	s.store.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"conversations": out, "totalHits": len(hits)})
}
