// Package text holds the small string helpers every package of the bridge
// uses, once: bounding what goes into logs and errors, telling a safe
// token, keeping secrets out of URLs, and the eight-byte test of plain
// JSON string bytes the decoder and the encoder share. It imports only the
// standard library.
package text
