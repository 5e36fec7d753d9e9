package text

import (
	"errors"
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

// PlainWord reports whether none of the 8 bytes of x (8 bytes of a JSON
// string, loaded little-endian) ends, escapes or needs checking in a JSON
// string: no quote, backslash, control character or byte of a multi-byte
// UTF-8 sequence (each test is exact for "some byte is": zero after the
// XOR, or below 0x20, or >= 0x80). The decoder skips such bytes when
// reading strings, the encoder when writing them.
func PlainWord(x uint64) bool { return SpecialBytes(x) == 0 }

// SpecialBytes marks the bytes of x (8 bytes of a JSON string, loaded
// little-endian) that PlainWord looks for with their high bit. The lowest
// mark is exact (bits.TrailingZeros64/8 is the first such byte); marks
// above it may be false (a borrow), so only the lowest is to be trusted.
func SpecialBytes(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q, bs := x^(ones*'"'), x^(ones*'\\')
	return ((q-ones)&^q | (bs-ones)&^bs | (x-ones*0x20)&^x | x) & highs
}

// DetailToken bounds a value (a Genesys purpose or state) to n bytes for
// a transition's detail: "unknown" when empty, "invalid" when not a plain
// token.
func DetailToken(s string, n int) string {
	if s == "" {
		return "unknown"
	}
	if len(s) > n {
		s = s[:n]
	}
	if !IsToken(s) {
		return "invalid"
	}
	return s
}

// RedactURLError is err with its *url.Error's URL stripped of query and
// credentials (a token can ride in a query); the cause stays wrapped, for
// errors.Is and errors.As.
func RedactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: RedactURL(ue.URL), Err: ue.Err}
	}
	return err
}
