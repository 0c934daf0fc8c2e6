package notify

import (
	"context"
	"testing"
	"testing/synctest"

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

// Bug 3: a client that never sends its name holds Shutdown until it leaves.
func TestShutdownWaitsForAClientThatNeverLogsIn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := New(Config{})
		l := chattest.NewPipeListener()
		served := make(chan error, 1)
		go func() { served <- srv.Serve(l) }() // ends once Shutdown begins
		silent := chattest.DialPipe(t, l)
		synctest.Wait() // Serve has accepted it, and its reader waits for a name

		shutdownDone := make(chan error, 1)
		go func() { shutdownDone <- srv.Shutdown(context.Background()) }() // ends after silent leaves
		synctest.Wait()                                                    // every goroutine is blocked: Shutdown is stuck
		require.Empty(t, shutdownDone, "Shutdown returned while a client had not logged in")

		silent.Close() // only the client leaving unblocks it
		require.NoError(t, <-shutdownDone)
		require.ErrorIs(t, <-served, ErrServerClosed)
	})
}
