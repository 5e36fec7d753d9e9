package genesys

import "time"

// During a make-before-break rollover both sockets receive the
// notifications sent while both are subscribed. The new socket's frames
// wait until the old socket delivered its last one; then the new socket
// must not deliver again what the old one already did, or an older frame
// (an unhold, which carries no timestamp) would be applied after a newer
// one.
//
// Both sockets receive the notifications in the order the server sends
// them, so the new socket's first frames are a run of the old socket's
// last ones. The new socket skips frames while they follow that run, and
// stops at the first frame that does not: from there on everything is new.
// Matching the run in order (rather than skipping any fingerprint seen)
// keeps a later notification that is byte-identical to an earlier one (an
// unhold after a second hold) from being swallowed.

// recentFrames and overlap belong to the lane's goroutine, like the rest
// of a conn's state: no locks.

// recentCap bounds the frames a socket remembers.
const recentCap = 4096

// recentFrames is a ring of the fingerprints of the event frames a socket
// delivered, with when.
type recentFrames struct {
	ring []delivered
	next int
}

type delivered struct {
	fp uint64
	at time.Time
}

func (r *recentFrames) add(fp uint64, at time.Time) {
	if len(r.ring) < recentCap {
		r.ring = append(r.ring, delivered{fp, at})
		return
	}
	r.ring[r.next] = delivered{fp, at}
	r.next = (r.next + 1) % recentCap
}

// since lists, oldest first, the fingerprints delivered at or after t.
func (r *recentFrames) since(t time.Time) []uint64 {
	var out []uint64
	for i := range r.ring {
		d := r.ring[(r.next+i)%len(r.ring)]
		if !d.at.Before(t) {
			out = append(out, d.fp)
		}
	}
	return out
}

// overlap is the run of frames a new socket may repeat from the socket it
// replaces.
type overlap struct {
	run   []uint64 // the old socket's last frames, oldest first
	pos   int      // the next frame expected; -1 before the first match
	until time.Time
}

// overlapLife bounds how long after a rollover frames may be skipped.
const overlapLife = 5 * time.Second

// start arms the overlap with the old socket's frames since the new one
// began dialing.
func (o *overlap) start(run []uint64) {
	o.run, o.pos, o.until = run, -1, time.Now().Add(overlapLife)
}

// skip reports whether a frame with this fingerprint repeats the old
// socket's run; the first frame that does not ends the overlap.
func (o *overlap) skip(fp uint64, now time.Time) bool {
	if o.run == nil {
		return false
	}
	if now.After(o.until) {
		o.run = nil
		return false
	}
	switch {
	case o.pos < 0:
		for i, f := range o.run {
			if f == fp {
				o.pos = i + 1
				break
			}
		}
		if o.pos < 0 {
			o.run = nil
			return false
		}
	case o.run[o.pos] == fp:
		o.pos++
	default:
		o.run = nil
		return false
	}
	if o.pos >= len(o.run) {
		o.run = nil
	}
	return true
}
