package simulator

import (
	"context"
	"errors"
	"net"
	"sync"
)

// MemNet is an in-memory network of one listener: Dial returns one end of
// a net.Pipe and Accept the other. Everything blocks on channels, so a
// simulator and a client on a MemNet run inside a testing/synctest bubble,
// where hours of simulated time pass in seconds.
type MemNet struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

// NewMemNet returns a MemNet; use it as Config.Listener and as the
// client's dialer.
func NewMemNet() *MemNet {
	return &MemNet{conns: make(chan net.Conn), closed: make(chan struct{})}
}

type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return "sim.test" }

// Accept implements net.Listener.
func (m *MemNet) Accept() (net.Conn, error) {
	select {
	case c := <-m.conns:
		return c, nil
	case <-m.closed:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener.
func (m *MemNet) Close() error {
	m.once.Do(func() { close(m.closed) })
	return nil
}

// Addr implements net.Listener.
func (m *MemNet) Addr() net.Addr { return memAddr{} }

// DialContext connects to the listener, whatever the address.
func (m *MemNet) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case m.conns <- server:
		return client, nil
	case <-m.closed:
		return nil, errors.New("memnet: listener closed")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
