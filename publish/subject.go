package publish

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/genesys-bridge/genesys-bridge/bridge"
	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// ValidatePrefix checks a subject prefix: dot-separated tokens of
// [A-Za-z0-9_-], no wildcards, at most 200 bytes.
func ValidatePrefix(p string) error {
	if p == "" || len(p) > 200 {
		return fmt.Errorf("subject prefix %q must be 1 to 200 bytes", text.Truncate(p, 64))
	}
	for _, tok := range strings.Split(p, ".") {
		if !text.IsToken(tok) {
			return fmt.Errorf("subject prefix %q: token %q must be non-empty and use only A-Z a-z 0-9 _ -", text.Truncate(p, 64), text.Truncate(tok, 64))
		}
	}
	return nil
}

// IDToken turns an interaction id into a subject token. An id of 1 to 64
// bytes of [A-Za-z0-9_-] not starting with '_' is used as is (Genesys ids
// are UUIDs); anything else becomes '_' and 32 hex digits of its SHA-256, so
// a hostile id can never add a token or a wildcard, and a hashed token can
// never equal a verbatim one. The second result reports hashing.
func IDToken(id string) (string, bool) {
	if len(id) <= 64 && id != "" && id[0] != '_' && text.IsToken(id) {
		return id, false
	}
	sum := sha256.Sum256([]byte(id))
	return "_" + hex.EncodeToString(sum[:16]), true
}

// Subject returns <prefix>.<channelType>.<toStatus>.<idToken>, or for an
// agent's transition <prefix>.agents.<toRoutingStatus>.<userIdToken>.
// Channel types, statuses and routing statuses are closed sets of safe
// tokens (package bridge), and "agents" is no channel type, so the two
// never meet; both have four tokens after the prefix, so
// <prefix>.*.*.<idToken> finds the last state of either.
func Subject(prefix string, t *bridge.Transition) string {
	return string(appendSubject(make([]byte, 0, len(prefix)+64), prefix, t))
}

func appendSubject(b []byte, prefix string, t *bridge.Transition) []byte {
	tok, _ := IDToken(t.InteractionID)
	b = append(b, prefix...)
	b = append(b, '.')
	if t.Agent != nil {
		b = append(b, AgentsToken...)
		b = append(b, '.')
		b = append(b, t.Agent.ToRouting...)
		b = append(b, '.')
		return append(b, tok...)
	}
	b = append(b, t.ChannelType...)
	b = append(b, '.')
	b = append(b, t.ToStatus...)
	b = append(b, '.')
	return append(b, tok...)
}

// appendTimingsSubject appends <prefix>.<channelType>.<idToken>, where a
// completed interaction's timings go.
func appendTimingsSubject(b []byte, prefix string, t *bridge.Timings) []byte {
	tok, _ := IDToken(t.InteractionID)
	b = append(b, prefix...)
	b = append(b, '.')
	b = append(b, t.ChannelType...)
	b = append(b, '.')
	return append(b, tok...)
}

// AgentsToken is the subject token after the prefix that agents'
// transitions have in place of a channel type.
const AgentsToken = "agents"
