package testkit

import (
	"bytes"
	"errors"
	"go/parser"
	"go/token"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/genesys-bridge/genesys-bridge/internal/embedded"
)

// LogBuffer is a log sink shared by goroutines.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Logger returns a text logger at level into a new buffer whose content is
// printed only if the test fails.
func Logger(t testing.TB, level slog.Level) (*slog.Logger, *LogBuffer) {
	buf := &LogBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: level})), buf
}

// Poll checks cond every 10ms until it holds or d passed, and reports
// whether it held.
func Poll(d time.Duration, cond func() bool) bool {
	return PollEvery(d, 10*time.Millisecond, cond)
}

// PollEvery is Poll checking every interval (a benchmark timing when a
// condition began to hold polls more often).
func PollEvery(d, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
	return true
}

// Eventually fails the test if cond does not hold within d.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(d, cond) {
		t.Fatalf("timed out after %s waiting for %s", d, what)
	}
}

// NATS is an embedded server that can be stopped and started again on the
// same port and store. It stops when the test ends.
type NATS struct {
	t    testing.TB
	opts server.Options
	// URL is the client URL (nats://127.0.0.1:port) and Addr its host:port;
	// both stay the same across restarts.
	URL, Addr string

	mu sync.Mutex
	s  *server.Server
}

// StartNATS starts a single JetStream node on a port the OS picks, with a
// store in a temporary directory.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	return StartNode(t, server.Options{ServerName: "test", Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(), NoLog: true})
}

// StartNode starts a server with opts. With opts.Port RANDOM_PORT (-1) the
// server picks its port; restarts then keep the port it picked.
func StartNode(t testing.TB, opts server.Options) *NATS {
	t.Helper()
	n := &NATS{t: t, opts: opts}
	if err := n.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	return n
}

func (n *NATS) start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.s != nil {
		return nil
	}
	s, err := embedded.Start(&n.opts)
	if err != nil {
		return err
	}
	n.s = s
	if n.Addr == "" {
		// The port the server picked, kept for restarts.
		a := s.Addr().(*net.TCPAddr)
		n.opts.Port = a.Port
		n.Addr = a.String()
		n.URL = "nats://" + n.Addr
	}
	return nil
}

// Start starts a stopped server again on its port and store; a failure
// fails the test (from any goroutine).
func (n *NATS) Start() {
	if err := n.start(); err != nil {
		n.t.Error(err)
	}
}

// Stop shuts the server down and waits until it is down.
func (n *NATS) Stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.s != nil {
		n.s.Shutdown()
		n.s.WaitForShutdown()
		n.s = nil
	}
}

// Restart stops and starts the server.
func (n *NATS) Restart() {
	n.Stop()
	n.Start()
}

// Running reports whether the server is up.
func (n *NATS) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.s != nil
}

// Server is the running server, nil while stopped.
func (n *NATS) Server() *server.Server {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.s
}

// Connect returns a client that reconnects forever, closed when the test
// ends.
func (n *NATS) Connect(t testing.TB) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(n.URL, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Receipt is a bridge.Receipt a test can wait on.
type Receipt struct {
	done      chan struct{}
	duplicate bool
	version   uint64
	err       error
}

// NewReceipt returns a Receipt not yet complete.
func NewReceipt() *Receipt { return &Receipt{done: make(chan struct{})} }

// Complete records the outcome (once).
func (r *Receipt) Complete(duplicate bool, version uint64, err error) {
	r.duplicate, r.version, r.err = duplicate, version, err
	close(r.done)
}

// Done is closed once the receipt is complete.
func (r *Receipt) Done() <-chan struct{} { return r.done }

// Err, Duplicate and Version are the outcome; valid after Done.
func (r *Receipt) Err() error      { return r.err }
func (r *Receipt) Duplicate() bool { return r.duplicate }
func (r *Receipt) Version() uint64 { return r.version }

// Wait waits up to d for the outcome and returns its error, or says that
// none came.
func (r *Receipt) Wait(d time.Duration) error {
	select {
	case <-r.done:
		return r.err
	case <-time.After(d):
		return errors.New("no acknowledgement within " + d.String())
	}
}

// Imports lists the packages the non-test Go files of dir import (once
// each), for the tests that hold a package to what it may import.
func Imports(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var out []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !seen[path] {
				seen[path] = true
				out = append(out, path)
			}
		}
	}
	return out
}

// ForbidImports fails the test for each import of dir under one of the
// forbidden path prefixes.
func ForbidImports(t testing.TB, dir string, forbidden ...string) {
	t.Helper()
	for _, path := range Imports(t, dir) {
		for _, f := range forbidden {
			if path == f || strings.HasPrefix(path, f+"/") {
				t.Errorf("%s imports %s, which it must never import", dir, path)
			}
		}
	}
}

// Poisoned returns data once per JSON string in it (member names and
// values alike), each time with bad bytes (not UTF-8) put at the start of
// that string.
func Poisoned(data string, bad string) []string {
	var out []string
	in := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case in && c == '\\':
			i++
		case c == '"' && !in:
			in = true
			out = append(out, data[:i+1]+bad+data[i+1:])
		case c == '"':
			in = false
		}
	}
	return out
}
