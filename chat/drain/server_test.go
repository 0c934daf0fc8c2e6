package drain

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"achat/chat/chattest"
	"achat/chat/chattrace"
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
