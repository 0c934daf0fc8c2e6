package chattest

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
	Drain       model.Property = "Drain: Shutdown hit its drain deadline, though every client read"
)

// Eviction is the model's; it is here too for the chapters' tests, which
// name it with the others of the harness.
const Eviction = model.Eviction

// priority orders the properties for a failing schedule: rapid is told the
// first one broken, as a fixed text, so that it can shrink the schedule
// while the same property stays broken. Each is worse than those after it,
// and can cause them.
// Eviction and Errors come last: what they expect depends on where the
// server routed each message, which a server broken elsewhere gets wrong.
var priority = []model.Property{
	Termination, Leak, Drain, model.Serving, model.Progress, model.Acceptance, model.Names, model.Impostor, model.Login,
	model.Delivery, model.Spurious, model.Duplicate, model.Order, model.Connections, model.Timeouts,
	model.Eviction, model.Errors,
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

	began time.Time // when the schedule began: each event's time is from it

	mu        sync.Mutex // guards the fields below and each client's shared fields
	history   []model.Event
	early     map[any][]model.Event // events of a connection the server took before its client knew it
	failures  int                   // Accept calls that are still to fail (AcceptFails)
	ids       map[any]int           // the server's end of a connection -> its client's id
	seen      map[any]bool          // the connections the server accepted
	closed    map[any]bool          // the connections the server closed
	clients   [clientSlots]*client  // the client in each slot now
	all       []*client             // every client, by id
	asked     []string              // the names asked for so far, in order, once each
	conns     []net.Conn            // the server's ends, to close at cleanup
	story     []string
	texts     int
	hold      holdState
	interrupt *interrupt     // a racing Ctrl-C waiting for a line to be accepted
	changed   chan struct{}  // a token after every recorded event, for settleTCP
	shutdown  chan error     // Shutdown's result; nil until Ctrl-C
	cancel    func()         // cancels Shutdown's context
	goers     sync.WaitGroup // the harness's own goroutines that call the server
	sleepers  atomic.Int32   // slow readers pausing between two reads
	unsettled bool           // a settle point over TCP timed out: the schedule fails
	covered   model.Covered  // what the schedule reached, for the coverage count
}

// holdState is the HoldsReader and HoldsLogin steps: the server's reader of
// client id is held, with a line, until release is closed.
type holdState struct {
	id      int
	login   bool          // held in its Read of the login line, not in the Accepted hook
	armed   bool          // the next line from id is held
	held    bool          // a line is held now
	release chan struct{} // closed to let it go
}

