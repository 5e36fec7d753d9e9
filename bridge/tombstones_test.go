package bridge

import (
	"fmt"
	"testing"
	"time"
)

func TestTombstones(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	ts := newTombstones()
	const n = 5000
	for i := range n {
		ts.add(fmt.Sprint("id-", i), t0.Add(time.Duration(i)*time.Millisecond))
	}
	ts.add("id-0", t0.Add(time.Hour)) // added again: the later time holds
	if ts.len() != n || !ts.has("id-1") || ts.has("id-x") {
		t.Fatalf("len %d, has(id-1) %v, has(id-x) %v", ts.len(), ts.has("id-1"), ts.has("id-x"))
	}
	ts.expire(t0.Add(3999 * time.Millisecond)) // due: id-1 .. id-3999
	for _, tt := range []struct {
		id   string
		want bool
	}{{"id-0", true}, {"id-1", false}, {"id-3999", false}, {"id-4000", true}, {"id-4999", true}} {
		if got := ts.has(tt.id); got != tt.want {
			t.Errorf("has(%s) = %v, want %v", tt.id, got, tt.want)
		}
	}
	if ts.len() != 1001 || ts.head != 0 || len(ts.fifo) != 1001 {
		t.Fatalf("after expiry: len %d, fifo %d from %d; want 1001 kept and the queue compacted", ts.len(), len(ts.fifo), ts.head)
	}
	ts.expire(t0.Add(2 * time.Hour))
	if ts.len() != 0 {
		t.Fatalf("%d left after every time passed", ts.len())
	}
}
