package handoff

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// Every item pushed by several producers is taken once, each producer's
// in order, through pushes that had to wait for room.
func TestOrderAndCompleteness(t *testing.T) {
	const producers, each = 4, 10_000
	q := New[[2]int](16)
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range each {
				if !q.Push(context.Background(), [2]int{p, i}) {
					t.Error("push failed on an open queue")
					return
				}
			}
		})
	}
	go func() { wg.Wait(); q.Close() }()
	next := make([]int, producers)
	var batch [][2]int
	for {
		var ended bool
		batch, ended = q.Take(batch)
		if ended {
			break
		}
		if len(batch) > 16 {
			t.Fatalf("a batch of %d from a queue of 16", len(batch))
		}
		if len(batch) == 0 {
			<-q.Ready()
			continue
		}
		for _, v := range batch {
			if v[1] != next[v[0]] {
				t.Fatalf("producer %d: got item %d, want %d", v[0], v[1], next[v[0]])
			}
			next[v[0]]++
		}
	}
	for p, n := range next {
		if n != each {
			t.Fatalf("producer %d: %d items taken, want %d", p, n, each)
		}
	}
}

func TestBackpressureAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := New[int](2)
		if !q.TryPush(1) || !q.TryPush(2) || q.TryPush(3) {
			t.Fatal("TryPush: want two accepted, the third refused")
		}
		pushed := make(chan bool)
		go func() { pushed <- q.Push(context.Background(), 3) }()
		synctest.Wait()
		select {
		case <-pushed:
			t.Fatal("Push did not wait on a full queue")
		default:
		}
		if b, _ := q.Take(nil); len(b) != 2 || b[0] != 1 || b[1] != 2 {
			t.Fatalf("took %v, want [1 2]", b)
		}
		if !<-pushed {
			t.Fatal("Push failed after room was made")
		}

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		q.TryPush(4)
		if q.Push(ctx, 5) {
			t.Fatal("Push on a full queue succeeded")
		}
		q.Close()
		if q.TryPush(6) || q.Push(context.Background(), 6) {
			t.Fatal("pushed to a closed queue")
		}
		b, ended := q.Take(nil)
		if ended || len(b) != 2 || b[0] != 3 || b[1] != 4 {
			t.Fatalf("after Close took %v (ended %v), want [3 4] first", b, ended)
		}
		if _, ended := q.Take(b); !ended {
			t.Fatal("Take did not report the end")
		}
		select {
		case <-q.Ready():
		default:
			t.Fatal("no Ready token after Close")
		}
	})
}
