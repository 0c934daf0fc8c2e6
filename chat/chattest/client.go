package chattest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"achat/chat/chattrace"
	"achat/chat/protocol"
)

// Server is what every chapter's *Server is.
type Server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
}

// NewServer builds a chapter's server with the given trace hooks.
type NewServer func(hooks *chattrace.Hooks) Server

// readGuard bounds every read a test client makes, so that a server bug fails
// the test with a message instead of hanging it until -timeout. It is a guard,
// not a timing assertion: a correct server answers in microseconds.
const readGuard = 20 * time.Second

// Client is one test client on a real or in-memory connection.
type Client struct {
	t     testing.TB
	conn  net.Conn
	lines *bufio.Scanner
	guard bool // set read deadlines (not inside a synctest bubble)
}

// Dial connects a client to addr over TCP.
func Dial(t testing.TB, addr string) *Client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return NewClient(t, conn, true)
}

// NewClient wraps conn; guard sets a read deadline on every read.
func NewClient(t testing.TB, conn net.Conn, guard bool) *Client {
	lines := bufio.NewScanner(conn)
	lines.Buffer(nil, 2*protocol.MaxLineBytes)
	return &Client{t: t, conn: conn, lines: lines, guard: guard}
}

// Login dials addr, logs in as name, and returns once the server routes
// messages to name: the client messages itself and waits for the echo.
func Login(t testing.TB, addr, name string) *Client {
	t.Helper()
	c := Dial(t, addr)
	c.LoginAs(name)
	return c
}

// LoginAs sends the login line and waits until the server routes to name.
func (c *Client) LoginAs(name string) {
	c.t.Helper()
	c.Send(name)
	c.Send(name + ": logged in?")
	c.Expect("from " + name + ": logged in?")
}

// Send writes one line.
func (c *Client) Send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, line+"\n"); err != nil {
		c.t.Fatalf("send %q: %v", line, err)
	}
}

// ReadLine returns the next line, or the error that ended the input (io.EOF
// when the server closed the connection cleanly). At the end of the input
// the client closes its connection, as nc and achat client do: a server that
// waits for its clients to close (see chat/shutdown's closeGracefully) is not
// kept waiting.
func (c *Client) ReadLine() (string, error) {
	if c.guard {
		c.conn.SetReadDeadline(time.Now().Add(readGuard))
	}
	if c.lines.Scan() {
		return c.lines.Text(), nil
	}
	c.conn.Close()
	if err := c.lines.Err(); err != nil {
		return "", err
	}
	return "", io.EOF
}

// Expect reads one line and fails the test unless it is want.
func (c *Client) Expect(want string) {
	c.t.Helper()
	got, err := c.ReadLine()
	if err != nil {
		c.t.Fatalf("waiting for %q: %v", want, err)
	}
	if got != want {
		c.t.Fatalf("got %q, want %q", got, want)
	}
}

// ExpectClosed reads to the end of the input and fails the test if a line
// comes first, or if the input ends with an error other than a clean close
// or a reset.
func (c *Client) ExpectClosed() {
	c.t.Helper()
	line, err := c.ReadLine()
	switch {
	case err == nil:
		c.t.Fatalf("got %q, want the connection closed", line)
	case errors.Is(err, io.EOF), isReset(err):
	default:
		c.t.Fatalf("want the connection closed, got %v", err)
	}
}

// ExpectRefused is ExpectClosed, but for one line that starts with
// "error: ", which the server may send first: the chapters from disconnect
// on say why they refuse a client.
func (c *Client) ExpectRefused() {
	c.t.Helper()
	line, err := c.ReadLine()
	if err == nil && !strings.HasPrefix(line, "error: ") {
		c.t.Fatalf("got %q, want an error line or the connection closed", line)
	}
	if err == nil {
		c.ExpectClosed()
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// CloseWrite half-closes a TCP or HalfPipe client: the server reads EOF, and the client
// can still read.
func (c *Client) CloseWrite() {
	c.t.Helper()
	if err := c.conn.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		c.t.Fatalf("close write: %v", err)
	}
}

// Close closes the client's connection.
func (c *Client) Close() { c.conn.Close() }

// Conn returns the client's connection.
func (c *Client) Conn() net.Conn { return c.conn }
