// Command genesys-sim runs the Genesys Cloud simulator on its own: OAuth,
// notification channels, subscriptions and the socket on loopback, with
// generated conversations. Point a bridge at it with GENESYS_API_URL and
// GENESYS_LOGIN_URL.
//
// It is the simulator of package genesys/simulator behind flags; what the
// simulator promises (each source sends only the fields the real one
// carries, with its gaps, lags and clock differences) is documented there.
// It is a test and demo tool, not a Genesys replacement.
package main
