package chattest_test

import (
	"bytes"
	"context"
	"hash/fnv"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"achat/chat/chattest"
	"achat/chat/chattrace"
	"achat/chat/shutdown"
	"achat/model"
)

// The harness must be able to fail. Each test here breaks the correct
// chapter, chat/shutdown, in one way, and expects the properties to catch it
// with a shrunk schedule.

// talk is a setting for the rewriting bugs: three clients logged in, talking
// a lot, so that lines are many; no step that makes a schedule race.
var talk = chattest.Options{
	NoRush: true,
	Start:  chattest.LoggedIn("alice", "bob", "carol"),
	Steps: []chattest.StepKind{
		chattest.Sends, chattest.SendsBurst, chattest.SendsBurst,
		chattest.StopsReading, chattest.ResumesReading, chattest.CtrlC, chattest.Sends,
	},
}

func TestHarnessCatchesAWriterThatDropsOneMessageInAThousand(t *testing.T) {
	opts := talk
	opts.Schedules, opts.MaxSteps = 1000, 15 // many lines; short schedules shrink fast
	chattest.ExpectCounterexample(t, rewriting(dropOneInAThousand), opts, model.Delivery)
}

func TestHarnessCatchesABrokerThatDeliversTwice(t *testing.T) {
	chattest.ExpectCounterexample(t, rewriting(deliverSomeTwice), talk, model.Duplicate)
}

func TestHarnessCatchesAWriterThatGarblesTheSender(t *testing.T) {
	chattest.ExpectCounterexample(t, rewriting(garbleSomeSenders), talk, model.Spurious)
}

func TestHarnessCatchesABrokerThatDeliversOutOfOrder(t *testing.T) {
	chattest.ExpectCounterexample(t, rewriting(swapSomePairs), talk, model.Order)
}

func TestHarnessCatchesAShutdownThatReturnsBeforeTheWritersFinish(t *testing.T) {
	chattest.ExpectCounterexample(t, func(h *chattrace.Hooks) chattest.Server {
		return earlyShutdown{shutdown.New(shutdown.Config{Hooks: h})}
	}, chattest.Options{
		// Messages wait in the queue of a client that does not read: lost,
		// when the program exits before its writer is done.
		NoRush: true,
		Start:  chattest.NotReading(),
		Steps:  []chattest.StepKind{chattest.Sends, chattest.Sends, chattest.CtrlC},
	}, model.Delivery)
}

func TestHarnessCatchesAGoroutineLeftBehind(t *testing.T) {
	chattest.ExpectCounterexample(t, func(h *chattrace.Hooks) chattest.Server {
		return &leaky{Server: shutdown.New(shutdown.Config{Hooks: h})}
	}, chattest.Options{NoRush: true}, chattest.Leak)
}

func TestHarnessCatchesAHangOnASilentClient(t *testing.T) {
	chattest.ExpectCounterexample(t, func(h *chattrace.Hooks) chattest.Server {
		return deafServer{shutdown.New(shutdown.Config{Hooks: h})}
	}, chattest.Options{NoRush: true}, chattest.Termination)
}

// A rewriter passes a connection's output through, one line at a time.
type rewriter func(line string) []string

// rewriting returns chat/shutdown with every connection's output passed
// through a rewriter of its own, made by newRewriter.
func rewriting(newRewriter func() rewriter) chattest.NewServer {
	return func(h *chattrace.Hooks) chattest.Server {
		return rewritingServer{shutdown.New(shutdown.Config{Hooks: h}), newRewriter}
	}
}

type rewritingServer struct {
	*shutdown.Server
	newRewriter func() rewriter
}

func (s rewritingServer) Serve(l net.Listener) error {
	return s.Server.Serve(wrapListener{l, func(c net.Conn) net.Conn {
		return &rewritingConn{Conn: c, rewrite: s.newRewriter()}
	}})
}

type wrapListener struct {
	net.Listener
	wrap func(net.Conn) net.Conn
}

func (l wrapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.wrap(c), nil
}

// rewritingConn rewrites the complete lines of what the server writes.
type rewritingConn struct {
	net.Conn
	rewrite rewriter
	mu      sync.Mutex
	partial string // the start of a line whose end is still to be written
}

func (c *rewritingConn) NetConn() net.Conn { return c.Conn }

