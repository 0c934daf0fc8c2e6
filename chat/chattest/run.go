package chattest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"achat/chat/chattrace"
	"achat/chat/protocol"
	"achat/model"
)

// The properties the harness checks itself; model.Check checks the others.
const (
	Termination model.Property = "Termination: Shutdown did not return within the bound"
	Leak        model.Property = "No leaks: a goroutine or a connection of the server outlived Shutdown"
	Eviction    model.Property = "Eviction: a client was disconnected as too slow with no more lines waiting than the bound"
)

// priority orders the properties for a failing schedule: rapid is told the
// first one broken, as a fixed text, so that it can shrink the schedule
// while the same property stays broken. Each is worse than those after it,
// and can cause them.
var priority = []model.Property{
	Termination, Leak, Eviction, model.Acceptance, model.Impostor, model.Login, model.Delivery,
	model.Spurious, model.Duplicate, model.Order,
}

// run is one schedule running against one server.
type run struct {
	opts   Options
	srv    Server
	pipes  *PipeListener // Pipe transport
	addr   string        // TCP transport
	served chan error    // Serve's result
	exited atomic.Bool   // the "process" has exited: the server's writes fail
	before goleak.Option // the goroutines that ran before the server

	mu       sync.Mutex // guards the fields below and each client's shared fields
	history  []model.Event
	ids      map[any]int          // the server's end of a connection -> its client's id
	seen     map[any]bool         // the connections the server accepted
	closed   map[any]bool         // the connections the server closed
	clients  [clientSlots]*client // the client in each slot now
	all      []*client            // every client, by id
	conns    []net.Conn           // the server's ends, to close at cleanup
	story    []string
	texts    int
	hold     holdState
	changed  chan struct{}  // a token after every recorded event, for settleTCP
	shutdown chan error     // Shutdown's result; nil until Ctrl-C
	cancel   func()         // cancels Shutdown's context
	goers    sync.WaitGroup // the harness's own goroutines that call the server
}

// holdState is the HoldsReader step: the server's reader of client id is
// held inside its Accepted hook, with the line, until release is closed.
type holdState struct {
	id      int
	armed   bool          // the next line accepted from slot is held
	held    bool          // a line is held now
	release chan struct{} // closed to let it go
}

// client is the harness's side of one connection. A slot holds one client
// at a time; once its client has left, a new one may take the slot.
type client struct {
	id           int // its connection's number in the model's history
	slot         int
	conn         net.Conn
	key          any         // its key in run.ids
	outbox       chan string // lines for writeLoop; closed by closeOutbox
	outboxClosed bool
	loginSent    bool
	name         string // what it logged in as
	messages     int    // the message lines it sent that the server must accept
	left         bool   // it disconnected, or could not connect
	quiet        bool   // it ended its input (Leaves, or a line too long), and reads on
	paused       bool
	forGood      bool          // paused, and never resumed
	gate         chan struct{} // closed while the client reads
	received     []string      // complete lines read, but error lines
	errors       []string      // the error lines read
	ended        bool          // readLoop has returned
	done         sync.WaitGroup
}

func newRun(opts Options, newServer NewServer) *run {
	r := &run{opts: opts, ids: map[any]int{}, seen: map[any]bool{}, closed: map[any]bool{},
		changed: make(chan struct{}, 1)}
	r.before = goleak.IgnoreCurrent()
	r.srv = newServer(&chattrace.Hooks{
		LoggedIn:      r.loggedIn,
		LoggedOut:     r.loggedOut,
		Evicted:       r.evicted,
		Accepted:      r.accepted,
		ShutdownBegan: func() { r.record(model.Event{Kind: model.ShutdownBegan}) },
	})
	return r
}

// start serves on a new listener of the run's transport.
func (r *run) start() error {
	var l net.Listener
	if r.opts.Transport == Pipe {
		r.pipes = NewPipeListener()
		l = r.pipes
	} else {
		tcp, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		r.addr, l = tcp.Addr().String(), tcp
	}
	r.served = make(chan error, 1)
	r.goers.Go(func() { r.served <- r.srv.Serve(&recordingListener{l, r}) }) // ends once Shutdown begins
	return nil
}

