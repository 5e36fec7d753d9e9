package text

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// Truncate returns s cut to at most n bytes (on a rune boundary) with
// "..." appended when it was cut, for quoting input in logs and errors.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// IsToken reports whether s is non-empty and only [A-Za-z0-9_-]: safe as a
// NATS subject token, a metric label or a log field.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// RedactURL returns a URL without its user info and query (where tokens
// and passwords travel), for messages.
func RedactURL(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return "(unparseable URL)"
	}
	u.User = nil
	u.RawQuery = ""
	return u.String()
}
