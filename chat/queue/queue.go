// Package queue is the unbounded FIFO between the broker and a writer.
//
// The async-std tutorial gives each writer an unbounded channel, so the
// broker never waits for a slow client. A Go channel has a fixed capacity:
// once a slow client's channel is full, a send blocks the broker, and with it
// every other client. Queue keeps the tutorial's design: Push never blocks.
// Chapter slow bounds the memory with Len: it evicts a client whose queue
// has grown too long, instead of blocking anyone.
//
// Queue follows a channel's rules where it can, so the chapters read as if it
// were one:
//   - one owner pushes and closes, and closes once, after its last push;
//     Push or Close after Close panics, as a send on a closed channel does;
//   - one consumer takes, until Next reports the queue closed and empty,
//     as "for v := range ch" does.
//
// Next hands over everything queued at once, so a writer can write a batch
// and flush once per batch instead of once per message.
package queue

import "sync"

// Queue is an unbounded FIFO of values of type T. Create it with New.
type Queue[T any] struct {
	mu     sync.Mutex
	items  []T  // pushed and not yet taken
	closed bool // Close has been called

	// ready holds a token while there is something for the consumer to see:
	// items, or the close. Push and Close put one in, holding mu; Next takes
	// it out with the items, holding mu. Buffered (1): putting a token in
	// never blocks, and a token put in before the consumer waits is not lost.
	ready chan struct{}
}

// New returns an empty, open queue.
func New[T any]() *Queue[T] {
	return &Queue[T]{ready: make(chan struct{}, 1)}
}

// Push appends v. It never blocks. It panics if the queue is closed.
func (q *Queue[T]) Push(v T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		panic("queue: push on closed queue")
	}
	q.items = append(q.items, v)
	q.signalLocked()
}

// Close tells the consumer that nothing more will be pushed. What was pushed
// before is still handed over by Next. It panics if the queue is closed.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		panic("queue: close of closed queue")
	}
	q.closed = true
	q.signalLocked()
}

func (q *Queue[T]) signalLocked() {
	select {
	case q.ready <- struct{}{}:
	default: // a token is there already
	}
}

// Ready returns a channel that delivers a value when Next would not block.
// It is for a consumer that must select on the queue and something else.
func (q *Queue[T]) Ready() <-chan struct{} {
	return q.ready
}

// Next waits until the queue holds something or is closed, then returns
// everything it holds, in order. ok is false once the queue is closed and
// everything pushed has been taken. Only one goroutine may call Next.
//
// done is the batch the previous call returned, as it was returned, or nil:
// the consumer is done with it. Next empties it, and the queue keeps its memory for what is pushed
// next: the queue and its consumer swap two buffers instead of allocating.
func (q *Queue[T]) Next(done []T) (batch []T, ok bool) {
	// Drop the references to what the consumer wrote out, so that they can be
	// collected; outside the lock, which the broker is waiting to push with.
	clear(done)
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			batch, q.items = q.items, done[:0]
			q.takeTokenLocked()
			q.mu.Unlock()
			return batch, true
		}
		if q.closed {
			q.mu.Unlock()
			return nil, false // the token stays (see takeTokenLocked)
		}
		q.mu.Unlock()
		<-q.ready // wait for a Push or the Close
	}
}

func (q *Queue[T]) takeTokenLocked() {
	if q.closed {
		return // a closed queue is always ready: Next returns at once
	}
	select {
	case <-q.ready:
	default:
	}
}

// Len returns how many values are queued and not yet taken.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}