func (r *run) say(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.story = append(r.story, fmt.Sprintf(format, args...))
}

func (r *run) record(ev model.Event) {
	r.mu.Lock()
	r.history = append(r.history, ev)
	r.mu.Unlock()
	r.signal()
}

func (r *run) signal() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// idOf returns the client id of conn, the server's end of a connection,
// unwrapping it (as crypto/tls.Conn.NetConn does) if a server wrapped it.
func (r *run) idOf(conn net.Conn) int {
	for {
		w, ok := conn.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		conn = w.NetConn()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if sc, ok := conn.(*serverConn); ok {
		if id, ok := r.ids[sc.key]; ok {
			return id
		}
	}
	return -1 // not a connection of this run: the model reports what it gets
}

func (r *run) loggedIn(conn net.Conn, name string) {
	r.record(model.Event{Kind: model.LoggedIn, Conn: r.idOf(conn), Name: name})
}

func (r *run) loggedOut(conn net.Conn, name string) {
	r.record(model.Event{Kind: model.LoggedOut, Conn: r.idOf(conn), Name: name})
}

func (r *run) evicted(conn net.Conn, name string, waiting int) {
	r.record(model.Event{Kind: model.Evicted, Conn: r.idOf(conn), Name: name, Count: waiting})
}

// accepted records the message, then holds the reader if a HoldsReader step
// asked for it. Holding a goroutine here is a schedule the server must
// survive anyway: a reader can be descheduled at this very point.
func (r *run) accepted(conn net.Conn, from string, msg protocol.Message) {
	id := r.idOf(conn)
	r.record(model.Event{Kind: model.Accepted, Conn: id, Name: from, To: msg.To, Text: msg.Text})
	r.mu.Lock()
	hold := r.hold.armed && r.hold.id == id
	if hold {
		r.hold.armed, r.hold.held = false, true
	}
	release := r.hold.release
	r.mu.Unlock()
	if hold {
		<-release
	}
}

// recordingListener wraps each accepted connection in a serverConn.
type recordingListener struct {
	net.Listener
	r *run
}

func (l *recordingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	var key any = conn // a pipe end is its own key
	if l.r.opts.Transport == TCP {
		key = conn.RemoteAddr().String() // the client's LocalAddr
	}
	l.r.mu.Lock()
	l.r.conns = append(l.r.conns, conn)
	l.r.seen[key] = true
	l.r.mu.Unlock()
	l.r.signal()
	return &serverConn{Conn: conn, key: key, r: l.r}, nil
}

// serverConn is the server's end of a connection. Once the run's "process"
// has exited, its writes fail: what a server writes after Shutdown returned
// would, in a real program, never be written.
type serverConn struct {
	net.Conn
	key any
	r   *run
}

// Close records that the server closed the connection: a client that does
// not read would not notice.
func (c *serverConn) Close() error {
	c.r.mu.Lock()
	c.r.closed[c.key] = true
	c.r.mu.Unlock()
	c.r.signal()
	return c.Conn.Close()
}

func (c *serverConn) Write(p []byte) (int, error) {
	if c.r.exited.Load() {
		return 0, net.ErrClosed
	}
	return c.Conn.Write(p)
}

// connect opens client slot's connection and starts its two goroutines.
func (r *run) connect(slot int) {
	var conn net.Conn
	var key any
	var err error
	if r.opts.Transport == Pipe {
		var server net.Conn
		conn, server, err = r.pipes.DialPair()
		key = server
	} else {
		conn, err = net.Dial("tcp", r.addr)
		if err == nil {
			key = conn.LocalAddr().String()
		}
	}
	c := &client{slot: slot, outbox: make(chan string, 4096), gate: make(chan struct{})}
	close(c.gate) // reading
	r.mu.Lock()
	c.id = len(r.all)
	r.all = append(r.all, c)
	r.clients[slot] = c
	if err != nil {
		c.left = true
		r.story = append(r.story, fmt.Sprintf("c%d cannot connect", c.id))
		r.mu.Unlock()
		return
	}
	c.conn, c.key = conn, key
	r.ids[key] = c.id
	r.story = append(r.story, fmt.Sprintf("c%d connects", c.id))
	r.mu.Unlock()
	c.done.Go(func() { r.readLoop(c) }) // ends when the connection does; cleanup waits
	c.done.Go(func() { writeLoop(c) })  // ends when cleanup closes the outbox; cleanup waits
}

// readLoop keeps every complete line the client reads; a line cut short by
// the end of the connection is not a message. While the client does not
// read, its read deadline is in the past (see setReading) and readLoop waits
// at its gate.
func (r *run) readLoop(c *client) {
	lines := bufio.NewReader(c.conn)
	var line string // what has come of the current line
	for {
		r.mu.Lock()
		gate := c.gate
		r.mu.Unlock()
		<-gate // wait while the client does not read
		part, err := lines.ReadString('\n')
		line += part
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue // paused in the middle of a read
		}
		r.mu.Lock()
		if line, ok := strings.CutSuffix(line, "\n"); ok && strings.HasPrefix(line, "error: ") {
			c.errors = append(c.errors, line)
		} else if ok {
			c.received = append(c.received, line)
		}
		if err == nil {
			line = ""
		} else {
			c.ended = true
		}
		r.mu.Unlock()
		r.signal()
		if err != nil {
			return
		}
	}
}

