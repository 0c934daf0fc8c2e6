// Package chattrace lets a test watch a chat server at the moments the
// properties are about, as net/http/httptrace lets a client watch a request.
//
// Every chapter calls the same hooks at the same points of its own code. The
// harness in chat/chattest records them and checks each schedule against the
// reference model; the server never reads anything back.
package chattrace

import (
	"net"

	"achat/chat/protocol"
)

// Hooks are called from the server's goroutines. Any of them may be nil, and so
// may a *Hooks. A hook must return quickly and must not call back into the
// server: the server holds no lock while it calls one, and a hook that blocks
// stalls the goroutine that called it.
type Hooks struct {
	// LoggedIn is called after the server has started routing messages for
	// name to conn (the server's side of the connection). A message whose
	// Routed hook ran before it does not reach conn; one that was accepted
	// and not yet routed, or is accepted after it, must. The chapters with a
	// broker call LoggedIn and Routed from the broker's goroutine, so their
	// order is the order in which it did the two. Chapter naive calls them
	// from its readers, where that order means nothing: its tests settle
	// after every step, so that no login races a message.
	LoggedIn func(conn net.Conn, name string)

	// Accepted is called when the server takes responsibility for msg, read
	// from conn, before it routes it: from then on the server owes msg to each
	// recipient that is logged in when it is routed.
	Accepted func(conn net.Conn, from string, msg protocol.Message)

	// Routed is called after the server has routed msg, from from: queued
	// it for each recipient that was logged in, or written it to them. A
	// test knows from it which logins came before msg was routed (see
	// LoggedIn); the server owes msg from its Accepted on, whether Routed
	// is called or not.
	Routed func(from string, msg protocol.Message)

	// LoggedOut is called after the server has stopped routing messages for
	// name to conn, because its client left. Messages already routed to conn
	// are still written to it. Chapters before disconnect never call it: a
	// name stays taken until shutdown.
	LoggedOut func(conn net.Conn, name string)

	// Evicted is called after the server has stopped routing messages for
	// name to conn because conn was too slow: waiting lines were queued for
	// it, unwritten, when the server gave up. What was queued is still
	// written. Chapters before slow never call it.
	Evicted func(conn net.Conn, name string, waiting int)

	// ShutdownBegan is called by Shutdown before it does anything else.
	ShutdownBegan func()
}

// ReportLoggedIn calls h.LoggedIn if it is set.
func (h *Hooks) ReportLoggedIn(conn net.Conn, name string) {
	if h != nil && h.LoggedIn != nil {
		h.LoggedIn(conn, name)
	}
}

// ReportAccepted calls h.Accepted if it is set.
func (h *Hooks) ReportAccepted(conn net.Conn, from string, msg protocol.Message) {
	if h != nil && h.Accepted != nil {
		h.Accepted(conn, from, msg)
	}
}

// ReportRouted calls h.Routed if it is set.
func (h *Hooks) ReportRouted(from string, msg protocol.Message) {
	if h != nil && h.Routed != nil {
		h.Routed(from, msg)
	}
}

// ReportLoggedOut calls h.LoggedOut if it is set.
func (h *Hooks) ReportLoggedOut(conn net.Conn, name string) {
	if h != nil && h.LoggedOut != nil {
		h.LoggedOut(conn, name)
	}
}

// ReportEvicted calls h.Evicted if it is set.
func (h *Hooks) ReportEvicted(conn net.Conn, name string, waiting int) {
	if h != nil && h.Evicted != nil {
		h.Evicted(conn, name, waiting)
	}
}

// ReportShutdownBegan calls h.ShutdownBegan if it is set.
func (h *Hooks) ReportShutdownBegan() {
	if h != nil && h.ShutdownBegan != nil {
		h.ShutdownBegan()
	}
}
