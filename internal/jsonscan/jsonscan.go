// Package jsonscan reads JSON strictly and without reflection: RFC 8259,
// UTF-8 as it requires between systems, every skipped value validated, so
// a text it accepts is valid JSON throughout. It is the hot path's reader
// of Genesys frames; it knows nothing of them.
//
// It owns only the scan of one text held in memory; it never imports
// anything beyond the standard library and internal/text.
package jsonscan

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/genesys-bridge/genesys-bridge/internal/text"
)

// Scanner reads one JSON text strictly (RFC 8259, and UTF-8 as RFC 8259
// requires of JSON exchanged between systems) without reflection, for the
// hot path of flat frames. It validates what it skips, so a frame it
// accepts is valid JSON throughout.
type Scanner struct {
	data []byte
	pos  int
	buf  []byte // unescaped strings
}

// ErrSyntax is the kind of every error a scanner returns.
var ErrSyntax = errors.New("invalid JSON")

// maxDepth bounds nesting in skipped values (encoding/json's limit).
const maxDepth = 10000

func (s *Scanner) fail(what string) error {
	return fmt.Errorf("%w at byte %d: %s", ErrSyntax, s.pos, what)
}

func (s *Scanner) WS() {
	if s.pos < len(s.data) && s.data[s.pos] > ' ' {
		return // compact JSON: no white space at all, mostly
	}
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// Peek returns the next byte after white space, or 0 at the end.
func (s *Scanner) Peek() byte {
	s.WS()
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *Scanner) Expect(c byte) error {
	if s.Peek() != c {
		return s.fail(fmt.Sprintf("want %q", c))
	}
	s.pos++
	return nil
}

// End checks that only white space follows.
func (s *Scanner) End() error {
	if s.Peek() != 0 || s.pos < len(s.data) {
		return s.fail("data after the top-level value")
	}
	return nil
}

// Object calls field with each member's key (unescaped, valid until the
// next string read); field must consume the member's value.
func (s *Scanner) Object(field func(key []byte) error) error {
	if err := s.Expect('{'); err != nil {
		return err
	}
	if s.Peek() == '}' {
		s.pos++
		return nil
	}
	for {
		var key []byte
		var err error
		if s.pos < len(s.data) && s.data[s.pos] == '"' {
			key, err = s.str() // compact JSON
		} else {
			key, err = s.Str()
		}
		if err != nil {
			return err
		}
		if s.pos < len(s.data) && s.data[s.pos] == ':' {
			s.pos++ // compact JSON
		} else if err := s.Expect(':'); err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
		switch s.Peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.fail("want ',' or '}'")
		}
	}
}

// Elements reads an array, calling elem for each element (elem must
// consume it).
func (s *Scanner) Elements(elem func() error) error {
	if err := s.Expect('['); err != nil {
		return err
	}
	if s.Peek() == ']' {
		s.pos++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch s.Peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.fail("want ',' or ']'")
		}
	}
}

// Null consumes a null literal if one is next.
func (s *Scanner) Null() bool {
	if s.Peek() == 'n' && len(s.data)-s.pos >= 4 && string(s.data[s.pos:s.pos+4]) == "null" {
		s.pos += 4
		return true
	}
	return false
}

// Str reads a string and returns its unescaped bytes: a sub-slice of the
// input when it has no escapes, else the scanner's buffer.
func (s *Scanner) Str() ([]byte, error) {
	if s.Peek() != '"' {
		return nil, s.fail("want a string")
	}
	return s.str()
}

