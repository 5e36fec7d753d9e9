package bridge

import (
	"hash/maphash"
	"time"
)

// tombstones remembers released interactions for at least a TTL,
// compactly: by a 128-bit hash of the id (two maphash seeds drawn per
// Machine, so two ids collide with a chance of 2^-128), in generations of
// a quarter of the TTL each, so that a tombstone is a 16-byte map key
// (about 30 bytes with the map's own room, against some 140 as a map
// entry keyed by the id) and forgetting drops the oldest generation
// whole. A tombstone is kept between TTL and 1.25 TTL.
type tombstones struct {
	seeds [2]maphash.Seed
	ttl   time.Duration
	gens  []generation // oldest first
	n     int
}

// generation holds the tombstones added in [opened, opened+ttl/4).
type generation struct {
	opened time.Time
	set    map[[2]uint64]struct{}
}

func newTombstones(ttl time.Duration) tombstones {
	return tombstones{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, ttl: ttl}
}

func (t *tombstones) key(id string) [2]uint64 {
	return [2]uint64{maphash.String(t.seeds[0], id), maphash.String(t.seeds[1], id)}
}

func (t *tombstones) has(id string) bool {
	if t.n == 0 {
		return false
	}
	k := t.key(id)
	for i := len(t.gens) - 1; i >= 0; i-- {
		if _, ok := t.gens[i].set[k]; ok {
			return true
		}
	}
	return false
}

// add remembers id, released at now, for at least the TTL.
func (t *tombstones) add(id string, now time.Time) {
	step := t.ttl / 4
	if len(t.gens) == 0 || !now.Before(t.gens[len(t.gens)-1].opened.Add(step)) {
		t.gens = append(t.gens, generation{opened: now, set: make(map[[2]uint64]struct{})})
	}
	set := t.gens[len(t.gens)-1].set
	k := t.key(id)
	if _, ok := set[k]; !ok {
		set[k] = struct{}{}
		t.n++
	}
}

func (t *tombstones) len() int { return t.n }

// expire forgets the generations whose every tombstone has been kept the
// TTL at now. It returns the latest time a tombstone it forgot may have
// been added (zero if it forgot none).
func (t *tombstones) expire(now time.Time) (latest time.Time) {
	step := t.ttl / 4
	i := 0
	for ; i < len(t.gens) && !now.Before(t.gens[i].opened.Add(step+t.ttl)); i++ {
		t.n -= len(t.gens[i].set)
		latest = t.gens[i].opened.Add(step)
	}
	if i > 0 {
		t.gens = append(t.gens[:0], t.gens[i:]...)
		clear(t.gens[len(t.gens):cap(t.gens)])
	}
	return latest
}
