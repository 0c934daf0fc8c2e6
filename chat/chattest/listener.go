package chattest

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// shutdownGuard bounds Shutdown in a test's cleanup, so a server that hangs
// fails the test instead of the whole run. Tests of the drain deadline pass
// their own, much shorter, context.
const shutdownGuard = 20 * time.Second

// Start serves srv on a new loopback TCP listener and returns its address.
// The test's cleanup shuts srv down and waits for Serve to return.
func Start(t testing.TB, srv Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	serve(t, srv, l)
	return l.Addr().String()
}

// serve runs srv.Serve(l) in a goroutine that the test's cleanup waits for,
// after it has shut srv down.
func serve(t testing.TB, srv Server, l net.Listener) {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }() // ends after Shutdown; cleanup waits
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGuard)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		<-served
	})
}

// PipeListener is an in-memory net.Listener whose connections are made of
// net.Pipe pairs. A goroutine blocked on one is durably blocked, so servers on
// it can be tested inside a testing/synctest bubble. Like a kernel's, it has
// a backlog: a Dial returns before Accept takes the connection, which waits
// until then, unanswered; Close closes those that were never taken.
type PipeListener struct {
	conns chan net.Conn // Dial -> Accept: the backlog; never closed

	mu       sync.Mutex    // guards the fields below, and sending on conns
	closed   chan struct{} // closed by Close, once
	isClosed bool
}

// backlog is how many connections may wait for Accept.
const backlog = 64

// NewPipeListener returns an open PipeListener.
func NewPipeListener() *PipeListener {
	return &PipeListener{conns: make(chan net.Conn, backlog), closed: make(chan struct{})}
}

// Dial returns the client's end of a new connection, once it is in the
// backlog, or net.ErrClosed if the listener is closed.
func (l *PipeListener) Dial() (net.Conn, error) {
	client, _, err := l.DialPair()
	return client, err
}

// DialPair is Dial, and also returns the server's end: the conn that Accept
// returns.
func (l *PipeListener) DialPair() (client, server net.Conn, err error) {
	client, server = HalfPipe()
	if err := l.Offer(server); err != nil {
		client.Close()
		return nil, nil, err
	}
	return client, server, nil
}

// Offer puts server, the server's end of a connection made by HalfPipe, in
// the backlog, for Accept to take. It fails with net.ErrClosed if the
// listener is closed, or with errBacklogFull.
func (l *PipeListener) Offer(server net.Conn) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isClosed {
		server.Close()
		return net.ErrClosed
	}
	select {
	case l.conns <- server:
		return nil
	default:
		server.Close()
		return errBacklogFull
	}
}

var errBacklogFull = errors.New("chattest: the listen backlog is full")

// Waiting returns how many connections wait in the backlog.
func (l *PipeListener) Waiting() int { return len(l.conns) }

// HalfPipe returns the two ends of an in-memory connection. Unlike net.Pipe's,
// each end can be half-closed with CloseWrite, as a *net.TCPConn can: the
// other end reads io.EOF and can still write. It is two net.Pipes, one for
// each direction.
func HalfPipe() (client, server net.Conn) {
	upClient, upServer := net.Pipe()     // client -> server
	downServer, downClient := net.Pipe() // server -> client
	return &pipeEnd{in: downClient, out: upClient}, &pipeEnd{in: upServer, out: downServer}
}

// pipeEnd reads from one net.Pipe and writes to another.
type pipeEnd struct {
	in  net.Conn // its Read end
	out net.Conn // its Write end
}

func (p *pipeEnd) Read(b []byte) (int, error)  { return p.in.Read(b) }
func (p *pipeEnd) Write(b []byte) (int, error) { return p.out.Write(b) }

// CloseWrite closes the sending direction: the other end reads io.EOF.
func (p *pipeEnd) CloseWrite() error { return p.out.Close() }

func (p *pipeEnd) Close() error {
	p.out.Close()
	return p.in.Close()
}

func (p *pipeEnd) SetDeadline(t time.Time) error {
	p.out.SetWriteDeadline(t)
	return p.in.SetReadDeadline(t)
}
func (p *pipeEnd) SetReadDeadline(t time.Time) error  { return p.in.SetReadDeadline(t) }
func (p *pipeEnd) SetWriteDeadline(t time.Time) error { return p.out.SetWriteDeadline(t) }
func (p *pipeEnd) LocalAddr() net.Addr                { return pipeAddr{} }
func (p *pipeEnd) RemoteAddr() net.Addr               { return pipeAddr{} }

// Accept waits for a connection in the backlog.
func (l *PipeListener) Accept() (net.Conn, error) {
	select {
	case conn := <-l.conns:
		return conn, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close makes Accept and Dial fail, and closes the connections that wait in
// the backlog, as a kernel resets them. It may be called more than once.
func (l *PipeListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isClosed {
		return nil
	}
	l.isClosed = true
	close(l.closed) // the only close: isClosed guards it
	for {
		select {
		case conn := <-l.conns:
			conn.Close()
		default:
			return nil
		}
	}
}

// Addr returns a placeholder address.
func (l *PipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// DialPipe connects a new client to l. The client sets no read deadlines:
// inside a synctest bubble a hang is reported as a deadlock instead.
func DialPipe(t testing.TB, l *PipeListener) *Client {
	t.Helper()
	conn, err := l.Dial()
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return NewClient(t, conn, false)
}
