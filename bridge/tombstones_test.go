package bridge

import (
	"fmt"
	"testing"
	"time"
)

func TestTombstones(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	ts := newTombstones(4 * time.Second) // generations of 1s
	const n = 5000
	for i := range n {
		ts.add(fmt.Sprint("id-", i), t0.Add(time.Duration(i)*time.Millisecond))
	}
	ts.add("id-4999", t0.Add(4999*time.Millisecond)) // added again: counted once
	if ts.len() != n || !ts.has("id-1") || ts.has("id-x") {
		t.Fatalf("len %d, has(id-1) %v, has(id-x) %v", ts.len(), ts.has("id-1"), ts.has("id-x"))
	}
	if latest := ts.expire(t0.Add(4999 * time.Millisecond)); !latest.IsZero() || ts.len() != n {
		t.Fatalf("forgot up to %v (%d left) before any was kept 4s", latest, ts.len())
	}
	// At 6s the generations opened at 0s and 1s have been kept 4s: ids
	// 0 to 1999 are forgotten; 2000 to 4999 are not, however long
	// each one has been kept.
	latest := ts.expire(t0.Add(6 * time.Second))
	if !latest.Equal(t0.Add(2 * time.Second)) {
		t.Fatalf("forgot tombstones added up to %v, want %v", latest, t0.Add(2*time.Second))
	}
	for _, tt := range []struct {
		id   string
		want bool
	}{{"id-0", false}, {"id-1999", false}, {"id-2000", true}, {"id-4999", true}} {
		if got := ts.has(tt.id); got != tt.want {
			t.Errorf("has(%s) = %v, want %v", tt.id, got, tt.want)
		}
	}
	if ts.len() != 3000 || len(ts.gens) != 3 {
		t.Fatalf("after expiry: %d in %d generations, want 3000 in 3", ts.len(), len(ts.gens))
	}
	ts.add("id-0", t0.Add(6*time.Second)) // released again later: remembered again
	ts.expire(t0.Add(10 * time.Second))
	if ts.len() != 1 || !ts.has("id-0") {
		t.Fatalf("len %d, has(id-0) %v after the rest expired", ts.len(), ts.has("id-0"))
	}
	ts.expire(t0.Add(time.Hour))
	if ts.len() != 0 || len(ts.gens) != 0 {
		t.Fatalf("%d left after every time passed", ts.len())
	}
}
