// Package embedded starts nats-server in this process: the one way the
// bridge (StartJetStream, for -demo and an empty NATS_URL) and the
// tests (internal/testkit, single nodes and clusters) run a server.
package embedded
