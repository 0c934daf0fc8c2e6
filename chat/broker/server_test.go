package broker

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"achat/chat/chattest"
	"achat/chat/chattrace"
)

func newServer(hooks *chattrace.Hooks) chattest.Server {
	return New(Config{Hooks: hooks})
}

func TestConformance(t *testing.T) {
	chattest.RunConformance(t, newServer)
}

// The lesson of this chapter: Shutdown returns while the broker and a writer
// are still running.
func TestShutdownLeavesGoroutinesRunning(t *testing.T) {
	before := goleak.IgnoreCurrent()
	srv := New(Config{})
	addr := chattest.Start(t, srv)
	alice := chattest.Login(t, addr, "alice")
	alice.Close()
	require.NoError(t, srv.Shutdown(context.Background()))
	err := goleak.Find(before)
	require.Error(t, err, "the broker and alice's writer should still be running")
	require.Contains(t, err.Error(), "achat/chat/broker.(*Server).broker")
	require.Contains(t, err.Error(), "achat/chat/broker.(*Server).write")
}
