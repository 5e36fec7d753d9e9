// Package text holds the small string helpers every package of the bridge
// uses, once: bounding what goes into logs and errors, telling a safe
// token, and keeping secrets out of URLs. It imports only the standard
// library.
package text
