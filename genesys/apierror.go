package genesys

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// APIError is a failed Genesys REST call. It keeps what the caller needs to
// decide and what support needs to trace it.
type APIError struct {
	Op            string // "create channel"
	Status        int    // HTTP status
	Code          string // Genesys error code ("too.many.requests.retry.after", "invalid_client")
	Message       string
	Err           error         // the transport's error, when no response came (URL redacted)
	CorrelationID string        // ININ-Correlation-Id
	RetryAfter    time.Duration // from Retry-After, if the server sent one
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s: HTTP %d", e.Op, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.CorrelationID != "" {
		s += " (correlation id " + e.CorrelationID + ")"
	}
	return s
}

func (e *APIError) Unwrap() error { return e.Err }

// Temporary reports whether retrying later may succeed.
func (e *APIError) Temporary() bool {
	return e.Status == http.StatusTooManyRequests || (e.Status >= 500 && e.Status != http.StatusNotImplemented) || e.Status == 0
}

func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, time.Until(t))
	}
	return 0
}
