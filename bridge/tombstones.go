package bridge

import (
	"hash/maphash"
	"time"
)

// tombstones remembers released interactions until each one's time passes,
// compactly: by a 128-bit hash of the id (two maphash seeds drawn per
// Machine, so two ids collide with a chance of 2^-128), with expiry in
// release order so that forgetting costs only what is forgotten. An
// interaction costs about 60 bytes here, against some 140 as a map entry
// keyed by its id.
type tombstones struct {
	seeds [2]maphash.Seed
	set   map[[2]uint64]int64 // hash -> when it may be forgotten (unix ns)
	fifo  []tomb              // in the order added, so mostly by time
	head  int
	peak  int // high-water mark of set since it was last rebuilt
}

type tomb struct {
	key   [2]uint64
	until int64
}

func newTombstones() tombstones {
	return tombstones{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, set: make(map[[2]uint64]int64)}
}

func (t *tombstones) key(id string) [2]uint64 {
	return [2]uint64{maphash.String(t.seeds[0], id), maphash.String(t.seeds[1], id)}
}

func (t *tombstones) has(id string) bool {
	_, ok := t.set[t.key(id)]
	return ok
}

func (t *tombstones) add(id string, until time.Time) {
	k := t.key(id)
	t.set[k] = until.UnixNano()
	t.fifo = append(t.fifo, tomb{key: k, until: until.UnixNano()})
	t.peak = max(t.peak, len(t.set))
}

func (t *tombstones) len() int { return len(t.set) }

// expire forgets the tombstones due at now, from the oldest, stopping at
// the first one not due. It returns the latest due time of those it
// forgot (0 if none).
func (t *tombstones) expire(now time.Time) (latest int64) {
	ns := now.UnixNano()
	for t.head < len(t.fifo) && t.fifo[t.head].until <= ns {
		e := t.fifo[t.head]
		if until, ok := t.set[e.key]; ok && until <= ns { // not added again since
			delete(t.set, e.key)
			latest = max(latest, until)
		}
		t.head++
	}
	if t.head > 1024 && t.head > len(t.fifo)/2 {
		// A new array: even an empty slice of the old one would keep it.
		rest := make([]tomb, len(t.fifo)-t.head)
		copy(rest, t.fifo[t.head:])
		t.fifo = rest
		t.head = 0
	}
	t.set, t.peak = shrink(t.set, t.peak)
	return latest
}
