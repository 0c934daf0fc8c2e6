package client

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"achat/chat/chattest"
	"achat/chat/protocol"
	"achat/chat/shutdown"
)

// guard bounds every wait of these tests, so that a bug fails the test with a
// message instead of hanging it until -timeout. It is a guard, not a timing
// assertion: everything waited for happens in microseconds. Inside a
// synctest bubble time is fake, and the guard fires as soon as every
// goroutine is stuck.
const guard = 20 * time.Second

// terminal is a user's terminal running a client: the test types on its
// keyboard (the client's stdin) and reads its screen (the client's stdout).
type terminal struct {
	t         testing.TB
	cfg       Config
	keyboard  *io.PipeWriter
	screen    chan string // lines printed, buffered so the client never waits for the test
	done      chan error  // the client's result
	interrupt func()      // Ctrl-C
}

// newTerminal returns a terminal for a client configured by cfg, whose Stdin
// and Stdout it sets. The test's cleanup presses Ctrl-C, closes the keyboard
// and waits for the client, so no goroutine outlives the test.
func newTerminal(t testing.TB, cfg Config) *terminal {
	stdin, keyboard := io.Pipe()
	stdout, display := io.Pipe()
	cfg.Stdin, cfg.Stdout = stdin, display
	term := &terminal{t: t, cfg: cfg, keyboard: keyboard, screen: make(chan string, 10_000), done: make(chan error, 1)}
	screenDone := make(chan struct{})
	go term.show(stdout, screenDone) // ends when display is closed, in the cleanup
	t.Cleanup(func() {
		term.interrupt()
		keyboard.Close() // the stdin goroutine, if Chat left it behind, ends
		<-term.done
		display.Close()
		<-screenDone
	})
	return term
}

// show copies what the client prints to screen, one line at a time.
func (term *terminal) show(stdout io.Reader, done chan<- struct{}) {
	defer close(done)
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		term.screen <- lines.Text()
	}
}

// run starts the client with Run. Call run or chat once.
func (term *terminal) run() {
	term.start(func(ctx context.Context) error { return Run(ctx, term.cfg) })
}

// chat starts the client with Chat, on conn.
func (term *terminal) chat(conn net.Conn) {
	term.start(func(ctx context.Context) error { return Chat(ctx, conn, term.cfg) })
}

func (term *terminal) start(client func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	term.interrupt = cancel
	go func() { term.done <- client(ctx) }() // ends when the client returns; the cleanup waits
}

// typeLine types line and Enter. It returns once the client has read it.
func (term *terminal) typeLine(line string) {
	term.t.Helper()
	_, err := io.WriteString(term.keyboard, line+"\n")
	require.NoError(term.t, err)
}

// ctrlD ends the client's stdin.
func (term *terminal) ctrlD() { term.keyboard.Close() }

// expect fails the test unless the next line printed is want.
func (term *terminal) expect(want string) {
	term.t.Helper()
	select {
	case got := <-term.screen:
		require.Equal(term.t, want, got)
	case <-time.After(guard):
		term.t.Fatalf("waiting for %q to be printed: the guard expired", want)
	}
}

// exit waits for the client to return and returns its result.
func (term *terminal) exit() error {
	term.t.Helper()
	select {
	case err := <-term.done:
		term.done <- err // for the cleanup
		return err
	case <-time.After(guard):
		term.t.Fatalf("the client did not return: the guard expired")
		return nil
	}
}

// requireRunning fails the test if the client has returned.
func (term *terminal) requireRunning() {
	term.t.Helper()
	require.Empty(term.t, term.done, "the client returned early")
}

// requireNothingMorePrinted fails the test if an unexpected line was printed.
func (term *terminal) requireNothingMorePrinted() {
	term.t.Helper()
	require.Empty(term.t, term.screen)
}

// startServer serves the reference server (the shutdown chapter's) on
// loopback and returns it with its address.
func startServer(t *testing.T) (*shutdown.Server, string) {
	srv := shutdown.New(shutdown.Config{})
	return srv, chattest.Start(t, srv)
}

// loggedIn types a message to the client itself and waits for its echo:
// once it arrives the server routes messages to the client.
func (term *terminal) loggedIn(name string) {
	term.t.Helper()
	term.typeLine(name + ": am I in?")
	term.expect("from " + name + ": am I in?")
}

// halfCloseSpy is a TCP connection that reports when it is half-closed.
type halfCloseSpy struct {
	*net.TCPConn
	halfClosed chan struct{}
}

func (c *halfCloseSpy) CloseWrite() error {
	defer close(c.halfClosed)
	return c.TCPConn.CloseWrite()
}

func dialSpy(t *testing.T, addr string) *halfCloseSpy {
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	return &halfCloseSpy{TCPConn: conn.(*net.TCPConn), halfClosed: make(chan struct{})}
}