func newRun(opts Options, newServer NewServer) *run {
	r := &run{opts: opts, ids: map[any]int{}, seen: map[any]bool{}, closed: map[any]bool{},
		early: map[any][]model.Event{}, changed: make(chan struct{}, 1), began: time.Now()}
	r.before = goleak.IgnoreCurrent()
	r.srv = newServer(&chattrace.Hooks{
		LoggedIn:  r.loggedIn,
		LoggedOut: r.loggedOut,
		Evicted:   r.evicted,
		Accepted:  r.accepted,
		Routed: func(from string, msg protocol.Message) {
			r.record(model.Event{Kind: model.Routed, Name: from, Text: msg.Text})
		},
		ShutdownBegan: func() {
			r.mu.Lock()
			r.recordLocked(model.Event{Kind: model.ShutdownBegan, Read: r.readLocked()})
			r.mu.Unlock()
		},
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
	r.goers.Go(func() { // ends once Shutdown begins, or Serve fails
		err := r.srv.Serve(&recordingListener{l, r})
		r.record(model.Event{Kind: model.ServeReturned})
		r.served <- err
	})
	return nil
}

func (r *run) say(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.story = append(r.story, fmt.Sprintf(format, args...))
}

func (r *run) record(ev model.Event) {
	r.mu.Lock()
	r.recordLocked(ev)
	r.mu.Unlock()
}

func (r *run) recordLocked(ev model.Event) {
	ev.At = time.Since(r.began)
	r.history = append(r.history, ev)
	r.signal()
}

// recordConnLocked records ev for the connection whose key is key. Over
// TCP, the server may accept a connection, or even close it, before Dial
// has returned to its client and the harness knows whose it is: the event
// waits for connect, with its time.
func (r *run) recordConnLocked(key any, ev model.Event) {
	if id, ok := r.ids[key]; ok {
		ev.Conn = id
		r.recordLocked(ev)
		return
	}
	ev.At = time.Since(r.began)
	r.early[key] = append(r.early[key], ev)
}

// knownLocked registers key as client id's, and records the events that
// came before.
func (r *run) knownLocked(key any, id int) {
	r.ids[key] = id
	for _, ev := range r.early[key] {
		ev.Conn = id
		r.history = append(r.history, ev)
	}
	delete(r.early, key)
}

func (r *run) signal() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// readLocked returns how many lines each client has read so far.
func (r *run) readLocked() map[int]int {
	read := make(map[int]int, len(r.all))
	for _, c := range r.all {
		read[c.id] = len(c.lines)
	}
	return read
}

// receivedLocked returns every line each client has read so far.
func (r *run) receivedLocked() map[int][]string {
	received := make(map[int][]string, len(r.all))
	for _, c := range r.all {
		received[c.id] = slices.Clip(c.lines)
	}
	return received
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
	r.holdIfArmed(id, false)
	r.interruptIfArmed(msg.Text)
}

// interrupt is a racing Ctrl-C (Step.Races) waiting for the server to
// accept a line.
type interrupt struct {
	taken    bool
	text     string        // what was accepted
	accepted chan struct{} // a token once a line is accepted
	resume   chan struct{} // closed once shutdown has begun
}

// interruptIfArmed holds the reader that just accepted text until shutdown
// has begun, if a racing Ctrl-C waits for it: Ctrl-C lands while the
// message is accepted and not yet handed over, routed or written.
func (r *run) interruptIfArmed(text string) {
	r.mu.Lock()
	ic := r.interrupt
	if ic == nil || ic.taken {
		r.mu.Unlock()
		return
	}
	ic.taken, ic.text = true, text
	r.mu.Unlock()
	ic.accepted <- struct{}{} // buffered: the only send
	<-ic.resume
}

// ctrlCRacing is a Ctrl-C that comes as soon as the server accepts a line
// that was sent before it, while the reader that accepted it is held:
// nothing of that line is routed or written yet. In a bubble the rest of the
// server settles first, so that the race is the same when rapid replays it.
// With no line on its way, it is a Ctrl-C after the server settled.
func (r *run) ctrlCRacing(what string) {
	ic := &interrupt{accepted: make(chan struct{}, 1), resume: make(chan struct{})}
	r.mu.Lock()
	onItsWay := !r.acceptedAllLocked()
	if onItsWay {
		r.interrupt = ic
	}
	r.mu.Unlock()
	if !onItsWay {
		r.settle()
		r.ctrlC(what)
		return
	}
	if r.opts.Transport == Pipe {
		// The line is accepted, and its reader held, or it never will be
		// without time passing: a timer here would let the server's clocks
		// run.
		r.waitBubble()
	} else {
		select {
		case <-ic.accepted:
		case <-time.After(acceptGuard):
		}
	}
	r.mu.Lock()
	r.interrupt = nil
	text := ic.text
	r.mu.Unlock()
	if text != "" {
		what += fmt.Sprintf(", as the server accepts %s", text)
	}
	r.ctrlC(what)
	if r.opts.Transport == Pipe {
		synctest.Wait() // Shutdown has begun: it is blocked, waiting for the held reader
	} else {
		r.waitFor(model.ShutdownBegan)
	}
	close(ic.resume) // the only close: the held reader, if any, goes on
}

// acceptGuard bounds the wait of a racing Ctrl-C for a line to be accepted.
const acceptGuard = time.Second

// waitFor waits, for acceptGuard at most, until an event of kind is recorded.
func (r *run) waitFor(kind model.Kind) {
	guard := time.After(acceptGuard)
	for {
		r.mu.Lock()
		found := slices.ContainsFunc(r.history, func(ev model.Event) bool { return ev.Kind == kind })
		r.mu.Unlock()
		if found {
			return
		}
		select {
		case <-r.changed:
		case <-guard:
			return
		}
	}
}

// acceptedAllLocked reports whether every message line sent by a client the
// server logged in, and still reads, has been accepted.
func (r *run) acceptedAllLocked() bool {
	loggedIn, owed := map[int]bool{}, map[int]int{}
	for _, ev := range r.history {
		switch ev.Kind {
		case model.LoggedIn:
			loggedIn[ev.Conn] = true
		case model.Evicted, model.Closed, model.Disconnected: // its reader stops where it is
			loggedIn[ev.Conn] = false
		case model.Sent:
			if _, err := protocol.ParseMessage(ev.Line); err == nil && !isTooLong(ev.Line) {
				owed[ev.Conn]++
			}
		case model.Accepted:
			owed[ev.Conn]--
		}
	}
	for conn, n := range owed {
		if loggedIn[conn] && n > 0 {
			return false
		}
	}
	return true
}

// holdIfArmed holds the calling goroutine, a reader of the server, if a hold
// of this kind is armed for client id, until Ctrl-C releases it.
func (r *run) holdIfArmed(id int, login bool) {
	r.mu.Lock()
	hold := r.hold.armed && r.hold.id == id && r.hold.login == login
	if hold {
		r.hold.armed, r.hold.held = false, true
		r.recordLocked(model.Event{Kind: model.Held, Conn: id})
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
	if l.r.failAccept() {
		return nil, errTooManyFiles
	}
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
	l.r.recordConnLocked(key, model.Event{Kind: model.Served})
	l.r.mu.Unlock()
	return &serverConn{Conn: conn, key: key, r: l.r}, nil
}

// errTooManyFiles is the error an AcceptFails step makes Accept return: the
// one a process out of file descriptors gets, which a retry can cure.
var errTooManyFiles = &net.OpError{Op: "accept", Net: "tcp",
	Err: os.NewSyscallError("accept4", syscall.EMFILE)}

// failAccept reports whether this Accept must fail (AcceptFails), and counts
// it. It leaves any connection waiting in the backlog, as the kernel does.
func (r *run) failAccept() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failures == 0 {
		return false
	}
	r.failures--
	return true
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
	if !c.r.closed[c.key] {
		c.r.recordConnLocked(c.key, model.Event{Kind: model.Closed})
	}
	c.r.closed[c.key] = true
	c.r.mu.Unlock()
	return c.Conn.Close()
}

// CloseWrite half-closes the connection, as a *net.TCPConn can: a server's
// graceful close must be seen by the clients of a property run too.
func (c *serverConn) CloseWrite() error {
	if hc, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return hc.CloseWrite()
	}
	return c.Conn.Close()
}

func (c *serverConn) Write(p []byte) (int, error) {
	if c.r.exited.Load() {
		return 0, net.ErrClosed
	}
	return c.Conn.Write(p)
}

// Read holds the server's reader with what it read, if a HoldsLogin step
// armed a hold for this client: as if the reader were descheduled with its
// login line in hand, where a read deadline cannot reach it.
func (c *serverConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.r.mu.Lock()
		id, ok := c.r.ids[c.key]
		c.r.mu.Unlock()
		if ok {
			c.r.holdIfArmed(id, true)
		}
	}
	return n, err
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
		r.recordLocked(model.Event{Kind: model.Resumed, Conn: c.id})
	case !reading && !c.paused:
		c.gate = make(chan struct{})
		c.conn.SetReadDeadline(time.Now())
		r.recordLocked(model.Event{Kind: model.Paused, Conn: c.id})
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
		r.connect(r.freeSlot(), false)
	case s.Kind == ConnectsDeaf && r.freeSlot() >= 0:
		r.connect(r.freeSlot(), true)
	case s.Kind == TimePasses && r.opts.Transport == Pipe && r.shutdown == nil:
		time.Sleep(s.Pause) // in the bubble: every timer of the server due meanwhile fires
		r.say("%v pass", s.Pause)
	case s.Kind == AcceptFails && r.opts.AcceptErrors && r.shutdown == nil:
		r.mu.Lock()
		r.failures = s.Count
		r.mu.Unlock()
		r.say("the next %d calls of Accept fail: %v", s.Count, errTooManyFiles.Err)
	case c == nil && s.Kind != CtrlC:
		return
	case s.Kind == LogsIn:
		r.send(c, s.Name)
		r.say("c%d logs in as %s", c.id, s.Name)
	case s.Kind == LogsInAndSends:
		to, text := r.recipients(s), r.nextText()
		r.send(c, s.Name, spell(s, to, text))
		r.say("c%d logs in as %s and, in the same write, -> %s: %s", c.id, s.Name, strings.Join(to, ","), text)
	case s.Kind == Sends:
		to, text := r.recipients(s), r.nextText()
		r.send(c, spell(s, to, text))
		r.say("%s -> %s: %s", r.who(c), strings.Join(to, ","), text)
	case s.Kind == SendsBurst:
		r.sendBurst(c, s)
	case s.Kind == SendsPart:
		r.sendPart(c, s)
	case s.Kind == StopsReading:
		r.setReading(c, false)
		r.say("%s stops reading", r.who(c))
	case s.Kind == ResumesReading:
		r.setPace(c, false)
		r.setReading(c, true)
		r.say("%s reads again, at full speed", r.who(c))
	case s.Kind == ReadsSlowly:
		r.setPace(c, true)
		r.say("%s reads slowly: %d bytes every %v", r.who(c), slowReadBytes, readPause)
	case s.Kind == NeverReads:
		r.setReading(c, false)
		c.forGood = true
		r.say("%s stops reading for good", r.who(c))
	case s.Kind == Disconnects:
		r.disconnect(c)
		r.say("%s disconnects", r.who(c))
	case s.Kind == Leaves:
		r.leave(c)
		r.say("%s leaves: it closes its sending side, and reads on", r.who(c))
	case s.Kind == SendsBad:
		r.sendBad(c, badLines[s.Style])
	case s.Kind == HoldsReader, s.Kind == HoldsLogin:
		r.mu.Lock()
		r.hold = holdState{id: c.id, login: s.Kind == HoldsLogin, armed: true, release: make(chan struct{})}
		r.mu.Unlock()
		what := "its next line"
		if s.Kind == HoldsLogin {
			what = "its login line"
		}
		r.say("the server's reader of %s will be held with %s until Ctrl-C", r.who(c), what)
	case s.Kind == CtrlC && r.shutdown == nil && s.Races:
		r.ctrlCRacing("Ctrl-C")
	case s.Kind == CtrlC && r.shutdown == nil:
		r.ctrlC("Ctrl-C")
	default:
		return // nothing happened: nothing to settle
	}
	switch {
	case s.Rush || s.hurry: // a racing Ctrl-C follows: see ctrlCRacing
		r.mu.Lock()
		r.story[len(r.story)-1] += ", and at once:"
		r.mu.Unlock()
	default:
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
	r.mu.Lock()
	talks := !c.quiet && !c.ended // it can send, and the server may still read
	r.mu.Unlock()
	switch kind {
	case LogsIn, LogsInAndSends:
		return !c.loginSent && talks
	case Sends, SendsBurst, SendsBad, SendsPart:
		return c.loginSent && talks
	case Leaves:
		return !c.quiet
	case StopsReading:
		return !c.paused
	case ResumesReading:
		return c.paused && !c.forGood || c.slow
	case ReadsSlowly:
		return !c.paused && !c.slow
	case NeverReads:
		return !c.forGood
	case Disconnects:
		return true
	case HoldsReader, HoldsLogin: // one hold at a time, before Ctrl-C, in a bubble
		ok := talks && r.opts.Transport == Pipe && r.shutdown == nil && r.hold.release == nil
		return ok && c.loginSent == (kind == HoldsReader)
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

// recipients returns the names a step writes to: each of s.To picks one
// of the names asked for so far, but the largest pick, zed, who never logs in.
func (r *run) recipients(s Step) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	to := make([]string, len(s.To))
	for i, pick := range s.To {
		if pick == maxPick || len(r.asked) == 0 {
			to[i] = unknownName
		} else {
			to[i] = r.asked[pick%len(r.asked)]
		}
	}
	return to
}

func (r *run) nextText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.texts++
	return fmt.Sprintf("m%d", r.texts)
}

func spell(s Step, to []string, text string) string { return styles[s.Style](to, text) }

// ctrlC starts Shutdown with the drain deadline, as main does at SIGINT. If a
// reader is held, it is let go once Shutdown has got as far as it can.
func (r *run) ctrlC(what string) {
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.DrainDeadline)
	r.cancel = cancel
	r.shutdown = make(chan error, 1)
	r.record(model.Event{Kind: model.Interrupted})
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
			r.recordLocked(model.Event{Kind: model.Released, Conn: r.hold.id})
			r.story = append(r.story, "the held reader goes on")
		}
	}
	r.hold = holdState{}
}
