package intern

import (
	"strings"
	"sync"
	"testing"
	"unsafe"
)

func sameMemory(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

func TestTable(t *testing.T) {
	tab := &Table{Max: 3, Accept: func(s string) bool { return !strings.Contains(s, " ") }}
	a := tab.Bytes([]byte("queue-1"))
	if b := tab.Bytes([]byte("queue-1")); a != "queue-1" || !sameMemory(a, b) {
		t.Fatalf("Bytes twice: %q, %q not one copy", a, b)
	}
	big := "header queue-1 rest"
	cut := big[7:14]
	if c := tab.String(cut); !sameMemory(c, a) {
		t.Error("String of a known id is not the table's copy")
	}
	if c := tab.String(big[15:19]); sameMemory(c, big[15:19]) {
		t.Error("String kept memory of its argument")
	}
	for _, tc := range []struct {
		name string
		got  string
		want string
	}{
		{"empty bytes", tab.Bytes(nil), ""},
		{"empty string", tab.String(""), ""},
		{"refused bytes", tab.Bytes([]byte("not an id")), ""},
		{"refused string", tab.String("not an id"), ""},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	tab.String("x")
	tab.String("y") // the fourth: the table starts over
	if n := tab.Len(); n != 1 {
		t.Errorf("Len %d after overflowing Max 3, want 1", n)
	}
	var nilTab *Table
	if s := nilTab.String(cut); s != "queue-1" || sameMemory(s, cut) {
		t.Errorf("nil table: %q, shares memory %v", s, sameMemory(s, cut))
	}
	if s := nilTab.Bytes([]byte("q")); s != "q" {
		t.Errorf("nil table Bytes: %q", s)
	}
}

// A string longer than MaxLen is returned, never kept.
func TestTableMaxLen(t *testing.T) {
	tab := &Table{Max: 8, MaxLen: 4}
	long := []byte("longer than four")
	if a, b := tab.Bytes(long), tab.Bytes(long); a != string(long) || sameMemory(a, b) || tab.Len() != 0 {
		t.Errorf("a long string: %q, one copy %v, table of %d", a, sameMemory(a, b), tab.Len())
	}
	if a, b := tab.Bytes([]byte("four")), tab.Bytes([]byte("four")); !sameMemory(a, b) || tab.Len() != 1 {
		t.Errorf("a string of MaxLen not kept: one copy %v, table of %d", sameMemory(a, b), tab.Len())
	}
}

func TestTableConcurrent(t *testing.T) {
	tab := &Table{Max: 16}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 1000 {
				id := string(rune('a' + (i+j)%20))
				if got := tab.Bytes([]byte(id)); got != id {
					t.Errorf("Bytes(%q) = %q", id, got)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkBytesHit(b *testing.B) {
	tab := &Table{Max: 4096}
	id := []byte("3f2a1b4c-1111-4222-8333-444455556666")
	tab.Bytes(id)
	b.ReportAllocs()
	for b.Loop() {
		tab.Bytes(id)
	}
}
