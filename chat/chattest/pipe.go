package chattest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// The helpers below are the ones every chapter's own tests share, so that a
// chapter's server_test.go holds its tests, not copies of their plumbing.

// ServePipe serves srv on an in-memory listener, for tests inside a
// testing/synctest bubble. The channel gets what Serve returns.
func ServePipe(srv Server) (*PipeListener, <-chan error) {
	l := NewPipeListener()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }() // ends once Shutdown begins
	return l, served
}

// ShutdownAsync starts srv.Shutdown(ctx) and returns the channel that gets
// its result.
func ShutdownAsync(srv Server, ctx context.Context) <-chan error {
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(ctx) }() // ends when the drain has
	return done
}

// OnLog is a slog.Handler that closes Seen when Msg is logged: a test waits
// on Seen for a step that the server only logs. Msg must be logged once per
// Seen.
type OnLog struct {
	Msg  string
	Seen chan struct{}
}

func (h OnLog) Enabled(context.Context, slog.Level) bool { return true }
func (h OnLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h OnLog) WithGroup(string) slog.Handler            { return h }
func (h OnLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.Msg {
		close(h.Seen) // logged once per server
	}
	return nil
}

// DeadlineWatch is a net.Conn that records whether a read deadline in the
// past was set on it: the way a server stops a blocked reader.
type DeadlineWatch struct {
	net.Conn
	mu   sync.Mutex
	past bool
}

func (w *DeadlineWatch) SetReadDeadline(t time.Time) error {
	w.mu.Lock()
	w.past = w.past || !t.IsZero() && !t.After(time.Now())
	w.mu.Unlock()
	return w.Conn.SetReadDeadline(t)
}

// Stopped reports whether a read deadline in the past was set.
func (w *DeadlineWatch) Stopped() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.past
}

// HeldForAClientThatNeverReads sends 40,000 messages of 1 KB to a client
// that never reads, and returns how much more heap the server then holds.
// The server is made inside the bubble, so that its channels are; its
// Shutdown must end at a deadline of one second, since bob never reads what
// was queued, and then Serve must return errServerClosed.
func HeldForAClientThatNeverReads(t *testing.T, newServer func() Server, errServerClosed error) (held uint64) {
	synctest.Test(t, func(t *testing.T) {
		srv := newServer()
		l, served := ServePipe(srv)
		alice, bob := DialPipe(t, l), DialPipe(t, l)
		alice.LoginAs("alice")
		bob.LoginAs("bob") // and never reads again
		var aliceReads sync.WaitGroup
		aliceReads.Go(func() { // ends when the server closes alice's connection
			for _, err := alice.ReadLine(); err == nil; _, err = alice.ReadLine() {
			}
		})
		defer aliceReads.Wait()
		before := LiveHeap()
		text := strings.Repeat("x", 1000)
		for i := range 40_000 {
			alice.Send(fmt.Sprintf("bob: %d %s", i, text))
		}
		synctest.Wait() // everything is routed
		held = LiveHeap() - min(before, LiveHeap())
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		require.ErrorIs(t, srv.Shutdown(ctx), context.DeadlineExceeded) // bob never reads what was queued
		require.ErrorIs(t, <-served, errServerClosed)
	})
	return held
}

// LiveHeap returns the bytes of heap in use after a garbage collection.
func LiveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
