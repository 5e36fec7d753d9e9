package text

import (
	"encoding/binary"
	"math/bits"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"longer text", 6, "longer..."},
		{"héllo", 2, "h..."}, // never half a rune
		{"", 0, ""},
	} {
		got := Truncate(tc.in, tc.n)
		if got != tc.want || !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestIsToken(t *testing.T) {
	for in, want := range map[string]bool{
		"abc-DEF_123": true, "": false, "a.b": false, "a>": false, "*": false, "a b": false, "é": false,
	} {
		if IsToken(in) != want {
			t.Errorf("IsToken(%q) = %v", in, !want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"nats://user:topsecret@host:4222":        "nats://host:4222",
		"wss://h/api?access_token=topsecret&x=1": "wss://h/api",
		" nats://host:4222 ":                     "nats://host:4222",
		"://bad":                                 "(unparseable URL)",
	} {
		got := RedactURL(in)
		if got != want || strings.Contains(got, "topsecret") {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzTruncate(f *testing.F) {
	f.Add("héllo wörld", 3)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 0 || n > 1<<16 {
			return
		}
		got := Truncate(s, n)
		if len(s) <= n && got != s {
			t.Fatalf("cut a string that fits")
		}
		if len(s) > n && (!strings.HasSuffix(got, "...") || len(got) > n+3) {
			t.Fatalf("Truncate(%q, %d) = %q", s, n, got)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("split a rune: %q", got)
		}
	})
}

// TestPlainWord holds the eight-byte test of JSON strings to its
// byte-wise meaning for every byte value at every position.
func TestPlainWord(t *testing.T) {
	for pos := range 8 {
		for c := range 256 {
			b := []byte("abcdefgh")
			b[pos] = byte(c)
			want := c >= 0x20 && c < 0x80 && c != '"' && c != '\\'
			if got := PlainWord(binary.LittleEndian.Uint64(b)); got != want {
				t.Fatalf("PlainWord with %#x at %d = %v, want %v", c, pos, got, want)
			}
		}
	}
}

// The lowest mark of SpecialBytes is the first byte that is not plain,
// whatever follows it (two special bytes at every pair of positions).
func TestSpecialBytesFirst(t *testing.T) {
	special := []byte{0, 0x1f, '"', '\\', 0x80, 0xff, 0x01}
	plain := func(c byte) bool { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' }
	for i := range 8 {
		for j := i; j < 8; j++ {
			for _, a := range special {
				for _, b := range special {
					w := []byte("abcdefgh")
					w[i], w[j] = a, b
					first := 8
					for k, c := range w {
						if !plain(c) {
							first = k
							break
						}
					}
					m := SpecialBytes(binary.LittleEndian.Uint64(w))
					if got := bits.TrailingZeros64(m) >> 3; got != first {
						t.Fatalf("%q: lowest mark at byte %d, first special byte %d", w, got, first)
					}
				}
			}
		}
	}
}