// writeLoop writes what the client sends. What was sent while it was
// writing goes out in its next write, all of it, as a client with a buffered
// writer would send it: rushed steps reach the server in one write, and its
// reader may take their lines as one batch. After a write error it keeps taking
// lines, so that sending never blocks the harness. When the outbox is
// closed, the client leaves: it half-closes its connection.
func writeLoop(c *client) {
	var err error
	for line := range c.outbox {
		var lines strings.Builder
		lines.WriteString(line + "\n")
		for more := true; more; {
			select {
			case next, ok := <-c.outbox:
				if !ok {
					more = false // closed: the range above ends next
					break
				}
				lines.WriteString(next + "\n")
			default:
				more = false
			}
		}
		if err == nil {
			_, err = io.WriteString(c.conn, lines.String())
		}
	}
	if err == nil {
		c.conn.(interface{ CloseWrite() error }).CloseWrite()
	}
}

// send sends lines, in one write.
func (r *run) send(c *client, lines ...string) {
	r.mu.Lock()
	for _, line := range lines {
		r.history = append(r.history, model.Event{Kind: model.Sent, Conn: c.id, Line: line})
		if !c.loginSent {
			c.loginSent = true
		} else if _, err := protocol.ParseMessage(line); err == nil && !isTooLong(line) {
			c.messages++
		}
	}
	r.mu.Unlock()
	c.outbox <- strings.Join(lines, "\n")
}

func (r *run) nextText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.texts++
	return fmt.Sprintf("m%d", r.texts)
}

// setReading starts or stops client c's reading. To stop, it closes the gate
// and sets a read deadline in the past, which ends a Read in progress: the
// client stops at once, not after one more line.
func (r *run) setReading(c *client, reading bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case reading && c.paused:
		c.conn.SetReadDeadline(time.Time{})
		close(c.gate)
	case !reading && !c.paused:
		c.gate = make(chan struct{})
		c.conn.SetReadDeadline(time.Now())
	}
	c.paused = !reading
}

func (r *run) who(c *client) string {
	if c.name != "" {
		return fmt.Sprintf("%s (c%d)", c.name, c.id)
	}
	return fmt.Sprintf("c%d", c.id)
}

