package wsock

import (
	"context"
	"errors"
	"time"

	"github.com/genesys-bridge/genesys-bridge/internal/retry"
)

// ErrReconnectNow ends a session that should be replaced at once, without
// backoff (the interactions stream closed it for an expired token).
var ErrReconnectNow = errors.New("reconnect at once")

// Supervise is the one reconnect loop of both dialects. It runs session
// after session until ctx ends (nil) or one fails permanently (that
// error). After a session ends it waits the policy's backoff, counted
// from the first of a run of failures; a session that lasted healthyAfter
// starts the count over. lost reports each end with the wait ahead.
func Supervise(ctx context.Context, policy retry.Policy, healthyAfter time.Duration, permanent func(error) bool,
	session func(ctx context.Context) error, lost func(err error, attempt int, wait time.Duration)) error {
	b := policy.Backoff()
	for {
		started := time.Now()
		err := session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if permanent(err) {
			return err
		}
		if time.Since(started) > healthyAfter {
			b.Reset()
		}
		attempt, wait := 0, time.Duration(0)
		if !errors.Is(err, ErrReconnectNow) {
			attempt, wait = b.Next()
		}
		lost(err, attempt, wait)
		if !retry.Sleep(ctx, wait) {
			return nil
		}
	}
}