func TestCtrlDDeliversEveryTypedLineAndPrintsLaterReplies(t *testing.T) {
	srv, addr := startServer(t)
	bob := chattest.Login(t, addr, "bob")
	alice := newTerminal(t, Config{Name: "alice", Linger: time.Hour}) // only the server ends it
	conn := dialSpy(t, addr)
	alice.chat(conn)
	alice.loggedIn("alice")

	alice.typeLine("bob: one")
	alice.typeLine("bob: two")
	alice.ctrlD()
	select {
	case <-conn.halfClosed:
	case <-time.After(guard):
		t.Fatal("the client did not half-close: the guard expired")
	}
	bob.Expect("from alice: one")
	bob.Expect("from alice: two")

	bob.Send("alice: a reply after your Ctrl-D")
	alice.expect("from bob: a reply after your Ctrl-D")
	alice.requireRunning()

	require.NoError(t, srv.Shutdown(context.Background()))
	require.NoError(t, alice.exit(), "the server closed the connection: a clean end")
	alice.requireNothingMorePrinted()
}

func TestServerShutdownDrainsToStdoutThenTheClientSucceeds(t *testing.T) {
	const n = 1000
	srv, addr := startServer(t)
	alice := newTerminal(t, Config{Addr: addr, Name: "alice"})
	alice.run()
	alice.loggedIn("alice")
	bob := chattest.Login(t, addr, "bob")
	for i := range n {
		bob.Send(fmt.Sprintf("alice: %d", i))
	}
	bob.Send("bob: sent")
	bob.Expect("from bob: sent") // bob's n lines came before it: all are routed

	require.NoError(t, srv.Shutdown(context.Background()))
	for i := range n {
		alice.expect(fmt.Sprintf("from bob: %d", i))
	}
	require.NoError(t, alice.exit())
	alice.requireNothingMorePrinted()
}

// fakeServer listens on loopback and runs serve on the first connection,
// after reading its login line from lines.
func fakeServer(t *testing.T, serve func(conn *net.TCPConn, lines *bufio.Reader)) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan struct{})
	go func() { // ends after one connection; the cleanup waits
		defer close(served)
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		lines := bufio.NewReader(conn)
		if _, err := lines.ReadString('\n'); err == nil {
			serve(conn.(*net.TCPConn), lines)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-served
	})
	return l.Addr().String()
}

func TestTheServerVanishingEndsTheClientWhileStdinIsBlocked(t *testing.T) {
	t.Run("closed", func(t *testing.T) {
		addr := fakeServer(t, func(conn *net.TCPConn, _ *bufio.Reader) {
			io.WriteString(conn, "from bob: last words\n")
		})
		alice := newTerminal(t, Config{Addr: addr, Name: "alice"})
		alice.run() // and never types: its stdin goroutine is blocked in Read
		alice.expect("from bob: last words")
		require.NoError(t, alice.exit())
	})
	t.Run("reset", func(t *testing.T) {
		addr := fakeServer(t, func(conn *net.TCPConn, lines *bufio.Reader) {
			io.WriteString(conn, "from bob: hello\n")
			lines.ReadString('\n') // the client has printed hello, and answered
			conn.SetLinger(0)      // so that Close sends a reset, as a host that restarted does
		})
		alice := newTerminal(t, Config{Addr: addr, Name: "alice"})
		alice.run()
		alice.expect("from bob: hello")
		alice.typeLine("bob: hello bob")
		err := alice.exit()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "reading from the server")
		assert.Contains(t, err.Error(), "connection reset")
	})
}

func TestATakenNameIsRefused(t *testing.T) {
	_, addr := startServer(t)
	chattest.Login(t, addr, "alice")
	second := newTerminal(t, Config{Addr: addr, Name: "alice"})
	second.run()
	err := second.exit()
	require.ErrorIs(t, err, ErrRefused)
	assert.EqualError(t, err, `logging in as "alice": the server closed the connection without a word (is the name taken?)`)
}

func TestAnErrorLineIsPrintedAndReturned(t *testing.T) {
	addr := fakeServer(t, func(conn *net.TCPConn, _ *bufio.Reader) {
		io.WriteString(conn, "error: name \"alice\" is taken\n")
	})
	alice := newTerminal(t, Config{Addr: addr, Name: "alice"})
	alice.run()
	alice.expect(`error: name "alice" is taken`)
	var serverErr *ServerError
	require.ErrorAs(t, alice.exit(), &serverErr)
	assert.Equal(t, `name "alice" is taken`, serverErr.Text)
}

func TestCannotConnect(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close() // nobody listens there now

	alice := newTerminal(t, Config{Addr: addr, Name: "alice"})
	alice.run()
	err = alice.exit()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot connect to "+addr)
	assert.Contains(t, err.Error(), "connection refused")
}

func TestABadNameIsRefusedBeforeItIsSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client, server := net.Pipe()
		defer server.Close()
		alice := newTerminal(t, Config{Name: "al,ice"})
		alice.chat(client)
		require.ErrorIs(t, alice.exit(), protocol.ErrNameBadChar)
		_, err := server.Read(make([]byte, 1))
		require.ErrorIs(t, err, io.EOF, "nothing was sent, and the connection is closed")
	})
}

// servePipe serves a reference server on an in-memory listener, inside a
// bubble, and shuts it down in the test's cleanup.
func servePipe(t *testing.T) *chattest.PipeListener {
	srv := shutdown.New(shutdown.Config{})
	l := chattest.NewPipeListener()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }() // ends once Shutdown begins; the cleanup waits
	t.Cleanup(func() {
		assert.NoError(t, srv.Shutdown(context.Background()))
		assert.ErrorIs(t, <-served, shutdown.ErrServerClosed)
	})
	return l
}

func dialPipe(t *testing.T, l *chattest.PipeListener) net.Conn {
	conn, err := l.Dial()
	require.NoError(t, err)
	return conn
}

func TestCtrlCStopsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := servePipe(t)
		bob := chattest.DialPipe(t, l)
		bob.LoginAs("bob")
		alice := newTerminal(t, Config{Name: "alice"})
		alice.chat(dialPipe(t, l))
		alice.loggedIn("alice")
		alice.typeLine("bob: before Ctrl-C")
		bob.Expect("from alice: before Ctrl-C")

		start := time.Now()
		alice.interrupt()
		require.ErrorIs(t, alice.exit(), ErrInterrupted)
		assert.Zero(t, time.Since(start), "fake time: no linger, no delay")
		alice.requireNothingMorePrinted()
	})
}

func TestCtrlCEndsAWriteBlockedOnAServerThatDoesNotRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client, server := net.Pipe()
		defer server.Close()
		login := bufio.NewReader(server)
		alice := newTerminal(t, Config{Name: "alice"})
		alice.chat(client)
		line, err := login.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "alice\n", line)

		alice.typeLine("bob: nobody reads this") // read from stdin, blocked in Write
		synctest.Wait()
		alice.requireRunning()
		alice.interrupt()
		require.ErrorIs(t, alice.exit(), ErrInterrupted)
	})
}

func TestCtrlCAtTheNamePrompt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client, server := net.Pipe()
		defer server.Close()
		alice := newTerminal(t, Config{})
		alice.chat(client)
		synctest.Wait() // the prompt is printed and the client waits for a name
		alice.interrupt()
		require.ErrorIs(t, alice.exit(), ErrInterrupted)
	})
}

func TestWithoutANameTheClientAsksForIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := servePipe(t)
		bob := newTerminal(t, Config{})
		bob.chat(dialPipe(t, l))
		bob.typeLine("bob")
		bob.typeLine("bob: am I in?")
		bob.expect("name: from bob: am I in?") // a prompt ends with no newline
	})
}

func TestStdinEndingBeforeANameIsAnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client, server := net.Pipe()
		defer server.Close()
		alice := newTerminal(t, Config{})
		alice.chat(client)
		alice.ctrlD()
		require.ErrorIs(t, alice.exit(), ErrNoName)
	})
}

// On a connection that cannot half-close, and with a server that keeps a
// peer's connection open after the end of its input (the shutdown chapter's
// does, until it shuts down), the linger ends the session.
func TestTheLingerEndsASessionTheServerKeepsOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const linger = 3 * time.Second
		l := servePipe(t)
		bob := chattest.DialPipe(t, l)
		bob.LoginAs("bob")
		alice := newTerminal(t, Config{Name: "alice", Linger: linger})
		alice.chat(dialPipe(t, l))
		alice.loggedIn("alice")

		alice.typeLine("bob: bye")
		alice.ctrlD()
		start := time.Now()
		bob.Expect("from alice: bye")
		bob.Send("alice: a reply while alice lingers")
		alice.expect("from bob: a reply while alice lingers")
		require.NoError(t, alice.exit())
		assert.Equal(t, linger, time.Since(start), "fake time: exactly the linger")
	})
}

func TestALineTooLongEndsTheInputWithAnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client, server := net.Pipe()
		alice := newTerminal(t, Config{Name: "alice", Linger: time.Hour})
		alice.chat(client)
		lines := bufio.NewReader(server)
		_, err := lines.ReadString('\n') // the login
		require.NoError(t, err)

		long := make([]byte, protocol.MaxLineBytes+10)
		for i := range long {
			long[i] = 'x'
		}
		go io.WriteString(alice.keyboard, string(long)+"\n") // ends when the keyboard is closed, in the cleanup
		synctest.Wait()                                      // the input has ended, and the client lingers
		alice.requireRunning()
		server.Close() // the server leaves
		require.ErrorIs(t, alice.exit(), bufio.ErrTooLong)
	})
}
