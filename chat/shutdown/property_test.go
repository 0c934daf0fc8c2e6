package shutdown

import (
	"testing"

	"achat/chat/chattest"
)

// Every property holds, for random schedules of clients that connect, log
// in, send, read slowly or not at all, disconnect, and Ctrl-C at any point.
func TestProperties(t *testing.T) {
	t.Run("pipe", func(t *testing.T) {
		chattest.CheckProperties(t, newServer, chattest.Options{Transport: chattest.Pipe, Schedules: 1000})
	})
	t.Run("tcp", func(t *testing.T) {
		chattest.CheckProperties(t, newServer, chattest.Options{Transport: chattest.TCP})
	})
}
