package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"achat/chat/protocol"
)

// DefaultLinger is how long a client whose input has ended waits for the
// server to close the connection, printing what still arrives, before it
// closes the connection itself.
const DefaultLinger = time.Second

// Errors that Run and Chat return. Wrapped errors say more; test them with
// errors.Is.
var (
	// ErrInterrupted: the context was cancelled (Ctrl-C). The connection
	// was closed at once.
	ErrInterrupted = errors.New("interrupted")

	// ErrRefused: the server closed the connection before it sent a single
	// line, while the user was still typing. The protocol of this chapter
	// has no other way to refuse a name.
	ErrRefused = errors.New("the server closed the connection without a word (is the name taken?)")

	// ErrNoName: no -name was given, and stdin ended before a name was typed.
	ErrNoName = errors.New("no name given")
)

// ServerError is the server's last line before it closed the connection,
// when that line was an error ("error: name \"alice\" is taken").
type ServerError struct {
	Text string // what follows "error: "
}

func (e *ServerError) Error() string { return "the server said: " + e.Text }

// errorPrefix starts every error line a server sends.
const errorPrefix = "error: "

// Config is what a client is run with.
type Config struct {
	Addr   string        // the server's host:port, or several, comma-separated (see Run); Chat ignores it
	Name   string        // the login name; "" means ask for it on Stdout and read it from Stdin
	Stdin  io.Reader     // what the user types, one message a line; must not be nil
	Stdout io.Writer     // where the server's lines are printed; must not be nil
	Logger *slog.Logger  // nil: log nothing
	Linger time.Duration // once Stdin has ended, the longest wait for the server to close; 0 means DefaultLinger
}

// Run connects to cfg.Addr over TCP and chats there, as Chat does.
//
// cfg.Addr may list the addresses of several nodes of one chat (chapter
// cluster), comma-separated. Run connects to the first that answers; when
// that node closes the connection while the user still has things to say,
// without an error line (a rolling restart), Run logs in again, under the
// same name, on the next node that answers, and goes on. What the user types
// meanwhile waits, and is sent there. What other clients sent while it
// moved may be lost (docs/10-cluster.md).
func Run(ctx context.Context, cfg Config) error {
	addrs := strings.Split(cfg.Addr, ",")
	next := 0 // the address to try first
	conn, err := dialFirst(ctx, addrs, &next)
	if err != nil {
		return err
	}
	typed := startTyping(cfg.Stdin)
	defer typed.stop()
	name, err := askName(ctx, typed, cfg.Name, cfg.Stdout)
	if err != nil {
		conn.Close()
		return err
	}
	quiet := 0 // sessions in a row that ended before the server said a word
	for {
		s, err := chat(ctx, conn, cfg, typed, name)
		if !s.wentAway(ctx) || len(addrs) == 1 {
			return err
		}
		// A node that refuses every login without a word (the chapters
		// before replies) must not make the client go round for ever.
		if quiet = quiet + 1; s.heard {
			quiet = 0
		}
		if quiet == len(addrs) {
			return err
		}
		s.log.Warn("the server closed the connection: logging in on the next one", "left", conn.RemoteAddr().String())
		if conn, err = dialFirst(ctx, addrs, &next); err != nil {
			return err
		}
	}
}

