package main

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/genesys-bridge/genesys-bridge/genesys/simulator"
	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// connectProxy is an HTTP CONNECT proxy that sends every tunnel for
// host:port to 127.0.0.1:port (the name resolves nowhere else) and counts
// the tunnels by target.
type connectProxy struct {
	ln      net.Listener
	mu      sync.Mutex
	tunnels map[string]int
}

func startConnectProxy(t *testing.T) *connectProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &connectProxy{ln: ln, tunnels: map[string]int{}}
	srv := &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return p
}

func (p *connectProxy) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	_, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	up, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	p.mu.Lock()
	p.tunnels[r.Host]++
	p.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		return
	}
	if n := rw.Reader.Buffered(); n > 0 {
		b, _ := rw.Reader.Peek(n)
		up.Write(b)
	}
	go func() { io.Copy(up, conn); up.Close() }()
	io.Copy(conn, up)
	conn.Close()
}

func (p *connectProxy) count(target string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tunnels[target]
}

// The bridge reaches Genesys through an HTTPS proxy from the environment,
// REST and WebSocket alike, trusting a CA from GENESYS_CA_FILE (a
// TLS-inspecting proxy's, say), with the client secret from a file; and,
// without the CA, says that the certificate is not trusted.
func TestGenesysThroughProxyWithCustomCA(t *testing.T) {
	ca := newTestCA(t)
	cert, _, _ := ca.issue(t, false, "genesys.test")
	sim, err := simulator.Start(simulator.Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Conversations: 30, Rate: 10,
		Speed: 1, StepScale: 0.03, Seed: testSeed(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(sim.URL, "https://"))
	target := "genesys.test:" + port
	proxy := startConnectProxy(t)
	ns := testkit.StartNATS(t)

	env := append(os.Environ(), "GENESYS_CLIENT_ID=sim-client", "GENESYS_CLIENT_SECRET=",
		"GENESYS_CLIENT_SECRET_FILE="+writeFile(t, "secret", []byte("sim-secret\n")),
		"GENESYS_API_URL=https://"+target, "GENESYS_LOGIN_URL=https://"+target,
		"GENESYS_QUEUE_IDS="+strings.Join(sim.Population().Queues, ","), "GENESYS_HEARTBEAT_INTERVAL=1s",
		"HTTPS_PROXY=http://"+proxy.ln.Addr().String(), "https_proxy=", "NO_PROXY=", "no_proxy=",
		"NATS_URL="+ns.URL, "HTTP_ADDR=")

	// Without the CA: the certificate is not trusted, and the log says so.
	untrusted := exec.Command(bridgeBinary(t))
	untrusted.Env = env
	var ulog testkit.LogBuffer
	untrusted.Stdout, untrusted.Stderr = &ulog, &ulog
	if err := untrusted.Start(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "an error about the certificate", func() bool {
		return strings.Contains(ulog.String(), "certificate signed by unknown authority")
	})
	untrusted.Process.Kill()
	untrusted.Wait()

	bridge := exec.Command(bridgeBinary(t))
	bridge.Env = append(env, "GENESYS_CA_FILE="+writeFile(t, "ca.pem", ca.pem))
	var blog testkit.LogBuffer
	bridge.Stdout, bridge.Stderr = &blog, &blog
	if err := bridge.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { bridge.Process.Kill(); bridge.Wait() }()
	nc, err := nats.Connect(ns.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	testkit.Eventually(t, time.Minute, "transitions published through the proxy", func() bool {
		return streamMsgs(t, js, "GENESYS_INTERACTIONS") >= 20
	})
	// genesys.test resolves nowhere (.test is reserved), so every frame
	// came through the proxy: REST (token, channel, subscriptions) and the
	// socket, two tunnels at least.
	if n := proxy.count(target); n < 2 {
		t.Errorf("%d tunnels through the proxy to %s, want REST and WebSocket", n, target)
	}
	if strings.Contains(blog.String(), "sim-secret") {
		t.Error("the client secret reached the log")
	}
}