// str is Str with the opening quote next (no white space before it). It
// works on locals (the position is written back once): a scanner's
// fields, read and written through its pointer, cost a load and a store
// for every step.
func (s *Scanner) str() ([]byte, error) {
	data := s.data
	start := s.pos + 1
	i := start
	for {
		// Eight bytes at a time to the first that needs a look (the
		// lowest mark is exact).
		for ; i+8 <= len(data); i += 8 {
			if m := text.SpecialBytes(binary.LittleEndian.Uint64(data[i : i+8])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
		}
		if i >= len(data) {
			s.pos = i
			return nil, s.fail("unterminated string")
		}
		switch c := data[i]; {
		case c == '"':
			s.pos = i + 1
			return data[start:i], nil
		case c == '\\':
			s.pos = i
			s.buf = append(s.buf[:0], data[start:i]...)
			return s.escaped()
		case c < 0x20:
			s.pos = i
			return nil, s.fail("control character in a string")
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n == 1 {
				s.pos = i
				return nil, s.fail("invalid UTF-8")
			}
			i += n
		}
	}
}

// escaped continues a string with escapes into s.buf.
func (s *Scanner) escaped() ([]byte, error) {
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return s.buf, nil
		case c == '\\':
			if s.pos+1 >= len(s.data) {
				return nil, s.fail("unterminated escape")
			}
			e := s.data[s.pos+1]
			s.pos += 2
			switch e {
			case '"', '\\', '/':
				s.buf = append(s.buf, e)
			case 'b':
				s.buf = append(s.buf, '\b')
			case 'f':
				s.buf = append(s.buf, '\f')
			case 'n':
				s.buf = append(s.buf, '\n')
			case 'r':
				s.buf = append(s.buf, '\r')
			case 't':
				s.buf = append(s.buf, '\t')
			case 'u':
				r, ok := s.hex4()
				if !ok {
					return nil, s.fail("invalid \\u escape")
				}
				if utf16.IsSurrogate(r) {
					// A pair makes one rune; a lone half is U+FFFD, as
					// encoding/json decodes it.
					save := s.pos
					if s.pos+1 < len(s.data) && s.data[s.pos] == '\\' && s.data[s.pos+1] == 'u' {
						s.pos += 2
						if r2, ok := s.hex4(); ok {
							if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
								s.buf = utf8.AppendRune(s.buf, d)
								continue
							}
						}
					}
					s.pos = save
					r = utf8.RuneError
				}
				s.buf = utf8.AppendRune(s.buf, r)
			default:
				return nil, s.fail("invalid escape")
			}
		case c < 0x20:
			return nil, s.fail("control character in a string")
		case c < utf8.RuneSelf:
			s.buf = append(s.buf, c)
			s.pos++
		default:
			r, n := utf8.DecodeRune(s.data[s.pos:])
			if r == utf8.RuneError && n == 1 {
				return nil, s.fail("invalid UTF-8")
			}
			s.buf = append(s.buf, s.data[s.pos:s.pos+n]...)
			s.pos += n
		}
	}
	return nil, s.fail("unterminated string")
}