// do runs one step. Its Client picks, among the clients for which the step
// makes sense now, the one it acts on (see pick); a step that makes sense for
// none (a message when nobody is logged in) does nothing, and is left out of
// the story.
func (r *run) do(s Step) {
	c := r.pick(s)
	switch {
	case s.Kind == Connects && r.freeSlot() >= 0:
		r.connect(r.freeSlot())
	case c == nil && s.Kind != CtrlC:
		return
	case s.Kind == LogsIn:
		r.send(c, s.Name)
		c.name = s.Name
		r.say("c%d logs in as %s", c.id, s.Name)
	case s.Kind == LogsInAndSends:
		text := r.nextText()
		r.send(c, s.Name, spell(s, text))
		c.name = s.Name
		r.say("c%d logs in as %s and, in the same write, -> %s: %s", c.id, s.Name, strings.Join(s.To, ","), text)
	case s.Kind == Sends:
		text := r.nextText()
		r.send(c, spell(s, text))
		r.say("%s -> %s: %s", r.who(c), strings.Join(s.To, ","), text)
	case s.Kind == SendsBurst:
		r.sendBurst(c, s)
	case s.Kind == StopsReading:
		r.setReading(c, false)
		r.say("%s stops reading", r.who(c))
	case s.Kind == ResumesReading:
		r.setReading(c, true)
		r.say("%s reads again", r.who(c))
	case s.Kind == NeverReads:
		r.setReading(c, false)
		c.forGood = true
		r.say("%s stops reading for good", r.who(c))
	case s.Kind == Disconnects:
		c.left = true
		r.record(model.Event{Kind: model.Disconnected, Conn: c.id})
		c.conn.Close()
		r.say("%s disconnects", r.who(c))
	case s.Kind == Leaves:
		r.leave(c)
		r.say("%s leaves: it closes its sending side, and reads on", r.who(c))
	case s.Kind == SendsBad:
		r.sendBad(c, badLines[s.Style])
	case s.Kind == HoldsReader:
		r.mu.Lock()
		r.hold = holdState{id: c.id, armed: true, release: make(chan struct{})}
		r.mu.Unlock()
		r.say("the server's reader of %s will be held with its next line until Ctrl-C", r.who(c))
	case s.Kind == CtrlC && r.shutdown == nil:
		r.ctrlC("Ctrl-C")
	default:
		return // nothing happened: nothing to settle
	}
	if s.Rush {
		r.mu.Lock()
		r.story[len(r.story)-1] += ", and at once:"
		r.mu.Unlock()
	} else {
		r.settle()
	}
}

// pick returns the client step s acts on: of the clients for which s makes
// sense now, in slot order, the one at s.Client modulo their number. So
// nearly every drawn step does something, and shrinking a schedule keeps
// its steps meaningful.
func (r *run) pick(s Step) *client {
	var fit []*client
	for _, c := range r.clients[:r.opts.Clients] {
		if c != nil && !c.left && r.fits(s.Kind, c) {
			fit = append(fit, c)
		}
	}
	if len(fit) == 0 {
		return nil
	}
	return fit[s.Client%len(fit)]
}

func (r *run) fits(kind StepKind, c *client) bool {
	switch kind {
	case LogsIn, LogsInAndSends:
		return !c.loginSent && !c.quiet
	case Sends, SendsBurst, SendsBad:
		return c.loginSent && !c.quiet
	case Leaves:
		return !c.quiet
	case StopsReading:
		return !c.paused
	case ResumesReading:
		return c.paused && !c.forGood
	case NeverReads:
		return !c.forGood
	case Disconnects:
		return true
	case HoldsReader: // one hold at a time, before Ctrl-C, in a bubble
		return c.loginSent && !c.quiet && r.opts.Transport == Pipe && r.shutdown == nil && r.hold.release == nil
	}
	return false
}

// freeSlot returns a slot with no client, or whose client has left.
func (r *run) freeSlot() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	for slot, c := range r.clients[:r.opts.Clients] {
		if c == nil || c.left || c.quiet || c.ended {
			return slot
		}
	}
	return -1
}

// leave half-closes c's connection: the server reads the end of its input,
// and c reads on.
func (r *run) leave(c *client) {
	r.mu.Lock()
	c.quiet = true
	r.mu.Unlock()
	r.record(model.Event{Kind: model.Left, Conn: c.id})
	r.closeOutbox(c) // writeLoop half-closes the connection once it has written the rest
}

// closeOutbox ends c's writeLoop, once: when c leaves, or at cleanup.
func (r *run) closeOutbox(c *client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !c.outboxClosed {
		c.outboxClosed = true
		close(c.outbox) // its only sender is the harness, done sending
	}
}

