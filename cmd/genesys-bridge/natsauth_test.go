package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/genesys-bridge/genesys-bridge/internal/testkit"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "genesys-bridge test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a certificate for names (DNS names or IPs) signed by the
// CA, as a tls.Certificate and as PEM files of certificate and key.
func (ca *testCA) issue(t *testing.T, client bool, names ...string) (tls.Certificate, []byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair, certPEM, keyPEM
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Each way to authenticate and each TLS setting, against a real server
// configured for it: the bridge connects and provisions its streams with
// the right settings, and is refused (the log says why) with wrong ones.
func TestNATSAuthAndTLS(t *testing.T) {
	ca := newTestCA(t)
	srvCert, _, _ := ca.issue(t, false, "127.0.0.1", "localhost")
	_, clientCert, clientKey := ca.issue(t, true, "genesys-bridge")
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	caFile := writeFile(t, "ca.pem", ca.pem)
	certFile, keyFile := writeFile(t, "client.pem", clientCert), writeFile(t, "client-key.pem", clientKey)
	user, _ := nkeys.CreateUser()
	userPub, _ := user.PublicKey()
	userSeed, _ := user.Seed()
	other, _ := nkeys.CreateUser()
	otherSeed, _ := other.Seed()

	tlsServer := func(o *server.Options, mutual bool) {
		o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{srvCert}, MinVersion: tls.VersionTLS12}
		o.TLS = true
		if mutual {
			o.TLSConfig.ClientAuth, o.TLSConfig.ClientCAs, o.TLSVerify = tls.RequireAndVerifyClientCert, pool, true
		}
	}
	for _, tc := range []struct {
		name   string
		server func(*server.Options)
		good   map[string]string
		bad    map[string]string
		cause  string // of the bad settings, in the log
	}{
		{"user and password from a file", func(o *server.Options) { o.Username, o.Password = "bridge", "pa55-word" },
			map[string]string{"NATS_USER": "bridge", "NATS_PASSWORD_FILE": writeFile(t, "pw", []byte("pa55-word\n"))},
			map[string]string{"NATS_USER": "bridge", "NATS_PASSWORD": "wrong-password"}, "authorization"},
		{"token", func(o *server.Options) { o.Authorization = "t0ken-value" },
			map[string]string{"NATS_TOKEN": "t0ken-value"},
			map[string]string{"NATS_TOKEN_FILE": writeFile(t, "tok", []byte("not-the-token"))}, "authorization"},
		{"nkey seed", func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: userPub}} },
			map[string]string{"NATS_NKEY_SEED_FILE": writeFile(t, "user.nk", userSeed)},
			map[string]string{"NATS_NKEY_SEED_FILE": writeFile(t, "other.nk", otherSeed)}, "authorization"},
		{"TLS with a CA", func(o *server.Options) { tlsServer(o, false) },
			map[string]string{"NATS_TLS_CA_FILE": caFile},
			map[string]string{}, "TLS"},
		{"mutual TLS", func(o *server.Options) { tlsServer(o, true) },
			map[string]string{"NATS_TLS_CA_FILE": caFile, "NATS_TLS_CERT_FILE": certFile, "NATS_TLS_KEY_FILE": keyFile},
			// The server's alert, or its hanging up, depending on who reads first.
			map[string]string{"NATS_TLS_CA_FILE": caFile}, "TLS|closed"},
		{"TLS handshake first", func(o *server.Options) { tlsServer(o, false); o.TLSHandshakeFirst = true },
			map[string]string{"NATS_TLS_CA_FILE": caFile, "NATS_TLS_HANDSHAKE_FIRST": "true"},
			// Client and server each wait for the other to speak first:
			// whichever gives up first decides the cause.
			map[string]string{"NATS_TLS_CA_FILE": caFile}, "timeout|closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := server.Options{ServerName: "auth", Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(), NoLog: true}
			tc.server(&opts)
			ns := testkit.StartNode(t, opts)
			secrets := []string{"pa55-word", "wrong-password", "t0ken-value", "not-the-token", string(userSeed), string(otherSeed)}

			vars := map[string]string{"GENESYS_REGION": "eu-west-1", "GENESYS_CLIENT_ID": "id", "GENESYS_CLIENT_SECRET": "s",
				"GENESYS_QUEUE_IDS": "q1", "NATS_URL": ns.URL, "HTTP_ADDR": ""}
			with := func(extra map[string]string) *Config {
				v := map[string]string{}
				for k, x := range vars {
					v[k] = x
				}
				for k, x := range extra {
					v[k] = x
				}
				cfg, err := configFrom(v)
				if err != nil {
					t.Fatal(err)
				}
				return cfg
			}

			log, logs := testkit.Logger(t, slog.LevelInfo)
			out, closeSink, err := openSink(t.Context(), with(tc.good), log)
			if err != nil {
				t.Fatalf("with the right settings: %v\n%s", err, logs)
			}
			if _, err := out.js.LastStored(t.Context()); err != nil || out.dead == nil || !out.nc.IsConnected() {
				t.Fatalf("streams not provisioned over the connection: %v", err)
			}
			closeSink()

			// The wrong settings: refused, said so in the log, retried.
			blog, blogs := testkit.Logger(t, slog.LevelInfo)
			done := make(chan error, 1)
			bctx, bcancel := context.WithCancel(t.Context())
			go func() { done <- serve(bctx, with(tc.bad), blog, io.Discard) }()
			cause := regexp.MustCompile(`cause="?(` + tc.cause + `)`)
			testkit.Eventually(t, 10*time.Second, "a log line that NATS refused", func() bool {
				for _, line := range strings.Split(blogs.String(), "\n") {
					if strings.Contains(line, "NATS unreachable") && cause.MatchString(line) {
						return true
					}
				}
				return false
			})
			bcancel()
			<-done
			for _, line := range strings.Split(blogs.String(), "\n") {
				if strings.Contains(line, "NATS unreachable") {
					t.Log(line)
					break
				}
			}
			for _, s := range secrets {
				if strings.Contains(logs.String()+blogs.String(), s) {
					t.Errorf("a secret reached the log: %q", s)
				}
			}
		})
	}
}