func (s *Scanner) hex4() (rune, bool) {
	if len(s.data)-s.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s.data[s.pos : s.pos+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	s.pos += 4
	return r, true
}

// number reads a number and returns its text.
func (s *Scanner) number() ([]byte, error) {
	s.WS()
	start := s.pos
	if s.pos < len(s.data) && s.data[s.pos] == '-' {
		s.pos++
	}
	switch {
	case s.pos < len(s.data) && s.data[s.pos] == '0':
		s.pos++
	case s.digits() == 0:
		return nil, s.fail("want a number")
	}
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		s.pos++
		if s.digits() == 0 {
			return nil, s.fail("want digits after '.'")
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if s.digits() == 0 {
			return nil, s.fail("want digits in the exponent")
		}
	}
	return s.data[start:s.pos], nil
}

func (s *Scanner) digits() int {
	n := 0
	for s.pos < len(s.data) && '0' <= s.data[s.pos] && s.data[s.pos] <= '9' {
		s.pos++
		n++
	}
	return n
}

// ErrNotInt is a number that is not an int64 (a fraction, an exponent, or
// out of range).
var ErrNotInt = errors.New("not an integer")

// Int64 reads a number that must be an integer in int64's range.
func (s *Scanner) Int64() (int64, error) {
	txt, err := s.number()
	if err != nil {
		return 0, err
	}
	neg := txt[0] == '-'
	if neg {
		txt = txt[1:]
	}
	var v uint64
	for _, c := range txt {
		if c < '0' || c > '9' {
			return 0, ErrNotInt
		}
		if v > (math.MaxUint64-9)/10 {
			return 0, ErrNotInt
		}
		v = v*10 + uint64(c-'0')
	}
	switch {
	case neg && v <= 1<<63:
		return -int64(v), nil
	case !neg && v < 1<<63:
		return int64(v), nil
	}
	return 0, ErrNotInt
}

// Skip validates and consumes any value.
func (s *Scanner) Skip() error { return s.skipDepth(0) }

func (s *Scanner) skipDepth(depth int) error {
	if depth > maxDepth {
		return s.fail("nested too deeply")
	}
	switch c := s.Peek(); {
	case c == '{':
		return s.Object(func([]byte) error { return s.skipDepth(depth + 1) })
	case c == '[':
		return s.Elements(func() error { return s.skipDepth(depth + 1) })
	case c == '"':
		_, err := s.Str()
		return err
	case c == '-' || ('0' <= c && c <= '9'):
		_, err := s.number()
		return err
	default:
		for _, lit := range [...]string{"null", "true", "false"} {
			if len(s.data)-s.pos >= len(lit) && string(s.data[s.pos:s.pos+len(lit)]) == lit {
				s.pos += len(lit)
				return nil
			}
		}
		return s.fail("want a value")
	}
}

// StringField reads a string member into dst (null leaves it as it is,
// as encoding/json does).
func (s *Scanner) StringField(name string, dst *string) error {
	return s.StringFieldAs(name, dst, copied)
}

func copied(b []byte) string { return string(b) }

// StringFieldAs is StringField with the string made by as from the
// unescaped bytes (valid only during the call): as may return a string it
// already holds for them (a vocabulary's, one read earlier), sparing an
// allocation.
func (s *Scanner) StringFieldAs(name string, dst *string, as func([]byte) string) error {
	switch s.Peek() {
	case '"':
	case 'n':
		if s.Null() {
			return nil
		}
		fallthrough
	default:
		return fmt.Errorf("field %s: want a string", name)
	}
	v, err := s.str()
	if err == nil {
		*dst = as(v)
	}
	return err
}

// BoolField reads true, false or null (left as it is).
func (s *Scanner) BoolField(name string, dst *bool) error {
	c := s.Peek() // past white space
	rest := s.data[s.pos:]
	switch c {
	case 'f':
		if len(rest) >= 5 && string(rest[:5]) == "false" {
			s.pos += 5
			*dst = false
			return nil
		}
	case 't':
		if len(rest) >= 4 && string(rest[:4]) == "true" {
			s.pos += 4
			*dst = true
			return nil
		}
	case 'n':
		if s.Null() {
			return nil
		}
	}
	return fmt.Errorf("field %s: want a boolean", name)
}

// RawField copies any value's text (null included, as json.RawMessage
// keeps it).
func (s *Scanner) RawField(dst *json.RawMessage) error {
	s.WS()
	start := s.pos
	if err := s.Skip(); err != nil {
		return err
	}
	*dst = append([]byte(nil), s.data[start:s.pos]...)
	return nil
}

// ObjectField reads an object member (the caller handled null).
func (s *Scanner) ObjectField(name string, field func(key []byte) error) error {
	if s.Peek() != '{' {
		return fmt.Errorf("field %s: want an object", name)
	}
	return s.Object(field)
}

// Array calls elem for each element of an array member (null is an empty
// Array); elem must consume the element.
func (s *Scanner) Array(name string, elem func() error) error {
	if s.Null() {
		return nil
	}
	if s.Peek() != '[' {
		return fmt.Errorf("field %s: want an array", name)
	}
	return s.Elements(elem)
}

// New returns a Scanner of data.
func New(data []byte) Scanner { return Scanner{data: data} }

// Pos is the offset of the next byte to read.
func (s *Scanner) Pos() int { return s.pos }

// Unescaped reports whether v, a string Str returned, lives in the
// scanner's own buffer (it had escapes, and the next string overwrites it)
// rather than in the data.
func (s *Scanner) Unescaped(v []byte) bool {
	return len(s.buf) > 0 && len(v) > 0 && &v[0] == &s.buf[0]
}
