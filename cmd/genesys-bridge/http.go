package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/board"
	"github.com/genesys-bridge/genesys-bridge/genesys"
)

// serveOn serves h on addr until stop is called; name is the variable
// that configured addr, for errors and the log.
func serveOn(name, addr string, h http.Handler, log *slog.Logger) (stop func(), bound string, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", configErr("%s: cannot listen on %s: %w", name, addr, err)
	}
	// No write timeout: a CPU profile or a trace streams for as long as
	// it was asked (30 s by default).
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "variable", name, "err", err)
		}
	})
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		wg.Wait()
	}, ln.Addr().String(), nil
}

func serveHTTP(addr string, m *metrics, nc *nats.Conn, stream source, live *board.Board, access board.Access, log *slog.Logger) (stop func(), bound string, err error) {
	mux := http.NewServeMux()
	mux.Handle("/", m.handler(nc, stream))
	if live != nil {
		mux.Handle("/board/", board.Guard(http.StripPrefix("/board", live.Handler()), access))
	}
	stop, bound, err = serveOn("HTTP_ADDR", addr, mux, log)
	if err != nil {
		return nil, "", err
	}
	log.Info("serving /healthz, /readyz and /metrics", "addr", bound)
	if live != nil {
		switch {
		case access.Open():
			log.Info("serving the live board", "url", boardURL(bound), "access",
				"loopback clients only (no BOARD_TOKEN_FILE or BOARD_BASIC_AUTH_FILE configured; kubectl port-forward is loopback)")
		case access.Token != "" && access.User != "":
			log.Info("serving the live board", "url", boardURL(bound), "access", "a bearer token or basic credentials")
		case access.Token != "":
			log.Info("serving the live board", "url", boardURL(bound), "access", "a bearer token")
		default:
			log.Info("serving the live board", "url", boardURL(bound), "access", "basic credentials")
		}
	}
	return stop, bound, nil
}

// servePprof serves Go's profiler on addr (PPROF_ADDR): its own mux, so
// nothing of it reaches HTTP_ADDR.
func servePprof(addr string, log *slog.Logger) (stop func(), err error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // heap, goroutine, allocs, block, mutex, threadcreate by name
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	stop, bound, err := serveOn("PPROF_ADDR", addr, mux, log)
	if err != nil {
		return nil, err
	}
	url := "http://" + bound + "/debug/pprof/"
	if host, _, _ := net.SplitHostPort(bound); net.ParseIP(host).IsLoopback() {
		log.Info("serving Go's profiler on loopback", "url", url)
	} else {
		log.Warn("serving Go's profiler beyond loopback: whoever reaches it reads the process's stacks and memory profile; bind PPROF_ADDR to 127.0.0.1", "url", url)
	}
	return stop, nil
}

// boardURL is the board's address on a listener bound to addr (a wildcard
// host is shown as 127.0.0.1).
func boardURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr + "/board/"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/board/"
}

// startBoard runs the live board on the stream until ctx ends or stop is
// called (stop returns once it stopped reading); queue names come from
// Genesys's routing API.
func startBoard(ctx context.Context, cfg *Config, nc *nats.Conn, clients []*genesys.Client, log *slog.Logger) (b *board.Board, stop func(), err error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, nil, fmt.Errorf("board: %w", err)
	}
	b = board.New(cfg.boardConfig(queueNames{clients}, log))
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { b.Run(ctx, js) })
	return b, func() { cancel(); wg.Wait() }, nil
}

// queueNames are Genesys's queue and user names for the board, from the
// first OAuth client whose login is not refused: a missing permission or
// an unknown id is board.ErrNoName.
type queueNames struct{ clients []*genesys.Client }

func (q queueNames) QueueName(ctx context.Context, id string) (string, error) {
	return q.name(ctx, func(c *genesys.Client) (string, error) { return c.QueueName(ctx, id) })
}

func (q queueNames) UserName(ctx context.Context, id string) (string, error) {
	return q.name(ctx, func(c *genesys.Client) (string, error) { return c.UserName(ctx, id) })
}

func (q queueNames) name(ctx context.Context, get func(*genesys.Client) (string, error)) (string, error) {
	var name string
	var err error
	for _, c := range q.clients {
		if name, err = get(c); !errors.Is(err, genesys.ErrBadCredentials) || ctx.Err() != nil {
			break
		}
	}
	return noName(name, err)
}

func noName(name string, err error) (string, error) {
	if genesys.IsDenied(err) || genesys.IsNotFound(err) {
		err = fmt.Errorf("%w: %w", board.ErrNoName, err)
	}
	return name, err
}
