package bridge

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// visible8 agrees with a byte-by-byte check for every byte value at every
// position, among visible bytes and next to each other byte value.
func TestVisible8(t *testing.T) {
	for _, fill := range []byte{'a', '0', '!', '~', '-'} {
		for pos := range 8 {
			for c := range 256 {
				b := []byte(strings.Repeat(string(fill), 8))
				b[pos] = byte(c)
				want := c >= 0x21 && c <= 0x7e
				if got := visible8(string(b)); got != want {
					t.Fatalf("visible8(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
	// Two bytes that are not visible, one of which might hide the other
	// (a borrow in the subtraction).
	for c := range 256 {
		for d := range 256 {
			b := []byte("abcdefgh")
			b[2], b[3] = byte(c), byte(d)
			want := c >= 0x21 && c <= 0x7e && d >= 0x21 && d <= 0x7e
			if got := visible8(string(b)); got != want {
				t.Fatalf("visible8(%q) = %v, want %v", b, got, want)
			}
		}
	}
}

// validIDReference is ValidateInteractionID's rule, rune by rune.
func validIDReference(id string) bool {
	if id == "" || len(id) > MaxInteractionIDLen || !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

func FuzzValidateInteractionID(f *testing.F) {
	for _, s := range []string{"3f2a1b4c-1111-4222-8333-444455556666", "a b", "abcdefgh\x7f", "é-conversation", "\u00a0abcdefgh", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := ValidateInteractionID(id) == nil, validIDReference(id); got != want {
			t.Fatalf("ValidateInteractionID(%q) accepts: %v, want %v", id, got, want)
		}
	})
}
