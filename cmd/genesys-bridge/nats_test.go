package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// With NATS unreachable, the first log line says so within a few seconds,
// naming the servers and the cause, and the bridge keeps trying.
func TestNATSUnreachableIsNamed(t *testing.T) {
	stopped := testkit.StartNATS(t) // its port refuses once it stopped
	stopped.Stop()
	for _, tc := range []struct {
		name, url, cause string
	}{
		{"refused", stopped.URL, "connection refused"},
		{"dns", "nats://no-such-host.invalid:4222", "DNS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := configFrom(map[string]string{
				"GENESYS_REGION": "eu-west-1", "GENESYS_CLIENT_ID": "id", "GENESYS_CLIENT_SECRET": "s",
				"GENESYS_QUEUE_IDS": "q1", "NATS_URL": tc.url, "HTTP_ADDR": "",
			})
			if err != nil {
				t.Fatal(err)
			}
			log, logs := testkit.Logger(t, slog.LevelInfo)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- serve(ctx, cfg, log, io.Discard) }()
			testkit.Eventually(t, 5*time.Second, "a log line naming the server and the cause", func() bool {
				for _, line := range strings.Split(logs.String(), "\n") {
					if strings.Contains(line, "NATS unreachable") && strings.Contains(line, tc.url) && strings.Contains(line, tc.cause) {
						return true
					}
				}
				return false
			})
			select {
			case err := <-done:
				t.Fatalf("run gave up: %v", err)
			default:
			}
			cancel()
			<-done
		})
	}
}

func TestNATSCause(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nats.ErrAuthorization, "authorization"},
		{fmt.Errorf("connect: %w", nats.ErrAuthExpired), "authorization"},
		{nats.ErrSecureConnRequired, "TLS"},
		// What the client says when the server hangs up right after the
		// handshake (mutual TLS without a client certificate).
		{fmt.Errorf("%w: connection closed by remote after TLS handshake: %w", nats.ErrTLS, syscall.EPIPE), "TLS"},
		{tls.RecordHeaderError{Msg: "tls: first record does not look like a TLS handshake"}, "TLS"},
		{&net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")}, "TLS"},
		{fmt.Errorf("read: %w", io.EOF), "closed"},
		{errors.New("something else"), "other"},
	} {
		if got := natsCause(tc.err); !strings.HasPrefix(got, tc.want) {
			t.Errorf("natsCause(%v) = %q, want %s...", tc.err, got, tc.want)
		}
	}
}
