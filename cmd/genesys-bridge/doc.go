// Command genesys-bridge streams Genesys Cloud conversation state changes
// into NATS JetStream as validated, deduplicated transitions.
//
// It wires the packages together: configuration from the environment over
// the packages' own defaults (config.go; -h prints every variable from the
// Config struct itself), NATS and the streams (nats.go: authentication,
// TLS, the dead letters), Genesys (source.go: either dialect, through the
// proxy and CAs of genesys.Transport), the pipeline, the audit log
// (audit.go), metrics and health (metrics.go, http.go). Flags: -demo (an
// embedded simulator and NATS server, no credentials), -check (each
// dependency tried once, a line per step), -version.
//
// Invariants: a bad setting stops start-up with exit code 2 and a message
// naming the variable; secrets (the client secret, NATS passwords and
// tokens, from the environment or *_FILE) never reach a log line, an error
// or -check's output; shutdown (SIGTERM) stops reading, waits for
// outstanding acknowledgements up to BRIDGE_SHUTDOWN_TIMEOUT and exits 0;
// a variable with the bridge's prefixes that nothing reads is warned
// about, never silently ignored.
//
// Not here: the domain rules (package bridge), Genesys's protocol (package
// genesys), JetStream mechanics (package publish).
package main
