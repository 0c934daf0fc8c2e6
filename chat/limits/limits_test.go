package limits

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"achat/chat/chattest"
	"achat/chat/protocol"
)

// failingListener fails the first failures calls of Accept with err, then
// accepts from the pipe listener it wraps.
type failingListener struct {
	*chattest.PipeListener
	mu       sync.Mutex
	failures int
	err      error
}

func (l *failingListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	fail := l.failures > 0
	if fail {
		l.failures--
	}
	l.mu.Unlock()
	if fail {
		return nil, l.err
	}
	return l.PipeListener.Accept()
}

var emfile = &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}

// A process out of file descriptors gets EMFILE from accept until one is
// closed. Serve pauses, 5 ms doubling to 1 s, and tries again, logging once:
// a client that came meanwhile waits in the backlog, and is served.
func TestAnAcceptErrorThatARetryCuresIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log lockedBuffer
		srv := New(Config{Logger: slog.New(slog.NewTextHandler(&log, nil))})
		l := &failingListener{PipeListener: chattest.NewPipeListener(), failures: 10, err: emfile}
		served := make(chan error, 1)
		start := time.Now()
		go func() { served <- srv.Serve(l) }() // ends once Shutdown begins
		alice := chattest.DialPipe(t, l.PipeListener)
		alice.LoginAs("alice")
		// 5+10+20+40+80+160+320+640+1000+1000 ms of pauses
		assert.Equal(t, 3275*time.Millisecond, time.Since(start), "fake time: the pauses, and no more")
		assert.Equal(t, 1, strings.Count(log.String(), "accept failed"), "logged once:\n%s", log.String())
		assert.Contains(t, log.String(), `msg="accepting again" failures=10`)

		require.NoError(t, srv.Shutdown(context.Background()))
		require.ErrorIs(t, <-served, ErrServerClosed)
	})
}

// Shutdown does not wait for a pause between two failed Accepts to end.
func TestShutdownEndsThePauseOfARetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := New(Config{})
		l := &failingListener{PipeListener: chattest.NewPipeListener(), failures: 1 << 20, err: emfile}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(l) }() // ends once Shutdown begins
		time.Sleep(10 * time.Second)
		start := time.Now()
		require.NoError(t, srv.Shutdown(context.Background()))
		require.ErrorIs(t, <-served, ErrServerClosed)
		assert.Zero(t, time.Since(start), "fake time: no pause waited for")
	})
}

// An error that no retry cures ends Serve, as in every chapter.
func TestAnAcceptErrorThatNoRetryCuresEndsServe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := New(Config{})
		broken := errors.New("the listener is broken")
		l := &failingListener{PipeListener: chattest.NewPipeListener(), failures: 1, err: broken}
		require.ErrorIs(t, srv.Serve(l), broken)
		require.NoError(t, srv.Shutdown(context.Background()))
	})
}

// One connection past the limit is told so and closed at once; it is never
// left waiting, and the clients already in are not disturbed. Once one
// leaves, the next is taken.
func TestAConnectionPastTheLimitIsRefusedAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log lockedBuffer
		srv := New(Config{MaxConns: 2, Logger: slog.New(slog.NewTextHandler(&log, nil))})
		l, served := chattest.ServePipe(srv)
		alice, bob := chattest.DialPipe(t, l), chattest.DialPipe(t, l)
		alice.LoginAs("alice")
		bob.LoginAs("bob")
		for range 3 {
			third := chattest.DialPipe(t, l)
			third.Expect("error: " + protocol.ErrTooManyConns.Error())
			third.ExpectClosed()
		}
		assert.Equal(t, 1, strings.Count(log.String(), "at the connection limit"), "logged once:\n%s", log.String())
		alice.Send("bob: still here")
		bob.Expect("from alice: still here")

		bob.Close()
		synctest.Wait() // bob's reader and writer are gone
		carol := chattest.DialPipe(t, l)
		carol.LoginAs("carol")
		assert.Contains(t, log.String(), `msg="below the connection limit again" refused=3`)

		require.NoError(t, srv.Shutdown(context.Background()))
		require.ErrorIs(t, <-served, ErrServerClosed)
	})
}

