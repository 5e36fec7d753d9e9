package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// testCluster is a three-node (or n-node) JetStream cluster whose nodes
// run as processes of their own: a nats-server binary built from the
// module's nats-server, without the race detector. (In this process,
// -race reports nats-server's own races in clustered compare-and-set: a
// map read unlocked in applyStreamMsgOp, in v2.15.2 and v2.15.3; they
// are not the bridge's to fix and made the suite fail at random.) A node
// can be stopped and started again on its ports and store.
type testCluster struct {
	nodes []*natsProc
}

func startCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	bin := builtBinary(t, "github.com/nats-io/nats-server/v2", "nats-server")
	c := &testCluster{}
	// Each node picks its ports on its first start and keeps them; it
	// routes to the nodes started before it (gossip joins the rest), and
	// after a restart to every other node. JetStream refuses to start a
	// clustered node without a route: the first node starts once with a
	// route to nothing, to learn its ports, then again with a route to
	// itself (ignored) until the others route to it.
	for i := range n {
		node := &natsProc{t: t, bin: bin, name: fmt.Sprintf("n%d", i+1), store: t.TempDir(), peers: c.nodes}
		err := node.start()
		if err == nil && i == 0 {
			node.Stop()
			err = node.start()
		}
		if err != nil {
			c.stopAll()
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, node)
	}
	for _, node := range c.nodes {
		node.peers = c.others(node)
		t.Cleanup(node.Stop)
	}
	return c
}

// others is every node but n.
func (c *testCluster) others(n *natsProc) []*natsProc {
	var out []*natsProc
	for _, o := range c.nodes {
		if o != n {
			out = append(out, o)
		}
	}
	return out
}

func (c *testCluster) stopAll() {
	for _, n := range c.nodes {
		n.Stop()
	}
}

func (c *testCluster) start(i int)        { c.nodes[i].Start() }
func (c *testCluster) stop(i int)         { c.nodes[i].Stop() }
func (c *testCluster) running(i int) bool { return c.nodes[i].Running() }

// urls is the comma-separated client URLs of every node.
func (c *testCluster) urls() string {
	var out []string
	for _, n := range c.nodes {
		out = append(out, n.URL)
	}
	return strings.Join(out, ",")
}

// natsProc is a nats-server process; it picks its client and route
// ports on its first start, and keeps them and its store across restarts.
type natsProc struct {
	t     *testing.T
	bin   string
	name  string
	store string
	peers []*natsProc // routed to, once their route port is known

	mu sync.Mutex
	// URL is the client URL; URL and routeURL are set on the first start.
	URL, routeURL string
	cmd           *exec.Cmd
	done          chan struct{} // closed when cmd exited
	out           *lineLog
}

var (
	clientListen = regexp.MustCompile(`Listening for client connections on (\S+)`)
	routeListen  = regexp.MustCompile(`Listening for route connections on (\S+)`)
)

// Start starts the node (if stopped) and waits until it accepts clients;
// a failure fails the test (from any goroutine).
func (n *natsProc) Start() {
	if err := n.start(); err != nil {
		n.t.Error(err)
	}
}

func (n *natsProc) start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return nil
	}
	port, cluster := "-1", "nats://127.0.0.1:-1"
	if n.URL != "" {
		port, cluster = strings.TrimPrefix(n.URL, "nats://127.0.0.1:"), n.routeURL
	}
	args := []string{"--name", n.name, "-a", "127.0.0.1", "-p", port, "-js", "-sd", n.store,
		"--cluster_name", "genesys-test", "--cluster", cluster}
	var routes []string
	for _, p := range n.peers {
		if r := p.route(); r != "" {
			routes = append(routes, r)
		}
	}
	switch {
	case len(routes) == 0 && n.routeURL != "":
		routes = []string{n.routeURL}
	case len(routes) == 0:
		routes = []string{"nats://127.0.0.1:1"} // nothing listens on port 1
	}
	args = append(args, "--routes", strings.Join(routes, ","))
	cmd := exec.Command(n.bin, args...)
	n.out = &lineLog{}
	cmd.Stdout, cmd.Stderr = n.out, n.out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start nats-server: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	n.cmd, n.done = cmd, done
	exited := false
	ok := testkit.Poll(30*time.Second, func() bool {
		select {
		case <-done:
			exited = true
			return true
		default:
		}
		return n.out.find(clientListen) != nil && n.out.find(routeListen) != nil
	})
	if exited || !ok {
		n.cmd = nil
		return fmt.Errorf("nats-server %s did not start (exited: %v):\n%s", n.name, exited, n.out)
	}
	if n.URL == "" {
		n.URL = "nats://" + n.out.find(clientListen)[1]
		n.routeURL = "nats://" + n.out.find(routeListen)[1]
	}
	return nil
}

// route is the node's route URL, "" before its first start.
func (n *natsProc) route() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.routeURL
}

// Stop shuts the node down (SIGTERM, then SIGKILL after 30 s) and waits
// until it has exited.
func (n *natsProc) Stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(30 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.done
	}
	n.cmd = nil
}

// Running reports whether the node is up.
func (n *natsProc) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd != nil
}
