package genesys

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/gorilla/websocket"
)

// Transport is how the bridge reaches Genesys, REST and WebSocket alike:
// the certificate authorities it trusts, and the proxy the environment
// names (HTTPS_PROXY, NO_PROXY, as net/http reads them; requests to
// loopback addresses are never proxied).
type Transport struct {
	// RootCAs, if set, are the CAs trusted instead of the system's
	// (LoadCAFile adds a file's to the system's).
	RootCAs *x509.CertPool
}

func (t Transport) tlsConfig() *tls.Config {
	if t.RootCAs == nil {
		return nil
	}
	return &tls.Config{RootCAs: t.RootCAs, MinVersion: tls.VersionTLS12}
}

// HTTPClient is the client of REST and token calls: net/http's default
// transport (proxy from the environment) with the CAs, a 30s timeout.
func (t Transport) HTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = t.tlsConfig()
	return &http.Client{Timeout: 30 * time.Second, Transport: tr}
}

// Dialer is the WebSocket dialer: the proxy from the environment, the
// CAs, a 15s handshake timeout and a 64 KiB read buffer (one read syscall
// for hundreds of small frames).
func (t Transport) Dialer() *websocket.Dialer {
	return &websocket.Dialer{HandshakeTimeout: 15 * time.Second, Proxy: http.ProxyFromEnvironment, ReadBufferSize: 64 << 10,
		TLSClientConfig: t.tlsConfig()}
}

// LoadCAFile returns the system's CAs and the PEM certificates in path.
func LoadCAFile(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}
