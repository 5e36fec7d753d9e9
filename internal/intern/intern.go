package intern

import (
	"strings"
	"sync"
)

// Table is a set of interned strings.
type Table struct {
	// Max bounds the table: when it is full, it starts over. 0: no bound.
	Max int
	// MaxLen, if set, bounds the length of the strings kept: a longer one
	// is returned as a string of its own, not kept (so that a few huge
	// strings cannot hold memory the count of Max does not see).
	MaxLen int
	// Accept, if set, decides which strings are kept: Bytes returns "" for
	// any other (so callers get a validated string or none).
	Accept func(string) bool

	mu sync.Mutex
	m  map[string]string
}

// Bytes returns the table's copy of string(b), adding it if absent; ""
// if b is empty or not accepted.
func (t *Table) Bytes(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if t != nil {
		t.mu.Lock()
		s, ok := t.m[string(b)] // no allocation for the lookup
		t.mu.Unlock()
		if ok {
			return s
		}
	}
	return t.add(string(b))
}

// String returns the table's copy of s, adding one (never s itself) if
// absent; "" if s is not accepted.
func (t *Table) String(s string) string {
	if s == "" {
		return ""
	}
	if t != nil {
		t.mu.Lock()
		c, ok := t.m[s]
		t.mu.Unlock()
		if ok {
			return c
		}
	}
	return t.add(strings.Clone(s))
}

// add keeps s, a string of its own, if accepted.
func (t *Table) add(s string) string {
	if t == nil {
		return s
	}
	if t.Accept != nil && !t.Accept(s) {
		return ""
	}
	if t.MaxLen > 0 && len(s) > t.MaxLen {
		return s
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil || (t.Max > 0 && len(t.m) >= t.Max) {
		t.m = make(map[string]string)
	}
	if c, ok := t.m[s]; ok {
		return c
	}
	t.m[s] = s
	return s
}

// Len is how many strings the table holds.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}
