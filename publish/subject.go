package publish

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/genesys-bridge/genesys-bridge/bridge"
)

// ValidatePrefix checks a subject prefix: dot-separated tokens of
// [A-Za-z0-9_-], no wildcards, at most 200 bytes.
func ValidatePrefix(p string) error {
	if p == "" || len(p) > 200 {
		return fmt.Errorf("subject prefix %q must be 1 to 200 bytes", trunc(p))
	}
	for _, tok := range strings.Split(p, ".") {
		if !safeToken(tok) {
			return fmt.Errorf("subject prefix %q: token %q must be non-empty and use only A-Z a-z 0-9 _ -", trunc(p), trunc(tok))
		}
	}
	return nil
}

func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func safeToken(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// IDToken turns an interaction id into a subject token. An id of 1 to 64
// bytes of [A-Za-z0-9_-] not starting with '_' is used as is (Genesys ids
// are UUIDs); anything else becomes '_' and 32 hex digits of its SHA-256, so
// a hostile id can never add a token or a wildcard, and a hashed token can
// never equal a verbatim one. The second result reports hashing.
func IDToken(id string) (string, bool) {
	if len(id) <= 64 && id != "" && id[0] != '_' && safeToken(id) {
		return id, false
	}
	sum := sha256.Sum256([]byte(id))
	return "_" + hex.EncodeToString(sum[:16]), true
}

// Subject returns <prefix>.<channelType>.<toStatus>.<idToken>. Channel
// types and statuses are closed sets of safe tokens (package bridge).
func Subject(prefix string, t *bridge.Transition) string {
	tok, _ := IDToken(t.InteractionID)
	var b strings.Builder
	b.Grow(len(prefix) + len(t.ChannelType) + len(t.ToStatus) + len(tok) + 3)
	b.WriteString(prefix)
	b.WriteByte('.')
	b.WriteString(string(t.ChannelType))
	b.WriteByte('.')
	b.WriteString(string(t.ToStatus))
	b.WriteByte('.')
	b.WriteString(tok)
	return b.String()
}
