package simulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// interactionsSock is a client of the tutorial's "interactions stream"
// dialect: token in the access_token query parameter, a filter message,
// in-band refresh, close code 4001 for a bad token, flat events.
type interactionsSock struct {
	sock *simSocket

	mu     sync.Mutex
	token  string
	types  map[string]bool // empty: all
	status map[string]bool
}

const closeTokenExpired = 4001

func (s *Server) tokenValid(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && time.Now().Before(exp)
}

func closeWith(conn *websocket.Conn, code int, text string) {
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
	_ = conn.Close()
}

func (s *Server) handleInteractionsStream(w http.ResponseWriter, r *http.Request) {
	if s.inBlackout() {
		http.Error(w, "simulated outage", http.StatusServiceUnavailable)
		return
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	tok := r.URL.Query().Get("access_token")
	if !s.tokenValid(tok) {
		closeWith(conn, closeTokenExpired, "token expired or invalid")
		return
	}
	is, err := readFilter(conn, tok)
	if err != nil {
		closeWith(conn, websocket.ClosePolicyViolation, "expected a filter message")
		return
	}
	is.sock = newSimSocket(conn, 0)
	is.sock.onMessage = func(data []byte) { s.refresh(is, conn, data) }
	s.mu.Lock()
	s.isocks[is] = true
	s.mu.Unlock()
	s.startOnce.Do(func() { close(s.startCh) })
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { s.expire(is, conn, stop) })
	is.sock.serve()
	close(stop)
	wg.Wait()
	s.mu.Lock()
	delete(s.isocks, is)
	s.mu.Unlock()
}

// readFilter reads the client's first message, its filter.
func readFilter(conn *websocket.Conn, tok string) (*interactionsSock, error) {
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var fm struct {
		Filter struct {
			Types  []string `json:"types"`
			Status []string `json:"status"`
		} `json:"filter"`
	}
	if err := conn.ReadJSON(&fm); err != nil {
		return nil, err
	}
	_ = conn.SetReadDeadline(time.Time{})
	is := &interactionsSock{token: tok, types: map[string]bool{}, status: map[string]bool{}}
	for _, t := range fm.Filter.Types {
		is.types[strings.ToLower(t)] = true
	}
	for _, st := range fm.Filter.Status {
		is.status[strings.ToLower(st)] = true
	}
	return is, nil
}

// refresh handles a client message: an in-band {"type":"refresh"} with a
// valid token replaces the socket's token; an invalid one ends it (4001).
func (s *Server) refresh(is *interactionsSock, conn *websocket.Conn, data []byte) {
	var m struct {
		Type        string `json:"type"`
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal(data, &m) != nil || m.Type != "refresh" {
		return
	}
	if !s.tokenValid(m.AccessToken) {
		closeWith(conn, closeTokenExpired, "refresh token invalid")
		return
	}
	is.mu.Lock()
	is.token = m.AccessToken
	is.mu.Unlock()
}

// expire ends the socket with 4001 once its token expires without a
// refresh, until stop.
func (s *Server) expire(is *interactionsSock, conn *websocket.Conn, stop <-chan struct{}) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			is.mu.Lock()
			tok := is.token
			is.mu.Unlock()
			if !s.tokenValid(tok) {
				is.sock.once.Do(func() {
					close(is.sock.closed)
					closeWith(conn, closeTokenExpired, "token expired")
				})
				return
			}
		}
	}
}

// sendInteraction sends frame f as a flat event to every interactions
// socket whose filter selects it. Sequence numbers rise across the server
// in the order changes happen, so a duplicate repeats one and a delayed
// frame carries an older one.
// A change that passes through statuses (f.via) sends an event for each,
// in order, with the sequence numbers before the frame's own.
func (s *Server) sendInteraction(f *Frame, socks []*interactionsSock) {
	events := append(slices.Clone(f.via), passed{status: f.Status, queue: f.Queue, user: f.User})
	for _, is := range socks {
		if len(is.types) > 0 && !is.types[string(f.Channel)] {
			continue
		}
		for i, e := range events {
			if len(is.status) > 0 && !is.status[string(e.status)] {
				continue
			}
			attrs := fmt.Sprintf(`{"queueId":%q}`, e.queue)
			if e.user != "" {
				attrs = fmt.Sprintf(`{"queueId":%q,"userId":%q}`, e.queue, e.user)
			}
			seq := f.seq - int64(len(events)-1-i)
			msg := fmt.Appendf(nil, `{"sequence":%d,"id":%q,"type":"interaction.updated","status":%q,"channelType":%q,"timestamp":%q,"attributes":%s}`,
				seq, f.ConversationID, e.status, f.Channel, f.At.UTC().Format(wireTime), attrs)
			if is.sock.enqueue(msg, s.closing) {
				s.framesSent.Add(1)
			}
		}
	}
}
