package publish

import (
	"context"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// The publishes in flight have one owner: the goroutine that runs own.
// Everyone else sends it messages (ops, a queue it empties a batch at a
// time): Publish its new publishes, the acknowledgement subscription its
// replies, an ended context its abort, the retry goroutine the end of a
// batch, Close its close. It alone registers a publish, sends it, matches
// its acknowledgement, sweeps the late ones, fails what a disconnect left
// in flight, and hands failures to the retry goroutine, which owns a
// publish from then until it settles it. No lock guards the flight.

type opKind uint8

const (
	opSend    opKind = iota // p, from Publish (it holds a room token)
	opReply                 // reply to token, from the subscription
	opAbort                 // ctx ended: fail what is in flight under it
	opRetried               // the retry goroutine settled n publishes
	opClose                 // from Close
)

type op struct {
	kind  opKind
	p     *inflight
	token uint64
	reply *nats.Msg
	ctx   context.Context
	n     int
}

// owner is the state only own's goroutine touches.
type owner struct {
	j        *JetStream
	inflight flights
	seq      uint64 // the last reply token's generation
	// aborts are the contexts an abort is registered for (once each, not
	// per publish); watched is the last one, a fast path.
	aborts   map[context.Context]struct{}
	watched  context.Context
	failed   []failure // for the retry goroutine, in the order they failed
	retrying int       // handed to it and not yet settled
	closing  bool
}

// own runs the owner until Close, once nothing is in flight or retrying.
func (j *JetStream) own(status chan nats.Status) {
	defer j.nc.RemoveStatusListener(status)
	o := &owner{j: j, aborts: map[context.Context]struct{}{}}
	tick := time.NewTicker(max(j.cfg.AckTimeout/4, 10*time.Millisecond))
	defer tick.Stop()
	var batch []op
	for !(o.closing && o.inflight.n == 0 && o.retrying == 0 && len(o.failed) == 0) {
		var toRetry chan<- []failure
		if len(o.failed) > 0 {
			toRetry = j.toRetry
		}
		select {
		case <-j.ops.Ready():
			batch, _ = j.ops.Take(batch)
			now := time.Now() // one clock read per batch
			for i := range batch {
				o.handle(&batch[i], now)
			}
			clear(batch)
		case toRetry <- o.failed:
			o.retrying += len(o.failed)
			o.failed = nil
		case _, ok := <-status:
			if !ok {
				status = nil
				continue
			}
			// Disconnected: acknowledgements of what is in flight may never
			// come; the retry sends each again with the same id.
			o.failWhere(nats.ErrDisconnected, func(*inflight) bool { return true })
		case now := <-tick.C:
			limit := now.Add(-j.cfg.AckTimeout)
			o.failWhere(errAckTimeout, func(p *inflight) bool { return p.sent.Before(limit) })
		}
	}
	// Closed and settled: refuse what comes now, and end the retries.
	j.ops.Close()
	close(j.done)
	// Closed, the queue takes no more: what it holds is taken, then Take
	// reports the end.
	for ended := false; !ended; {
		batch, ended = j.ops.Take(batch)
		for i := range batch {
			if op := &batch[i]; op.kind == opSend {
				<-j.room
				j.settle(op.p, false, 0, ErrClosed)
			}
		}
	}
	close(j.toRetry)
}

func (o *owner) handle(op *op, now time.Time) {
	switch op.kind {
	case opSend:
		if o.closing {
			<-o.j.room
			o.j.settle(op.p, false, 0, ErrClosed)
			return
		}
		o.send(op.p, now)
	case opReply:
		if p := o.take(op.token); p != nil {
			o.acknowledged(p, op.reply)
		} // else failed already (late, or the connection dropped): the retry settles it
	case opAbort:
		delete(o.aborts, op.ctx)
		if o.watched == op.ctx {
			o.watched = nil
		}
		o.failWhere(op.ctx.Err(), func(p *inflight) bool { return p.ctx == op.ctx })
	case opRetried:
		o.retrying -= op.n
	case opClose:
		o.closing = true
	}
}

// send registers p under a new reply token and sends it.
func (o *owner) send(p *inflight, now time.Time) {
	j := o.j
	if ctx := p.ctx; ctx != o.watched {
		// One abort per context, not per message (nor per switch between
		// the transitions' and the dead letters' contexts): when it ends,
		// what is still in flight under it fails at once.
		o.watched = ctx
		if _, ok := o.aborts[ctx]; !ok && ctx.Done() != nil {
			o.aborts[ctx] = struct{}{}
			context.AfterFunc(ctx, func() { j.ops.Push(context.Background(), op{kind: opAbort, ctx: ctx}) })
		}
	}
	p.sent = now
	o.seq++
	token := o.inflight.put(p, o.seq)
	// The reply subject is written into p's own buffer: valid for this
	// use only, which is all the client needs (it copies what it sends).
	start := len(p.buf)
	p.buf = strconv.AppendUint(append(p.buf, j.replyPrefix...), token, 36)
	p.msg.Reply = p.text(start)
	if err := j.nc.PublishMsg(p.msg); err != nil {
		o.fail(o.take(token), err)
	}
}

// take removes the publish under token from the flight (giving its room
// back), or returns nil if none is.
func (o *owner) take(token uint64) *inflight {
	p := o.inflight.take(token)
	if p != nil {
		<-o.j.room
	}
	return p
}

// failWhere hands every publish in flight that match matches to the retry
// goroutine with err.
func (o *owner) failWhere(err error, match func(*inflight) bool) {
	for _, p := range o.inflight.slots {
		if p != nil && match(p) {
			o.fail(o.take(p.token), err)
		}
	}
}

// fail queues p, out of the flight, for the retry goroutine.
func (o *owner) fail(p *inflight, err error) {
	o.failed = append(o.failed, failure{p, err})
}