// dialFirst connects to the first of addrs that answers, trying each once,
// from *next on, and sets *next to the one after it.
func dialFirst(ctx context.Context, addrs []string, next *int) (net.Conn, error) {
	var dialer net.Dialer
	var errs []error
	for range addrs {
		addr := strings.TrimSpace(addrs[*next%len(addrs)])
		*next = (*next + 1) % len(addrs)
		conn, err := dialer.DialContext(ctx, "tcp", addr)
		if err == nil {
			return conn, nil
		}
		if ctx.Err() != nil {
			return nil, ErrInterrupted
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("cannot connect to %s: %w", strings.Join(addrs, ", "), errors.Join(errs...))
}

// Chat logs in on conn, then sends every line typed on cfg.Stdin and prints
// every line the server sends on cfg.Stdout. It closes conn before it
// returns, and it returns when:
//
//   - the server closes the connection: nil, or why that was not a normal end
//     (ErrRefused, a *ServerError, a broken connection);
//   - stdin ends (Ctrl-D): Chat half-closes conn, so the server reads every
//     line before the end of the input, and keeps printing until the server
//     closes, or cfg.Linger has passed: nil;
//   - ctx is cancelled (Ctrl-C): Chat closes conn at once and stops printing:
//     ErrInterrupted.
//
// Chat does not wait for the goroutine that reads cfg.Stdin, which may be
// blocked in a Read that nothing can interrupt (see startTyping). It ends at
// the next line or at the end of cfg.Stdin; a caller that can, closes it.
func Chat(ctx context.Context, conn net.Conn, cfg Config) error {
	defer conn.Close()
	typed := startTyping(cfg.Stdin)
	defer typed.stop()
	name, err := askName(ctx, typed, cfg.Name, cfg.Stdout)
	if err != nil {
		return err
	}
	_, err = chat(ctx, conn, cfg, typed, name)
	return err
}

// chat is Chat once the name is known, with the typist that Run keeps from
// one connection to the next. It returns the session, which says how it
// ended.
func chat(ctx context.Context, conn net.Conn, cfg Config, typed *typist, name string) (*session, error) {
	defer conn.Close()
	// Closing conn makes every Read and Write on it fail at once: this is how
	// Ctrl-C reaches a Write blocked on a server that does not read.
	stopClosing := context.AfterFunc(ctx, func() { conn.Close() })
	defer stopClosing()

	s := &session{conn: conn, typed: typed, log: cfg.logger(), linger: cfg.linger()}
	if err := s.send(name); err != nil {
		return s, s.interruptedOr(ctx, fmt.Errorf("logging in: %w", err))
	}
	s.name = name
	s.log.Info("logged in", "name", name)

	s.received = make(chan ending, 1)
	go receive(conn, cfg.Stdout, s.received) // ends when the connection does; converse waits on s.received
	return s, s.converse(ctx)
}

func (cfg Config) logger() *slog.Logger {
	if cfg.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return cfg.Logger
}

func (cfg Config) linger() time.Duration {
	if cfg.Linger == 0 {
		return DefaultLinger
	}
	return cfg.Linger
}

// session is what Chat's own goroutine holds. Only that goroutine writes to
// conn, so lines reach the server whole and in the order they were typed.
type session struct {
	conn     net.Conn
	name     string
	typed    *typist
	received chan ending // the receiver's one report, when it ends
	log      *slog.Logger
	linger   time.Duration

	userDone   bool  // stdin ended: the user has nothing more to say
	sendErr    error // the Write that failed, if one did
	closedConn bool  // converse closed conn when the linger ended
	heard      bool  // the server sent a line
	lastLine   string
}

// wentAway reports whether the server ended the session while the user
// still had things to say, without an error line: the way a node of a
// cluster leaves.
func (s *session) wentAway(ctx context.Context) bool {
	return ctx.Err() == nil && !s.userDone && !s.closedConn && s.received != nil &&
		!strings.HasPrefix(s.lastLine, errorPrefix)
}

// askName returns the login name: flagName, or the first line typed after a
// "name: " prompt.
func askName(ctx context.Context, typed *typist, flagName string, stdout io.Writer) (string, error) {
	line := flagName
	if line == "" {
		io.WriteString(stdout, "name: ")
		var ok bool
		select {
		case line, ok = <-typed.lines:
			if !ok {
				return "", typed.endedOr(ErrNoName)
			}
		case <-ctx.Done():
			return "", ErrInterrupted
		}
	}
	name, err := protocol.ParseLogin(line)
	if err != nil {
		return "", fmt.Errorf("name %q: %w", line, err)
	}
	return name, nil
}

// converse sends typed lines until stdin ends, and returns when the receiver
// has ended: by itself (the server closed), or because converse closed conn
// (Ctrl-C, or the linger has passed).
func (s *session) converse(ctx context.Context) error {
	lines := s.typed.lines
	var lingerEnded <-chan time.Time // nil, which never fires, until input ends
	for {
		select {
		case line, open := <-lines:
			if open && s.sendTyped(line) {
				continue
			}
			// Stdin has ended, or the connection is broken: stop sending.
			s.userDone = !open
			lines = nil
			lingerEnded = s.halfClose()
		case end := <-s.received:
			// Ctrl-C closes conn, which may end the receiver before this
			// select sees ctx.Done: Ctrl-C wins.
			return s.interruptedOr(ctx, s.verdict(end))
		case <-lingerEnded:
			s.log.Info("the server kept the connection open: closing it", "linger", s.linger)
			s.conn.Close()
			s.closedConn = true
			return s.interruptedOr(ctx, s.verdict(<-s.received))
		case <-ctx.Done():
			s.conn.Close() // as the AfterFunc does: whichever is first closes it
			// The receiver's Read fails at once. (Only a Write to a stdout
			// that does not take it, a terminal paused by Ctrl-S, say, holds
			// the receiver, and so Chat, up.)
			<-s.received
			return ErrInterrupted
		}
	}
}

// send writes one line to the server.
func (s *session) send(line string) error {
	_, err := io.WriteString(s.conn, line+"\n")
	return err
}

// sendTyped sends a line the user typed and reports whether it could.
func (s *session) sendTyped(line string) bool {
	if err := s.send(line); err != nil {
		s.sendErr = err
		s.log.Info("cannot send: the connection is broken", "err", err)
		return false
	}
	return true
}

// halfClose ends what the client sends but not what it reads: the server
// reads the end of the input after every line sent before it, and can still
// answer. It returns the channel that fires when the linger is over.
//
// A *net.TCPConn can half-close (shutdown(SHUT_WR)); so can a *net.UnixConn
// or a *tls.Conn. A net.Pipe cannot: the server never sees the end of the
// input, and the linger ends the session.
func (s *session) halfClose() <-chan time.Time {
	s.log.Info("half-closing the connection", "stdin ended", s.userDone)
	hc, ok := s.conn.(interface{ CloseWrite() error })
	switch {
	case !ok:
		s.log.Info("this connection cannot half-close: waiting for the linger")
	case hc.CloseWrite() != nil:
		s.log.Info("half-close failed: waiting for the linger")
	}
	return time.After(s.linger)
}

// verdict turns how the receiver ended into what Chat returns.
func (s *session) verdict(end ending) error {
	s.heard, s.lastLine = end.heard, end.lastLine
	switch {
	case strings.HasPrefix(end.lastLine, errorPrefix):
		return &ServerError{Text: strings.TrimPrefix(end.lastLine, errorPrefix)}
	case !end.heard && !s.userDone:
		return fmt.Errorf("logging in as %q: %w", s.name, ErrRefused)
	case end.printErr != nil:
		return end.printErr
	case end.readErr != nil && !s.closedConn: // if Chat closed conn, the error says only that
		return end.readErr
	case s.sendErr != nil:
		return fmt.Errorf("a typed line was not sent: %w", s.sendErr)
	case s.userDone:
		return s.typed.endedOr(nil) // a line too long, say, ended the input
	}
	return nil
}

func (s *session) interruptedOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ErrInterrupted
	}
	return err
}

