package simulator

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// conversationStore keeps every conversation for GET
// /api/v2/conversations/{id} (its state now) and the analytics details
// query (its state AnalyticsLag ago: analytics lags). It is updated when a
// change happens, whether or not a socket received it.
type conversationStore struct {
	mu    sync.Mutex
	convs map[string]*storedConv
	done  []string // completed ids, oldest first
}

type storedConv struct {
	id        string
	rest      []byte     // GET's answer now
	versions  []analytic // what analytics knows, oldest first
	completed time.Time  // wall time; zero while open
}

// analytic is the analytics record of a conversation as of a moment.
type analytic struct {
	recorded   time.Time // wall time of the change
	start, end time.Time // activity span in the analytics clock; end zero while open
	queues     []string
	users      []string
	details    []byte
}

func (cs *conversationStore) update(f *Frame, now time.Time, retention, lag time.Duration) {
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
	c.rest = f.REST
	c.versions = append(c.versions, analytic{recorded: now, start: f.Start, end: f.End, queues: f.Queues, users: f.Users, details: f.Details})
	// Keep the newest version analytics can already show, and the newer.
	for len(c.versions) > 1 && !c.versions[1].recorded.After(now.Add(-lag)) {
		c.versions = c.versions[1:]
	}
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

// asOf is the version analytics shows at wall time t, if any.
func (c *storedConv) asOf(t time.Time) (analytic, bool) {
	var out analytic
	ok := false
	for _, v := range c.versions {
		if v.recorded.After(t) {
			break
		}
		out, ok = v, true
	}
	return out, ok
}

func (s *Server) handleGetConversation(w http.ResponseWriter, r *http.Request) {
	s.store.mu.Lock()
	c := s.store.convs[r.PathValue("id")]
	var body []byte
	if c != nil {
		body = c.rest
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
func matches(groups []predicateGroup, id string, a *analytic) bool {
	if len(groups) == 0 {
		return true
	}
	for _, g := range groups {
		for _, p := range g.Predicates {
			switch p.Dimension {
			case "queueId":
				if slices.Contains(a.queues, p.Value) {
					return true
				}
			case "userId":
				if slices.Contains(a.users, p.Value) {
					return true
				}
			case "conversationId":
				if id == p.Value {
					return true
				}
			}
		}
	}
	return false
}

// MaxInterval is the longest interval the details query accepts.
const MaxInterval = 7 * 24 * time.Hour

// handleDetailsQuery serves the analytics conversation details query as the
// real service does: a conversation matches when it started on a UTC day
// the interval touches and was active (started, ended or still open)
// within the interval; what it shows is what analytics knew AnalyticsLag
// ago. Intervals over seven days are refused; paging stops at
// AnalyticsMaxResults; a page may repeat the previous page's last
// conversation.
func (s *Server) handleDetailsQuery(w http.ResponseWriter, r *http.Request) {
	q, ok := readQuery(w, r)
	if !ok {
		return
	}
	from, to, size, page := q.from, q.to, q.Paging.PageSize, q.Paging.PageNumber
	if (page-1)*size >= s.cfg.AnalyticsMaxResults {
		apiError(w, http.StatusBadRequest, "analytics.query.too.many.results",
			"pagination stops at the result limit; narrow the interval")
		return
	}
	firstDay := from.UTC().Truncate(24 * time.Hour)
	asOf := time.Now().Add(-s.cfg.AnalyticsLag)
	type hit struct {
		id string
		a  analytic
	}
	s.store.mu.Lock()
	var hits []hit
	for id, c := range s.store.convs {
		v, ok := c.asOf(asOf)
		if !ok {
			continue
		}
		startDay := v.start.UTC().Truncate(24 * time.Hour)
		touches := !startDay.Before(firstDay) && v.start.Before(to)
		active := v.start.Before(to) && (v.end.IsZero() || !v.end.Before(from))
		if touches && active && matches(q.SegmentFilters, id, &v) && matches(q.ConversationFilters, id, &v) {
			hits = append(hits, hit{id, v})
		}
	}
	s.store.mu.Unlock()
	s.countQuery()
	slices.SortFunc(hits, func(x, y hit) int {
		if c := x.a.start.Compare(y.a.start); c != 0 {
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
		out = append(out, hits[i].a.details)
	}
	writeJSON(w, http.StatusOK, map[string]any{"conversations": out, "totalHits": len(hits)})
}

// analyticsQuery is the body of a details query (conversations' or
// users'), as the simulator reads it.
type analyticsQuery struct {
	Interval string `json:"interval"`
	Paging   struct {
		PageSize   int `json:"pageSize"`
		PageNumber int `json:"pageNumber"`
	} `json:"paging"`
	SegmentFilters      []predicateGroup `json:"segmentFilters"`
	ConversationFilters []predicateGroup `json:"conversationFilters"`
	UserFilters         []predicateGroup `json:"userFilters"`
	from, to            time.Time
}

// readQuery reads a details query and answers 400 for a body, an
// interval (over seven days included) or paging the real service refuses.
func readQuery(w http.ResponseWriter, r *http.Request) (*analyticsQuery, bool) {
	var q analyticsQuery
	if err := json.NewDecoder(r.Body).Decode(&q); err != nil {
		apiError(w, http.StatusBadRequest, "bad.request", "invalid query body")
		return nil, false
	}
	a, b, ok := strings.Cut(q.Interval, "/")
	var err1, err2 error
	q.from, err1 = time.Parse(time.RFC3339Nano, a)
	q.to, err2 = time.Parse(time.RFC3339Nano, b)
	if !ok || err1 != nil || err2 != nil || !q.from.Before(q.to) {
		apiError(w, http.StatusBadRequest, "bad.request", "interval must be <start>/<end> in ISO-8601")
		return nil, false
	}
	if q.to.Sub(q.from) > MaxInterval {
		apiError(w, http.StatusBadRequest, "analytics.query.interval.too.long", "the interval may span at most 7 days")
		return nil, false
	}
	if size, page := q.Paging.PageSize, q.Paging.PageNumber; size <= 0 || size > 100 || page <= 0 {
		apiError(w, http.StatusBadRequest, "bad.request", "pageSize 1-100 and pageNumber from 1")
		return nil, false
	}
	return &q, true
}
