package publish

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/internal/retry"
)

// kvWatch keeps a view of a key-value bucket (the keys matching filter,
// all if empty): seen gets every entry (the bucket's state first, then each
// change), synced is called once the state is delivered, and when the
// watch ends (the server went away for longer than the client's
// subscription survives) it is watched again after every wait, reset
// clearing the view first. It returns when ctx ends.
func kvWatch(ctx context.Context, kv jetstream.KeyValue, filter string, wait time.Duration, log *slog.Logger,
	seen func(jetstream.KeyValueEntry), synced, reset func()) {
	first := true
	for {
		w, err := watchOf(ctx, kv, filter)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("watching a key-value bucket failed; retrying", "bucket", kv.Bucket(), "err", err)
			if !retry.Sleep(ctx, wait) {
				return
			}
			continue
		}
		if !first {
			reset()
		}
		first = false
		drainWatch(ctx, w, seen, synced)
		if !retry.Sleep(ctx, wait) {
			return
		}
	}
}

func watchOf(ctx context.Context, kv jetstream.KeyValue, filter string) (jetstream.KeyWatcher, error) {
	if filter == "" {
		return kv.WatchAll(ctx)
	}
	return kv.Watch(ctx, filter)
}

// drainWatch hands w's entries to seen until w or ctx ends.
func drainWatch(ctx context.Context, w jetstream.KeyWatcher, seen func(jetstream.KeyValueEntry), synced func()) {
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			switch {
			case !ok:
				return
			case e == nil: // the bucket's state is all delivered
				synced()
			default:
				seen(e)
			}
		}
	}
}

// provisionKV creates (or reuses) a key-value bucket, retried while
// JetStream is not ready (a cluster electing, replicas starting at once)
// with the bridge's retry policy, each attempt bounded by 10s, until ctx
// ends.
func provisionKV(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig, log *slog.Logger) (jetstream.KeyValue, error) {
	var kv jetstream.KeyValue
	err := retry.Policy{Base: time.Second, Max: 30 * time.Second}.Do(ctx, time.Time{}, func(ctx context.Context) error {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		var err error
		kv, err = js.CreateOrUpdateKeyValue(actx, cfg)
		return err
	}, func(a retry.Attempt) {
		log.Warn("key-value bucket not ready; retrying", "bucket", cfg.Bucket, "err", a.Err, "attempt", a.N, "wait", a.Wait.String())
	})
	return kv, err
}
