// Package testkit is what the tests of every package share: embedded NATS
// servers (one node that can be stopped and restarted on its port and
// store, or the nodes of a cluster), log capture shown only when a test
// fails, and polling for a condition with a deadline (never a fixed
// sleep). Only tests import it.
package testkit