// A connection that sends no name within the login timeout is told so and
// closed; one that sends it in time is not.
func TestASilentConnectionIsClosedAtItsLoginTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := New(Config{LoginTimeout: 10 * time.Second})
		l, served := chattest.ServePipe(srv)
		silent := chattest.DialPipe(t, l)
		late := chattest.DialPipe(t, l)
		start := time.Now()
		time.Sleep(9 * time.Second)
		late.LoginAs("late but in time")
		silent.Expect("error: " + protocol.ErrLoginTimeout.Error())
		silent.ExpectClosed()
		assert.Equal(t, 10*time.Second, time.Since(start), "fake time: exactly the login timeout")
		time.Sleep(20 * time.Second) // idle: a logged-in client's reads have no clock
		late.Send("late but in time: still here, 20 s later")
		late.Expect("from late but in time: still here, 20 s later")

		require.NoError(t, srv.Shutdown(context.Background()))
		require.ErrorIs(t, <-served, ErrServerClosed)
	})
}

// A client that stops reading, with lines waiting for it, is dropped once
// its writer has made no progress for the write timeout: its connection is
// closed, its name is free again, and what it did not get is logged.
func TestAWriteThatMakesNoProgressGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log lockedBuffer
		srv := New(Config{WriteTimeout: 10 * time.Second, Logger: slog.New(slog.NewTextHandler(&log, nil))})
		l, served := chattest.ServePipe(srv)
		alice, bob := chattest.DialPipe(t, l), chattest.DialPipe(t, l)
		alice.LoginAs("alice")
		bob.LoginAs("bob") // and reads nothing more
		start := time.Now()
		for i := range 3 {
			alice.Send(fmt.Sprintf("alice, bob: %d", i))
			alice.Expect(fmt.Sprintf("from alice: %d", i))
		}
		synctest.Wait()
		assert.NotContains(t, log.String(), "write timed out")
		time.Sleep(10 * time.Second)
		synctest.Wait()
		assert.Contains(t, log.String(), `msg="write timed out: disconnecting" peer=bob timeout=10s`)
		assert.Contains(t, log.String(), `msg="messages not delivered" peer=bob count=3`)
		assert.Equal(t, 10*time.Second, time.Since(start), "fake time: the write timeout")

		again := chattest.DialPipe(t, l)
		again.LoginAs("bob")
		require.NoError(t, srv.Shutdown(context.Background()))
		require.ErrorIs(t, <-served, ErrServerClosed)
	})
}

// A slow reader is not dropped: a write times out when it makes no progress
// for the write timeout, not when a long batch takes longer than that.
func TestASlowReaderIsNotDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := New(Config{WriteTimeout: time.Second, MaxQueuedBytes: 1 << 20})
		l, served := chattest.ServePipe(srv)
		alice, bob := chattest.DialPipe(t, l), chattest.DialPipe(t, l)
		alice.LoginAs("alice")
		bob.LoginAs("bob")
		text := strings.Repeat("x", 1000)
		for i := range 200 { // 200 KB, read at 40 KB a second: 5 s, five times the timeout
			alice.Send(fmt.Sprintf("alice, bob: %d %s", i, text))
			alice.Expect(fmt.Sprintf("from alice: %d %s", i, text))
		}
		start := time.Now()
		for i := range 200 {
			time.Sleep(25 * time.Millisecond)
			bob.Expect(fmt.Sprintf("from alice: %d %s", i, text))
		}
		assert.GreaterOrEqual(t, time.Since(start), 5*time.Second)
		require.NoError(t, srv.Shutdown(context.Background()))
		require.ErrorIs(t, <-served, ErrServerClosed)
	})
}

// An evicted client that never reads is gone within the write timeout, not
// at the drain deadline: nothing it holds outlives its clock.
func TestAnEvictedClientThatNeverReadsIsGoneWithinTheWriteTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := New(Config{MaxQueued: 5, WriteTimeout: 10 * time.Second})
		l, served := chattest.ServePipe(srv)
		alice, bob := chattest.DialPipe(t, l), chattest.DialPipe(t, l)
		alice.LoginAs("alice")
		bob.LoginAs("bob") // and never reads again
		for i := range 6 { // the sixth is one past the bound: bob is evicted
			alice.Send(fmt.Sprintf("alice, bob: %d", i))
			alice.Expect(fmt.Sprintf("from alice: %d", i))
		}
		synctest.Wait()
		start := time.Now()
		for srvHolds(srv) > 1 { // alice's, once bob's writer has given up
			time.Sleep(time.Second)
			synctest.Wait()
		}
		assert.Equal(t, 10*time.Second, time.Since(start), "fake time: the write timeout")
		require.NoError(t, srv.Shutdown(context.Background()))
		require.ErrorIs(t, <-served, ErrServerClosed)
	})
}

// lockedBuffer is a log the server writes while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// srvHolds returns how many connections the server holds.
func srvHolds(srv *Server) int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.conns)
}
