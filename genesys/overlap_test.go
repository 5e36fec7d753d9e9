package genesys

import (
	"slices"
	"testing"
	"time"
)

// The new socket skips the run of the old socket's last frames it repeats,
// in order, and nothing after the first frame that departs from it.
func TestOverlapSkipsOnlyTheRepeatedRun(t *testing.T) {
	const a, b, u, h, x = 1, 2, 3, 4, 5
	tests := []struct {
		name      string
		old, next []uint64
		delivered []uint64 // what the new socket delivers
	}{
		{"repeats the tail", []uint64{a, b, u, h}, []uint64{u, h, x}, []uint64{x}},
		{"repeats everything", []uint64{a, b}, []uint64{a, b, x}, []uint64{x}},
		{"repeats nothing", []uint64{a, b}, []uint64{x, a}, []uint64{x, a}},
		{"a byte-identical later frame is new", []uint64{a, u}, []uint64{h, u}, []uint64{h, u}},
		{"departs from the run", []uint64{a, b, u}, []uint64{b, x, u}, []uint64{x, u}},
		{"no run", nil, []uint64{a, b}, []uint64{a, b}},
		{"duplicates in the run", []uint64{a, a, b}, []uint64{a, a, b, b}, []uint64{b}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o overlap
			o.start(tt.old)
			var got []uint64
			for _, fp := range tt.next {
				if !o.skip(fp, time.Now()) {
					got = append(got, fp)
				}
			}
			if !slices.Equal(got, tt.delivered) {
				t.Errorf("delivered %v, want %v", got, tt.delivered)
			}
		})
	}
	t.Run("expires", func(t *testing.T) {
		var o overlap
		o.start([]uint64{a})
		if o.skip(a, time.Now().Add(overlapLife+time.Second)) {
			t.Error("skipped after the overlap's life")
		}
	})
	t.Run("ring keeps order across wrap-around", func(t *testing.T) {
		var r recentFrames
		base := time.Now()
		for i := range recentCap + 3 {
			r.add(uint64(i), base.Add(time.Duration(i)))
		}
		got := r.since(base.Add(time.Duration(recentCap)))
		if !slices.Equal(got, []uint64{recentCap, recentCap + 1, recentCap + 2}) {
			t.Errorf("since = %v", got)
		}
	})
}
