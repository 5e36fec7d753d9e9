package main

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// testCluster is a JetStream cluster in this process; a node can be
// stopped and started again on its ports and store.
type testCluster struct {
	nodes []*testkit.NATS
}

func startCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	routePorts := make([]int, n)
	for i := range routePorts {
		routePorts[i] = testkit.FreePort(t)
	}
	c := &testCluster{}
	for i := range n {
		var routes []*url.URL
		for j, p := range routePorts {
			if j != i {
				routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
			}
		}
		c.nodes = append(c.nodes, testkit.StartNode(t, server.Options{
			ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: testkit.FreePort(t),
			JetStream: true, StoreDir: t.TempDir(), NoLog: true,
			Cluster: server.ClusterOpts{Name: "genesys-test", Host: "127.0.0.1", Port: routePorts[i]},
			Routes:  routes,
		}))
	}
	return c
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
