package replies

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"achat/chat/chattest"
	"achat/chat/chattrace"
	"achat/chat/protocol"
)

func newServer(hooks *chattrace.Hooks) chattest.Server {
	return New(Config{Hooks: hooks})
}

func TestConformance(t *testing.T) {
	chattest.RunConformance(t, newServer)
}

func TestShutdownDeliversEverythingAcceptedToASlowReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 2000
		srv := New(Config{})
		l, served := chattest.ServePipe(srv)
		alice, bob := chattest.DialPipe(t, l), chattest.DialPipe(t, l)
		alice.LoginAs("alice")
		bob.LoginAs("bob")
		for i := range n {
			alice.Send(fmt.Sprintf("alice, bob: %d", i))
		}
		for i := range n { // alice's copies prove that all n have been routed
			alice.Expect(fmt.Sprintf("from alice: %d", i))
		}

		shutdownDone := chattest.ShutdownAsync(srv, context.Background())
		synctest.Wait()
		require.ErrorIs(t, <-served, ErrServerClosed, "Serve returns as soon as shutdown begins")
		require.Empty(t, shutdownDone, "Shutdown waits while bob's messages are undelivered")

		for i := range n {
			bob.Expect(fmt.Sprintf("from alice: %d", i))
		}
		bob.ExpectClosed()
		require.NoError(t, <-shutdownDone)
	})
}

func TestShutdownIsNotHeldUpBy(t *testing.T) {
	t.Run("a client that never sends its name", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := New(Config{})
			l, served := chattest.ServePipe(srv)
			silent := chattest.DialPipe(t, l)
			synctest.Wait() // the reader is blocked on the login line

			require.NoError(t, srv.Shutdown(context.Background()))
			require.ErrorIs(t, <-served, ErrServerClosed)
			silent.ExpectClosed()
		})
	})
	t.Run("a refused client that never reads", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := New(Config{})
			l, served := chattest.ServePipe(srv)
			alice := chattest.DialPipe(t, l)
			alice.LoginAs("alice")
			impostor := chattest.DialPipe(t, l)
			impostor.Send("alice") // a taken name; it never reads the refusal
			synctest.Wait()        // the reader is blocked in the refusal's write: a pipe buffers nothing

			// Shutdown wakes readers blocked in a read, not in a write: only
			// the refusal's write deadline lets this reader go before the
			// drain deadline, and the connection with it.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			start := time.Now()
			require.NoError(t, srv.Shutdown(ctx))
			assert.Equal(t, 3*lingerTimeout, time.Since(start),
				"fake time: the refusal's write deadline and its linger, then the linger of alice's writer")
			require.ErrorIs(t, <-served, ErrServerClosed)
			alice.ExpectClosed()
		})
	})
	t.Run("a client that keeps sending", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := New(Config{})
			l, served := chattest.ServePipe(srv)
			alice := chattest.DialPipe(t, l)
			alice.LoginAs("alice")
			var client sync.WaitGroup
			client.Go(func() { // ends when the server closes alice's connection
				for {
					if _, err := io.WriteString(alice.Conn(), "alice: more\n"); err != nil {
						return
					}
				}
			})
			client.Go(func() { // alice gets every "more" that was accepted, then the close
				for {
					line, err := alice.ReadLine()
					if err != nil {
						return
					}
					assert.Equal(t, "from alice: more", line)
				}
			})
			require.NoError(t, srv.Shutdown(context.Background()))
			require.ErrorIs(t, <-served, ErrServerClosed)
			client.Wait()
		})
	})
}

func TestShutdownClosesConnectionsAtTheDrainDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log bytes.Buffer
		srv := New(Config{Logger: slog.New(slog.NewTextHandler(&log, nil))})
		l, served := chattest.ServePipe(srv)
		alice, bob := chattest.DialPipe(t, l), chattest.DialPipe(t, l)
		alice.LoginAs("alice")
		bob.LoginAs("bob") // and never reads again
		for i := range 3 {
			alice.Send(fmt.Sprintf("alice, bob: %d", i))
			alice.Expect(fmt.Sprintf("from alice: %d", i))
		}

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		err := srv.Shutdown(ctx)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 5*time.Second, time.Since(start), "fake time: exactly the deadline")
		assert.ErrorIs(t, <-served, ErrServerClosed)
		assert.Contains(t, log.String(), `msg="messages not delivered" peer=bob count=3`)
		alice.ExpectClosed()
	})
}

func TestServeTwiceIsAnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := New(Config{})
		_, served := chattest.ServePipe(srv)
		synctest.Wait()
		err := srv.Serve(chattest.NewPipeListener())
		assert.True(t, err != nil && !errors.Is(err, ErrServerClosed), "got %v", err)
		require.NoError(t, srv.Shutdown(context.Background()))
		require.ErrorIs(t, <-served, ErrServerClosed)
	})
}

// Over TCP, closing a socket whose input has not all been read makes the
// kernel reset the connection, and a reset throws away what was written but
// not yet sent. A client that sends a line after shutdown began (its reader
// has stopped) must still get everything it is owed.
func TestShutdownDeliversToAClientThatSendsAfterCtrlC(t *testing.T) {
	const n = 100_000 // far more than loopback's socket buffers hold
	readersStopped := make(chan struct{})
	srv := New(Config{Logger: slog.New(chattest.OnLog{Msg: "shutdown: every reader has stopped", Seen: readersStopped})})
	addr := chattest.Start(t, srv)
	alice, bob := chattest.Login(t, addr, "alice"), chattest.Login(t, addr, "bob")
	pad := strings.Repeat("x", 64)
	go func() { // ends once every line is written
		w := bufio.NewWriter(alice.Conn())
		for i := range n {
			fmt.Fprintf(w, "alice, bob: %d %s\n", i, pad)
		}
		w.Flush()
	}()
	for i := range n { // alice's copies prove every message was routed
		alice.Expect(fmt.Sprintf("from alice: %d %s", i, pad))
	}

	shutdownDone := chattest.ShutdownAsync(srv, context.Background())
	<-readersStopped
	bob.Send("alice: a line the server will never read")
	for i := range n {
		bob.Expect(fmt.Sprintf("from alice: %d %s", i, pad))
	}
	bob.ExpectClosed()
	alice.ExpectClosed()
	require.NoError(t, <-shutdownDone)
}

// A client that leaves (here: half-closes, as `nc -N` does at the end of its
// input) still gets every message routed to it before it left, then the
// close; its name is free at once.
func TestALeavingClientGetsWhatWasRoutedToItAndFreesItsName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 500
		srv := New(Config{})
		l, served := chattest.ServePipe(srv)
		alice, bob := chattest.DialPipe(t, l), chattest.DialPipe(t, l)
		alice.LoginAs("alice")
		bob.LoginAs("bob")
		for i := range n {
			alice.Send(fmt.Sprintf("alice, bob: %d", i))
		}
		for i := range n { // alice's copies prove that all n have been routed to bob
			alice.Expect(fmt.Sprintf("from alice: %d", i))
		}
		bob.CloseWrite()
		synctest.Wait() // bob's reader has ended, and the broker has freed "bob"

		again := chattest.DialPipe(t, l)
		again.LoginAs("bob")
		alice.Send("bob: to the new bob")
		again.Expect("from alice: to the new bob")

		for i := range n {
			bob.Expect(fmt.Sprintf("from alice: %d", i))
		}
		bob.ExpectClosed() // and nothing sent after he left

		require.NoError(t, srv.Shutdown(context.Background()))
		require.ErrorIs(t, <-served, ErrServerClosed)
	})
}

// What a user typing into nc sees: every mistake gets an error line that says
// what was expected, and the good lines around it still go through.
func TestMistakesGetAnErrorLine(t *testing.T) {
	addr := chattest.Start(t, New(Config{}))
	alice, bob := chattest.Login(t, addr, "alice"), chattest.Login(t, addr, "bob")

	t.Run("a taken name", func(t *testing.T) {
		second := chattest.Dial(t, addr)
		second.Send("alice")
		second.Send("bob: a line the impostor sent at once")
		second.Expect(`error: name "alice" is taken`)
		second.ExpectClosed()
	})
	t.Run("a bad name", func(t *testing.T) {
		for line, want := range map[string]string{
			"al,ice":                `error: name contains ",", ":", or a control or invisible character`,
			"  ":                    "error: name is empty",
			strings.Repeat("a", 33): "error: name is longer than 32 bytes",
			"al\xffice":             "error: line is not valid UTF-8",
		} {
			c := chattest.Dial(t, addr)
			c.Send(line)
			c.Expect(want)
			c.ExpectClosed()
		}
	})
	t.Run("bad lines between good ones", func(t *testing.T) {
		alice.Send("bob: one")
		alice.Send("bob one")
		alice.Send(": nobody")
		alice.Send("bob: \xff")
		alice.Send("bob, zed, yan: two")
		alice.Send("bob: three")
		alice.Expect(`error: no colon after the recipients; expected "name1, name2: text"`)
		alice.Expect(`error: no recipient before the colon; expected "name1, name2: text"`)
		alice.Expect(`error: line is not valid UTF-8; expected "name1, name2: text"`)
		alice.Expect("error: not logged in: zed, yan")
		bob.Expect("from alice: one")
		bob.Expect("from alice: two")
		bob.Expect("from alice: three")
	})
	// The reader takes these lines as one batch, and must split it at the
	// bad line: the messages before it go to the broker before its error.
	t.Run("answers in the order of the lines, in one write", func(t *testing.T) {
		alice.Send("alice: one\nalice one\nalice: two")
		alice.Expect("from alice: one")
		alice.Expect(`error: no colon after the recipients; expected "name1, name2: text"`)
		alice.Expect("from alice: two")
	})
}

