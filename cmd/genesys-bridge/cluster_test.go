package main

import (
	"fmt"
	"net"
	"os/exec"
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
	// A port chosen free can be taken by another process before the node
	// binds it: then the cluster starts over on new ports.
	var err error
	for range 3 {
		var c *testCluster
		if c, err = tryCluster(t, bin, n); err == nil {
			return c
		}
		t.Logf("starting the cluster again on other ports: %v", err)
	}
	t.Fatal(err)
	return nil
}

func tryCluster(t *testing.T, bin string, n int) (*testCluster, error) {
	ports := testkit.FreePorts(t, 2*n) // clients, then routes: all distinct
	clientPorts, routePorts := ports[:n], ports[n:]
	c := &testCluster{}
	for i := range n {
		var routes []string
		for j, p := range routePorts {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
			}
		}
		port := clientPorts[i]
		node := &natsProc{t: t, bin: bin, addr: fmt.Sprintf("127.0.0.1:%d", port), args: []string{
			"--name", fmt.Sprintf("n%d", i+1), "-a", "127.0.0.1", "-p", fmt.Sprint(port),
			"-js", "-sd", t.TempDir(),
			"--cluster_name", "genesys-test", "--cluster", fmt.Sprintf("nats://127.0.0.1:%d", routePorts[i]),
			"--routes", strings.Join(routes, ","),
		}}
		node.URL = "nats://" + node.addr
		c.nodes = append(c.nodes, node)
	}
	for _, node := range c.nodes {
		if err := node.start(); err != nil {
			c.stopAll()
			return nil, err
		}
	}
	// A node whose route port was taken exits when it tries to listen for
	// routes, after it accepted clients: wait until every node listens.
	if !testkit.Poll(5*time.Second, func() bool {
		for _, node := range c.nodes {
			if !strings.Contains(node.out.String(), "Listening for route connections") {
				return false
			}
		}
		return true
	}) || c.anyExited() {
		c.stopAll()
		return nil, fmt.Errorf("a node did not listen for routes")
	}
	for _, node := range c.nodes {
		t.Cleanup(node.Stop)
	}
	return c, nil
}

func (c *testCluster) stopAll() {
	for _, n := range c.nodes {
		n.Stop()
	}
}

// anyExited reports whether a node's process has ended.
func (c *testCluster) anyExited() bool {
	for _, n := range c.nodes {
		n.mu.Lock()
		done := n.done
		n.mu.Unlock()
		select {
		case <-done:
			return true
		default:
		}
	}
	return false
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

// natsProc is a nats-server process; its ports and store stay the same
// across restarts.
type natsProc struct {
	t    *testing.T
	bin  string
	args []string
	addr string
	URL  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exited
	out  *lineLog
}

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
	cmd := exec.Command(n.bin, n.args...)
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
		c, err := net.DialTimeout("tcp", n.addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if exited || !ok {
		n.cmd = nil
		return fmt.Errorf("nats-server %s did not start (exited: %v):\n%s", n.addr, exited, n.out)
	}
	return nil
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
