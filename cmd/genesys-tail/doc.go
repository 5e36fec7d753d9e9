// Command genesys-tail prints what genesys-bridge publishes, one line per
// transition (or per completed interaction's timings, or per agent's
// transition): the consume package's example program.
//
// What it does not: it never acknowledges on behalf of another reader
// unless -durable names one, and never changes the stream.
//
//	go run ./cmd/genesys-tail -channels voice -queue <queue id> -all
//	go run ./cmd/genesys-tail -timings -since 15m
//	go run ./cmd/genesys-tail -agents -routing not_responding,off_queue
//
// It reads NATS_URL (default nats://127.0.0.1:4222), NATS_CREDS and the
// bridge's NATS_STREAM, NATS_SUBJECT_PREFIX and
// NATS_TIMINGS_SUBJECT_PREFIX, and stops on Ctrl-C.
package main
