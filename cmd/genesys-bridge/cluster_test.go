package main

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// testCluster is a three-node JetStream cluster in this process; a node can
// be stopped and started again on its ports and store.
type testCluster struct {
	t     *testing.T
	mu    sync.Mutex
	opts  []*server.Options
	nodes []*server.Server
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	c := &testCluster{t: t}
	routePorts := make([]int, n)
	for i := range routePorts {
		routePorts[i] = freePort(t)
	}
	for i := range n {
		var routes []*url.URL
		for j, p := range routePorts {
			if j != i {
				routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
			}
		}
		c.opts = append(c.opts, &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: freePort(t),
			JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
			Cluster: server.ClusterOpts{Name: "genesys-test", Host: "127.0.0.1", Port: routePorts[i]},
			Routes:  routes,
		})
		c.nodes = append(c.nodes, nil)
	}
	for i := range n {
		c.start(i)
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.stop(i)
		}
	})
	return c
}

func (c *testCluster) start(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := *c.opts[i]
	s, err := server.NewServer(&o)
	if err != nil {
		c.t.Error(err)
		return
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		c.t.Errorf("node %d not ready", i+1)
		return
	}
	c.nodes[i] = s
}

func (c *testCluster) stop(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.nodes[i]; s != nil {
		s.Shutdown()
		s.WaitForShutdown()
		c.nodes[i] = nil
	}
}

func (c *testCluster) running(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i] != nil
}

// urls is the comma-separated client URLs of every node.
func (c *testCluster) urls() string {
	var out []string
	for _, o := range c.opts {
		out = append(out, fmt.Sprintf("nats://127.0.0.1:%d", o.Port))
	}
	return strings.Join(out, ",")
}