// A client that sends an endless line gets an error line and is
// disconnected; the server holds no more than one line's worth of it.
func TestALineTooLongIsRefusedWithBoundedMemory(t *testing.T) {
	const total = 100 << 20 // 100 MB, and no newline
	srv := New(Config{})
	addr := chattest.Start(t, srv)
	bob := chattest.Login(t, addr, "bob")
	flood := chattest.Login(t, addr, "flood")

	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var sender sync.WaitGroup
	sender.Go(func() { // ends at the 100 MB, or when the server closes the connection
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for sent := 0; sent < total; sent += len(chunk) {
			if _, err := flood.Conn().Write(chunk); err != nil {
				return
			}
		}
	})
	flood.Expect("error: line too long: the limit is 65536 bytes")
	flood.ExpectClosed()
	sender.Wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)

	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated while the line was sent: %d KiB", allocated>>10)
	assert.Less(t, allocated, uint64(4*protocol.MaxLineBytes+1<<20), "a line too long must not be buffered")

	// The name is free again, and the others never noticed.
	again := chattest.Login(t, addr, "flood")
	again.Send("bob: back")
	bob.Expect("from flood: back")
}

// What is still wrong: everything sent to a client that does not read waits
// in its queue, without bound. 40,000 messages of 1 KB sent to bob, who
// never reads, are 40 MB that the server holds until shutdown. (Chapter slow
// runs the same test and holds at most its bound.)
func TestBugAClientThatNeverReadsMakesTheServerHoldEverything(t *testing.T) {
	held := chattest.HeldForAClientThatNeverReads(t, func() chattest.Server { return New(Config{}) }, ErrServerClosed)
	t.Logf("the server holds %d MB for bob", held>>20)
	assert.Greater(t, held, uint64(30<<20), "the queue is unbounded: nearly all 40 MB wait for bob")
}

// A line that a client had only begun to send when Ctrl-C came is not a
// message: the read deadline that stops the reader must not turn its first
// half into one (protocol.NewScanner).
func TestAHalfSentLineIsNotAMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := New(Config{})
		l, served := chattest.ServePipe(srv)
		alice := chattest.DialPipe(t, l)
		alice.LoginAs("alice")
		_, err := io.WriteString(alice.Conn(), "alice: half a li") // no newline
		require.NoError(t, err)
		synctest.Wait() // the reader has read it, and waits for the rest

		require.NoError(t, srv.Shutdown(context.Background()))
		require.ErrorIs(t, <-served, ErrServerClosed)
		alice.ExpectClosed() // and nothing before the close
	})
}

// Once a reader has said that its client left, the connection's reads are
// the writer's: it lingers on them to close gracefully (closeGracefully). A
// shutdown that begins then must not set their deadline, or the linger ends
// at once, and input the client sent meanwhile turns the close into a reset
// that can cost it the end of what it was owed.
func TestAReaderThatLeftIsNoLongerWokenAtShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := New(Config{})
		srv.events = make(chan event) // unbuffered: the test plays the broker
		client, server := chattest.HalfPipe()
		defer client.Close()
		watched := &chattest.DeadlineWatch{Conn: server}
		srv.readers.Add(1)
		go srv.read(watched, 1) // ends once the test takes its leave event

		io.WriteString(client, "alice\n")
		login := (<-srv.events).(loginEvent)
		login.verdict <- nil
		client.(interface{ CloseWrite() error }).CloseWrite()
		synctest.Wait() // the reader has read the end, and waits to say it left

		srv.cancelCtx() // shutdown begins while the leave is on its way
		synctest.Wait()
		assert.False(t, watched.Stopped(), "the reader's wake-up set a read deadline in the past after it said it left")
		require.IsType(t, leaveEvent{}, <-srv.events)
		srv.readers.Wait()
	})
}
