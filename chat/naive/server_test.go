package naive

import (
	"testing"

	"achat/chat/chattest"
	"achat/chat/chattrace"
)

func newServer(hooks *chattrace.Hooks) chattest.Server {
	return New(Config{Hooks: hooks})
}

func TestConformance(t *testing.T) {
	chattest.RunConformance(t, newServer)
}
