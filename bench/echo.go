package bench

import (
	"context"
	"io"
	"net"
)

// ServeEcho is the ceiling a chat server is compared with: every connection
// gets back what it sends, by io.Copy, with no parsing and no routing. It
// serves l until l is closed.
func ServeEcho(l net.Listener) error {
	for {
		conn, err := l.Accept()
		if err != nil {
			return err
		}
		// Ends when the client closes its side (or the connection breaks).
		go func() {
			defer conn.Close()
			io.Copy(conn, conn)
		}()
	}
}

// Echo is ServeEcho as an InProcess server, for InProcessServer. Shutdown
// stops accepting; connections end when their clients close them.
type Echo struct {
	listeners chan net.Listener // holds the listener once Serve has it
}

// NewEcho returns an echo server ready to Serve.
func NewEcho() *Echo { return &Echo{listeners: make(chan net.Listener, 1)} }

// Serve serves l with ServeEcho until Shutdown. Call it once.
func (e *Echo) Serve(l net.Listener) error {
	e.listeners <- l
	return ServeEcho(l)
}

// Shutdown closes the listener, once Serve has it.
func (e *Echo) Shutdown(ctx context.Context) error {
	select {
	case l := <-e.listeners:
		return l.Close()
	case <-ctx.Done():
		return ctx.Err()
	}
}