func (c *rewritingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	text := c.partial + string(p)
	end := strings.LastIndexByte(text, '\n') + 1
	c.partial = text[end:]
	if end == 0 {
		return len(p), nil
	}
	var out []string
	for _, line := range strings.Split(text[:end-1], "\n") {
		out = append(out, c.rewrite(line+"\n")...)
	}
	if _, err := c.Conn.Write([]byte(strings.Join(out, ""))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// every picks lines by a hash of their text, so that a schedule, replayed,
// breaks the same way.
func every(n uint32, line string) bool {
	h := fnv.New32a()
	h.Write([]byte(line))
	return h.Sum32()%n == 0
}

func dropOneInAThousand() rewriter {
	return func(line string) []string {
		if every(1000, line) {
			return nil
		}
		return []string{line}
	}
}

func deliverSomeTwice() rewriter {
	return func(line string) []string {
		if every(10, line) {
			return []string{line, line}
		}
		return []string{line}
	}
}

// garbleSomeSenders writes some deliveries as if another client sent them.
func garbleSomeSenders() rewriter {
	return func(line string) []string {
		if from, ok := strings.CutPrefix(line, "from "); ok && every(10, line) {
			return []string{"from x" + from}
		}
		return []string{line}
	}
}

// swapSomePairs holds some lines back and writes them after the next one.
func swapSomePairs() rewriter {
	var held string
	return func(line string) []string {
		switch {
		case held != "":
			out := []string{line, held}
			held = ""
			return out
		case every(3, line):
			held = line
			return nil
		}
		return []string{line}
	}
}

// earlyShutdown returns from Shutdown while the drain goes on.
type earlyShutdown struct{ *shutdown.Server }

func (s earlyShutdown) Shutdown(ctx context.Context) error {
	go s.Server.Shutdown(ctx) // BUG, on purpose: nobody waits for it
	return nil
}

// leaky starts a goroutine that nothing ends.
type leaky struct {
	*shutdown.Server
	never chan struct{}
}

func (s *leaky) Serve(l net.Listener) error {
	s.never = make(chan struct{})
	go func() { <-s.never }() // BUG, on purpose: nothing closes never
	return s.Server.Serve(l)
}

// deafServer's connections ignore read deadlines, so a reader that waits for
// a login line cannot be woken at shutdown, and its Shutdown has no drain
// deadline that would close them.
type deafServer struct{ *shutdown.Server }

func (s deafServer) Shutdown(context.Context) error {
	return s.Server.Shutdown(context.Background())
}

func (s deafServer) Serve(l net.Listener) error {
	return s.Server.Serve(wrapListener{l, func(c net.Conn) net.Conn { return deafConn{c} }})
}

type deafConn struct{ net.Conn }

func (c deafConn) NetConn() net.Conn               { return c.Conn }
func (c deafConn) SetReadDeadline(time.Time) error { return nil }

// Over TCP the harness cannot see the server settle: it waits for what the
// clients sent to be taken in, and a wait that times out is a failure. A
// server that reads its clients' lines and throws them away owes nothing by
// its own hooks, and is caught all the same.
func TestHarnessCatchesOverTCPAServerThatThrowsLinesAway(t *testing.T) {
	chattest.ExpectCounterexample(t, func(h *chattrace.Hooks) chattest.Server {
		return forgetfulServer{shutdown.New(shutdown.Config{Hooks: h})}
	}, chattest.Options{
		Transport: chattest.TCP, NoRush: true, SettleGuard: 200 * time.Millisecond, MaxSteps: 8,
		Steps: []chattest.StepKind{chattest.Sends, chattest.Waits},
	}, model.Progress)
}

// forgetfulServer's connections read the login line, then read and discard
// everything that follows.
type forgetfulServer struct{ *shutdown.Server }

func (s forgetfulServer) Serve(l net.Listener) error {
	return s.Server.Serve(wrapListener{l, func(c net.Conn) net.Conn { return &forgetfulConn{Conn: c} }})
}

type forgetfulConn struct {
	net.Conn
	mu    sync.Mutex
	login bool // the login line has been read
}

func (c *forgetfulConn) NetConn() net.Conn { return c.Conn }

func (c *forgetfulConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	login := c.login
	c.mu.Unlock()
	if !login {
		n, err := c.Conn.Read(p)
		if i := bytes.IndexByte(p[:n], '\n'); i >= 0 { // keep the login line, nothing after it
			c.mu.Lock()
			c.login = true
			c.mu.Unlock()
			return i + 1, err
		}
		return n, err
	}
	for {
		if _, err := c.Conn.Read(p); err != nil { // read deadlines still wake it
			return 0, err
		}
	}
}
