package chattest

import (
	"fmt"
	"net"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
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
	end       string         // how Shutdown ended, as the story says it (see sayEnd)
	endAt     int            // len(history) then: the end of the trace
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
// came before, each in its place in time: the server's events are judged in
// the order they happened (a connection that the server accepted before it
// closed another was held at the same time as that other).
func (r *run) knownLocked(key any, id int) {
	r.ids[key] = id
	for _, ev := range r.early[key] {
		ev.Conn = id
		after := sort.Search(len(r.history), func(i int) bool { return r.history[i].At > ev.At })
		r.history = slices.Insert(r.history, after, ev)
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
