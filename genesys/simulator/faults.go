package simulator

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// faultState is what the fault injectors set. Guarded by Server.mu.
type faultState struct {
	restStatus    int // status for the next restFailures API calls
	restFailures  int
	blackoutUntil time.Time
}

// Fault names, for Inject* by name (cmd/genesys-sim -faults).
var Faults = []string{"drop", "silence", "closing", "expire-channel", "revoke-token", "rest-429", "rest-503", "rest-401", "blackout"}

// InjectFault applies a fault by name (see Faults).
func (s *Server) InjectFault(name string) error {
	switch name {
	case "drop":
		s.DropSockets()
	case "silence":
		s.SilenceSockets()
	case "closing":
		s.AnnounceClosing(2 * time.Second)
	case "expire-channel":
		s.ExpireChannels()
	case "revoke-token":
		s.RevokeTokens()
	case "rest-429":
		s.FailREST(http.StatusTooManyRequests, 3)
	case "rest-503":
		s.FailREST(http.StatusServiceUnavailable, 3)
	case "rest-401":
		s.FailREST(http.StatusUnauthorized, 1)
	case "blackout":
		s.Blackout(3 * time.Second)
	default:
		return fmt.Errorf("unknown fault %q (want one of %v)", name, Faults)
	}
	return nil
}

// SilenceSockets makes every open socket half-dead: it stays open but
// nothing (no frame, no heartbeat, no pong) is written to it again.
func (s *Server) SilenceSockets() int {
	socks := s.openSockets()
	for _, sock := range socks {
		sock.silent.Store(true)
	}
	return len(socks)
}

var closingFrame = []byte(`{"topicName":"v2.system.socket_closing","version":"2","eventBody":{"reason":"maintenance","message":"socket will close"}}`)

// AnnounceClosing sends v2.system.socket_closing on every open socket and
// closes those sockets after the given delay, as maintenance does.
func (s *Server) AnnounceClosing(after time.Duration) int {
	socks := s.openSockets()
	for _, sock := range socks {
		sock.enqueue(closingFrame, s.closing)
		time.AfterFunc(after, sock.close)
	}
	return len(socks)
}

var goneFrame = []byte(`{"result":"404","message":"channel not found or expired"}`)

// ExpireChannels ends every channel that has a socket: a {"result":"404"}
// frame, then the socket closes and the channel is gone.
func (s *Server) ExpireChannels() int {
	s.mu.Lock()
	var socks []*simSocket
	for id, ch := range s.channels {
		if ch.sock != nil {
			socks = append(socks, ch.sock)
			delete(s.channels, id)
		}
	}
	s.mu.Unlock()
	s.sendGone(socks)
	return len(socks)
}

// sendGone sends {"result":"404"} on each socket and closes it shortly after.
func (s *Server) sendGone(socks []*simSocket) {
	for _, sock := range socks {
		sock.enqueue(goneFrame, s.closing)
		time.AfterFunc(100*time.Millisecond, sock.close)
	}
}

// RevokeTokens expires every issued token now: REST calls answer 401 and
// the channels the tokens created close.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	now := time.Now()
	for tok := range s.tokens {
		s.tokens[tok] = now
	}
	s.mu.Unlock()
	s.reapOnce()
}

// FailREST makes the next n API calls (not the token endpoint) answer with
// status; 429 carries Retry-After: 1.
func (s *Server) FailREST(status, n int) {
	s.mu.Lock()
	s.faults.restStatus, s.faults.restFailures = status, n
	s.mu.Unlock()
}

// Blackout drops every socket and refuses channels and sockets for d, while
// conversations go on: their changes reach only the REST API.
func (s *Server) Blackout(d time.Duration) {
	s.mu.Lock()
	s.faults.blackoutUntil = time.Now().Add(d)
	s.mu.Unlock()
	s.DropSockets()
}

func (s *Server) inBlackout() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Now().Before(s.faults.blackoutUntil)
}

// injectRESTFailure answers an API call with the scripted failure, if any.
func (s *Server) injectRESTFailure(w http.ResponseWriter) bool {
	s.mu.Lock()
	status := 0
	if s.faults.restFailures > 0 {
		s.faults.restFailures--
		status = s.faults.restStatus
	}
	s.mu.Unlock()
	switch status {
	case 0:
		return false
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", strconv.Itoa(1))
		apiError(w, status, "too.many.requests.retry.after", "Rate limit exceeded the maximum. Retry the request in [1] seconds")
	case http.StatusUnauthorized:
		apiError(w, status, "bad.credentials", "Invalid login credentials.")
	default:
		apiError(w, status, "service.unavailable", "simulated failure")
	}
	return true
}

// reap closes sockets whose channel expired (with a {"result":"404"}
// frame) or whose token expired (abruptly), every 50ms.
func (s *Server) reap() {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-t.C:
			s.reapOnce()
		}
	}
}

func (s *Server) reapOnce() {
	now := time.Now()
	s.mu.Lock()
	var expired, orphaned []*simSocket
	for id, ch := range s.channels {
		switch {
		case now.After(ch.expires):
			delete(s.channels, id)
			if ch.sock != nil {
				expired = append(expired, ch.sock)
			}
		case ch.sock != nil && !now.Before(s.tokens[ch.token]):
			delete(s.channels, id)
			orphaned = append(orphaned, ch.sock)
		}
	}
	s.mu.Unlock()
	s.sendGone(expired)
	for _, sock := range orphaned {
		sock.close()
	}
}
