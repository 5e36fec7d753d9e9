package genesys

import (
	"context"
	"errors"
	"time"
)

// Lanes shared between replicas. With StreamConfig.Leases, a lane is read
// only while this replica holds its lease: its goroutine waits for the
// lease, reads the lane until the lease is lost (it cannot be proven, or
// it is handed over to balance the replicas) or the stream stops, then
// stops reading and releases it. A lane taken from another replica is
// taken after a gap: from the predecessor's safe mark, the time from which
// it may not have published what the lane heard (its last frame, or the
// start of a gap whose history it still awaited), back-filled as any gap.
// A predecessor whose mark is unknown (its key lapsed before this replica
// watched) leaves a gap from TTL plus BackfillMaxWait ago.

// LaneLeases shares a stream's lanes among replicas (package publish
// implements it on a NATS key-value bucket).
type LaneLeases interface {
	// SetLanes tells how many lanes the stream has.
	SetLanes(n int)
	// Acquire waits until this replica holds lane's lease; safe reports
	// the lane's safe mark for each renewal.
	Acquire(ctx context.Context, lane int, safe func() time.Time) (LaneLease, Predecessor, error)
	// TTL is a lease's life without renewal.
	TTL() time.Duration
}

// LaneLease is a lane's lease while held.
type LaneLease interface {
	// Lost is closed when the lane must stop reading.
	Lost() <-chan struct{}
	// Err says why it was lost.
	Err() error
	// Release gives the lease up once the lane stopped reading.
	Release()
}

// Predecessor is what is known of a lane's previous holder.
type Predecessor struct {
	// Existed: the lane had a holder.
	Existed bool
	// Safe is its last safe mark (zero if unknown).
	Safe time.Time
	// Replica names it (empty if unknown).
	Replica string
	// Until is when it may have published last (zero if unknown: any
	// time).
	Until time.Time
}

// leased holds the lane while its lease is held, again and again, until
// ctx ends or a permanent error.
func (l *lane) leased(ctx context.Context) error {
	s := l.s
	for {
		lease, before, err := s.cfg.Leases.Acquire(ctx, l.index, l.safeMark)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		l.inheritedUntil = time.Time{}
		if before.Existed {
			l.inheritedUntil = before.Until
			if l.inheritedUntil.IsZero() {
				l.inheritedUntil = time.Now() // unknown: as late as it could be
			}
		}
		switch now := time.Now(); {
		case before.Existed && !before.Safe.IsZero():
			l.gapFrom = before.Safe // where its last reader stopped
		case !s.cfg.ResumeFrom.IsZero():
			// Unknown (its reader died before this replica watched): where
			// the stream's last message says the bridge stopped.
			l.gapFrom = s.cfg.ResumeFrom.Add(-s.cfg.BackfillMaxWait)
		case before.Existed:
			l.gapFrom = now.Add(-s.cfg.Leases.TTL() - s.cfg.BackfillMaxWait)
		}
		if !l.gapFrom.IsZero() {
			l.heard.Store(l.gapFrom.UnixNano())
		} else {
			l.heard.Store(time.Now().UnixNano())
		}
		if before.Existed {
			s.log.Info("lane lease taken over from its earlier reader; back-filling since it stopped", "lane", l.index, "predecessor", before.Replica,
				"gap_from", formatTime(l.gapFrom))
		} else {
			s.log.Info("lane lease taken; reading the lane", "lane", l.index, "gap_from", formatTime(l.gapFrom))
		}
		s.reading.Add(1)
		hctx, stop := context.WithCancel(ctx)
		go func() {
			select {
			case <-lease.Lost():
			case <-hctx.Done():
			}
			stop()
		}()
		err = l.supervise(hctx)
		stop()
		s.reading.Add(-1)
		if ctx.Err() != nil {
			// The stream stops: the lease is released once what the lane
			// read is stored (the leases' owner closes them after the
			// pipeline drained), so a successor finds it in the store.
			return nil
		}
		// Lost (or handed over): what the lane read is stored first, as
		// far as the stream can wait for it; then its mark is final.
		if s.cfg.Settle != nil {
			s.cfg.Settle(ctx)
		}
		lease.Release()
		l.gapFrom = time.Time{}
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		s.log.Warn("lane lease lost; the lane stopped reading and waits for its lease again", "lane", l.index, "why", lease.Err())
	}
}

// safeMark is the time from which this replica may not have published
// what lane l heard: its last frame, or the start of a gap whose history
// it still awaits, whichever is earlier.
func (l *lane) safeMark() time.Time {
	mark := time.Unix(0, l.heard.Load())
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	for _, from := range l.gaps {
		if from.Before(mark) {
			mark = from
		}
	}
	return mark
}

// gapOpened and gapClosed keep lane l's gaps whose history is awaited,
// for its safe mark.
func (s *Stream) gapOpened(l *lane, id uint64, from time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l.gaps == nil {
		l.gaps = map[uint64]time.Time{}
	}
	l.gaps[id] = from
}

func (s *Stream) gapClosed(l *lane, id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(l.gaps, id)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// LanesRead is how many lanes this replica reads now: with leases, those
// whose lease it holds; without, every lane.
func (s *Stream) LanesRead() int {
	if s.cfg.Leases == nil {
		return s.Lanes()
	}
	return int(s.reading.Load())
}

// Healthy reports whether Genesys was heard from lately (a frame or a
// heartbeat on some lane). A replica that reads no lane, every lease held
// by others, is a standby: healthy.
func (s *Stream) Healthy() bool {
	if s.cfg.Leases != nil && s.reading.Load() == 0 {
		return true
	}
	return s.Feed.Healthy()
}
