package bridge

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

func heapInuse() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse)
}

// BenchmarkMachineState reports the memory an open interaction costs and
// what is left once 100,000 interactions completed and were released.
func BenchmarkMachineState(b *testing.B) {
	const n = 100_000
	for range b.N {
		base := heapInuse()
		m := NewMachine(MachineConfig{Grace: time.Second, TombstoneTTL: time.Minute})
		var out []Transition
		for i := range n {
			ev := snap(fmt.Sprintf("%08x-0000-4000-8000-000000000000", i), "connected", "queued@1", "ringing@2", "connected@3")
			ev.ObservedAt = at(0)
			out, _ = m.Apply(&ev, out[:0])
		}
		open := heapInuse() - base
		for i := range n {
			ev := snap(fmt.Sprintf("%08x-0000-4000-8000-000000000000", i), "completed", "queued@1", "ringing@2", "connected@3", "completed@4")
			ev.ObservedAt = at(0)
			out, _ = m.Apply(&ev, out[:0])
		}
		m.Sweep(at(2)) // released, tombstoned
		tomb := heapInuse() - base
		m.Sweep(at(2 + 75)) // tombstones expire (TTL and a quarter)
		after := heapInuse() - base
		runtime.KeepAlive(m)
		b.ReportMetric(open/n, "B/open-interaction")
		b.ReportMetric(tomb/n, "B/tombstone")
		b.ReportMetric(after/(1<<10), "KiB-after-release")
	}
}

// BenchmarkApply measures the state machine alone on a typical event.
func BenchmarkApply(b *testing.B) {
	m := NewMachine(MachineConfig{})
	evs := []Event{
		snap("c1", "queued", "ivr@1", "queued@2"),
		snap("c1", "ringing", "ivr@1", "queued@2", "ringing@3"),
	}
	var out []Transition
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ev := evs[i%2]
		ev.InteractionID = "c1"
		out, _ = m.Apply(&ev, out[:0])
		if i%2 == 1 {
			delete(m.states, "c1")
			m.memo = nil
		}
	}
}