// sendBurst sends s.Count messages in one write, so that the server's
// reader takes them as one batch; with s.Bad, a bad line in the middle.
func (r *run) sendBurst(c *client, s Step) {
	var lines, texts []string
	for i := range s.Count {
		texts = append(texts, r.nextText())
		lines = append(lines, spell(s, texts[i]))
		if s.Bad && i == s.Count/2-1 {
			lines = append(lines, badLines[0])
		}
	}
	r.send(c, lines...)
	first, last := texts[0], texts[len(texts)-1]
	if !s.Bad {
		r.say("%s -> %s: %s..%s, in one write", r.who(c), strings.Join(s.To, ","), first, last)
		return
	}
	r.say("%s -> %s: %s..%s, in one write, with the bad line %q after %s",
		r.who(c), strings.Join(s.To, ","), first, last, badLines[0], texts[s.Count/2-1])
}

// sendBad sends a line that is not a message. A line too long ends the
// server's reading of the connection: the client is quiet from then on.
func (r *run) sendBad(c *client, line string) {
	r.send(c, line)
	if isTooLong(line) {
		r.mu.Lock()
		c.quiet = true
		r.mu.Unlock()
		r.record(model.Event{Kind: model.Left, Conn: c.id})
		r.say("%s sends a line of %d bytes", r.who(c), len(line))
		return
	}
	r.say("%s sends a bad line: %q", r.who(c), line)
}

// settle waits until the server has nothing left to do with what it was
// given. In a bubble that is exact: every goroutine is blocked. Over TCP it is
// the harness's best guess, from the hooks; it gives up after a while.
func (r *run) settle() {
	if r.opts.Transport == Pipe {
		synctest.Wait()
		r.mu.Lock()
		held := r.hold.held
		r.mu.Unlock()
		if !held { // a held line is accepted but not routed yet
			r.record(model.Event{Kind: model.Settled})
		}
		return
	}
	deadline := time.After(settleGuard)
	for !r.settledTCP() {
		select {
		case <-r.changed:
		case <-deadline:
			return
		}
	}
}

// settleGuard bounds the wait for the hooks to report what was sent over TCP.
const settleGuard = 2 * time.Second

// settledTCP reports whether every client's connection was accepted, its
// login answered and every message it sent accepted, and (if the server
// frees names) every client that left logged out, as far as the hooks tell.
func (r *run) settledTCP() bool {
	if r.shutdown != nil {
		return true // the server may never accept another line
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	loggedIn, loggedOut, evicted := map[int]bool{}, map[int]bool{}, map[int]bool{}
	accepted := map[int]int{}
	for _, ev := range r.history {
		switch ev.Kind {
		case model.LoggedIn:
			loggedIn[ev.Conn] = true
		case model.LoggedOut:
			loggedOut[ev.Conn] = true
		case model.Evicted:
			evicted[ev.Conn] = true
		case model.Accepted:
			accepted[ev.Conn]++
		}
	}
	for _, c := range r.all {
		if c.left || c.ended || r.closed[c.key] {
			continue
		}
		if !r.seen[c.key] {
			return false // not accepted yet
		}
		if !c.loginSent || evicted[c.id] { // an evicted client's reader stops: lines may be left unread
			continue
		}
		if !loggedIn[c.id] || accepted[c.id] != c.messages {
			return false
		}
		if c.quiet && r.opts.FreesNames && !loggedOut[c.id] {
			return false // its name is not free yet
		}
	}
	return true
}

// ctrlC starts Shutdown with the drain deadline, as main does at SIGINT. If a
// reader is held, it is let go once Shutdown has got as far as it can.
func (r *run) ctrlC(what string) {
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.DrainDeadline)
	r.cancel = cancel
	r.shutdown = make(chan error, 1)
	r.goers.Go(func() { // ends when Shutdown returns
		err := r.srv.Shutdown(ctx)
		r.exited.Store(true) // main returns: the process exits
		r.shutdown <- err
	})
	r.say("%s", what)
	r.mu.Lock()
	held := r.hold.held || r.hold.armed
	r.mu.Unlock()
	if held {
		r.releaseHold()
	}
}

func (r *run) releaseHold() {
	if r.opts.Transport == Pipe {
		synctest.Wait() // Shutdown has done all it can without the held reader
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hold.release != nil && (r.hold.held || r.hold.armed) {
		close(r.hold.release)
		if r.hold.held {
			r.story = append(r.story, "the held reader goes on")
		}
	}
	r.hold = holdState{}
}