// ending is the receiver's report: how the server's side of the conversation
// ended.
type ending struct {
	heard    bool   // the server sent at least one line
	lastLine string // the last line it sent
	readErr  error  // nil if the connection ended with a clean close
	printErr error  // why stdout failed, if it did
}

// receive is the server -> stdout goroutine. Chat starts it after the login
// and it is the only reader of conn and, from then on, the only writer of
// stdout. It ends when the server closes the connection, when Chat closes it,
// or when stdout fails, and reports how on done (buffered, so it never waits).
// Chat always waits for that report before it returns, so nothing is printed
// after Chat has returned.
func receive(conn net.Conn, stdout io.Writer, done chan<- ending) {
	var end ending
	lines := protocol.NewScanner(conn)
	for lines.Scan() {
		end.heard, end.lastLine = true, lines.Text()
		if _, err := io.WriteString(stdout, end.lastLine+"\n"); err != nil {
			end.printErr = fmt.Errorf("printing: %w", err)
			break
		}
	}
	if err := lines.Err(); err != nil {
		end.readErr = fmt.Errorf("reading from the server: %w", err)
	}
	done <- end
}

// typist reads what the user types and hands it over one line at a time.
type typist struct {
	lines chan string   // closed by the stdin goroutine when stdin ends
	err   error         // why stdin ended (nil at EOF); read only after lines is closed
	quit  chan struct{} // closed by Chat when it returns: take no more lines
}

// startTyping starts the stdin goroutine.
//
// Chat cannot always wait for this goroutine. A Read of os.Stdin blocks until
// the user types, and Go has no portable way to interrupt it: os.Stdin is a
// blocking file descriptor, for which SetReadDeadline fails with
// os.ErrNoDeadline ("file type does not support deadline"; checked on Linux
// with a pipe, a terminal, a file and /dev/null). Making fd 0 non-blocking
// would enable deadlines for pipes and terminals, but that flag belongs to
// the open file, which the shell shares: a shell that then reads it gets
// EAGAIN. Closing os.Stdin does not wake a blocked Read either.
//
// So when the server goes away, Chat returns and leaves this goroutine
// behind. It owns nothing that needs cleaning up: it never touches conn or
// stdout, and once quit is closed it drops what it reads and ends at the
// next line, or at the end of stdin. The achat command exits right after
// Chat returns; a test gives Chat an io.Pipe, which it can close.
func startTyping(stdin io.Reader) *typist {
	t := &typist{lines: make(chan string), quit: make(chan struct{})}
	go t.read(protocol.NewScanner(stdin)) // ends at the end of stdin, or at the first line after quit; nobody waits
	return t
}

func (t *typist) read(stdin *protocol.Scanner) {
	defer close(t.lines)
	for stdin.Scan() {
		select {
		case t.lines <- stdin.Text():
		case <-t.quit:
			return
		}
	}
	if err := stdin.Err(); err != nil {
		t.err = fmt.Errorf("reading stdin: %w", err)
	}
}

// stop tells the stdin goroutine that no more lines will be taken.
func (t *typist) stop() { close(t.quit) }

// endedOr returns why stdin ended, or otherwise if it ended cleanly. Call it
// only once lines has been seen closed.
func (t *typist) endedOr(otherwise error) error {
	if t.err != nil {
		return t.err
	}
	return otherwise
}
