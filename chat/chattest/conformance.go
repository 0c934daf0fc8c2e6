package chattest

import (
	"context"
	"testing"
)

// RunConformance runs the behaviour every chapter shares, over real TCP on
// loopback: what a user sees while nobody presses Ctrl-C.
func RunConformance(t *testing.T, newServer NewServer) {
	start := func(t *testing.T) string { return Start(t, newServer(nil)) }

	t.Run("two clients exchange messages both ways", func(t *testing.T) {
		addr := start(t)
		alice, bob := Login(t, addr, "alice"), Login(t, addr, "bob")
		alice.Send("bob: hi bob")
		bob.Expect("from alice: hi bob")
		bob.Send("alice: hi alice")
		alice.Expect("from bob: hi alice")
	})
	t.Run("a message reaches every recipient once, and itself if named", func(t *testing.T) {
		addr := start(t)
		alice, bob, carol := Login(t, addr, "alice"), Login(t, addr, "bob"), Login(t, addr, "carol")
		alice.Send("bob,,carol, bob , alice: to all")
		alice.Send("alice: after")
		alice.Expect("from alice: to all")
		alice.Expect("from alice: after") // not a second "to all"
		bob.Send("bob: after")
		bob.Expect("from alice: to all")
		bob.Expect("from bob: after")
		carol.Expect("from alice: to all")
	})
	t.Run("unknown recipients and bad lines do not stop good messages", func(t *testing.T) {
		addr := start(t)
		alice, bob := Login(t, addr, "alice"), Login(t, addr, "bob")
		alice.Send("no colon here")
		alice.Send(": no recipient")
		alice.Send("nobody, bob: hello\r")
		bob.Expect("from alice: hello")
	})
	t.Run("a taken name is refused by closing the connection", func(t *testing.T) {
		addr := start(t)
		alice := Login(t, addr, "alice")
		second := Dial(t, addr)
		second.Send("alice")
		second.ExpectRefused()
		alice.Send("alice: still me")
		alice.Expect("from alice: still me")
	})
	t.Run("a bad login name is refused by closing the connection", func(t *testing.T) {
		addr := start(t)
		c := Dial(t, addr)
		c.Send("al,ice")
		c.ExpectRefused()
	})
	t.Run("Shutdown of a server that never served returns nil", func(t *testing.T) {
		srv := newServer(nil)
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		l := NewPipeListener()
		if err := srv.Serve(l); err == nil || err.Error() != "chat: server closed" {
			t.Fatalf("Serve after Shutdown = %v, want ErrServerClosed", err)
		}
	})
}
