package scenarios

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"achat/chat/queue"
)

// client is one scenario client on a real TCP connection. Two goroutines
// serve it: a reader that records every line the server sends (unless the
// client stops reading), and a writer that writes what the steps ask for, in
// order, so that a step never waits for a server that does not read.
type client struct {
	label string
	name  string // the name it logs in as: its label, until a login says otherwise
	conn  *net.TCPConn
	jobs  *queue.Queue[job] // the steps push, the writer takes; closed by close
	gate  gate
	wg    sync.WaitGroup // the reader and the writer

	mu sync.Mutex // guards in, and the fields below it
	in inbox
	// changed is closed, and replaced, whenever the reader has recorded
	// something, or close was called: a broadcast to whoever waits on the
	// inbox.
	changed chan struct{}

	login   loginState
	refusal string // why the last login attempt failed
	tried   string // for a client that kept trying: " after 5.8s, 24 tries"
	closed  bool   // close has been called
}

// job is something the writer writes.
type job func(w *bufio.Writer, conn *net.TCPConn) error

type loginState int

const (
	notLoggedIn loginState = iota
	loggedIn
	refused
)

// unconnected returns a client whose connection could not be made: why
// says so. It has read nothing, and its input has ended.
func unconnected(label, why string) *client {
	c := &client{label: label, name: label, jobs: queue.New[job](), changed: make(chan struct{}),
		refusal: why, closed: true}
	c.gate.init()
	c.in.senders, c.in.bySender = map[string]string{}, map[string]int{}
	c.in.ended, c.in.endedBy = true, "the client"
	c.jobs.Close()
	return c
}

// dial connects a client to addr and starts its reader and writer; close
// stops them. A connection not made within timeout is an error: a listen
// backlog that is full drops the handshake, and the kernel retries it for
// two minutes.
func dial(label, addr string, timeout time.Duration) (*client, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	c := &client{
		label: label, name: label, conn: conn.(*net.TCPConn), jobs: queue.New[job](),
		changed: make(chan struct{}),
	}
	c.gate.init()
	c.in.senders, c.in.bySender = map[string]string{}, map[string]int{}
	c.wg.Go(c.read)  // ends at the end of the input, or when close closes conn
	c.wg.Go(c.write) // ends when close closes jobs, at once if conn is closed
	return c, nil
}

// send queues a job for the writer.
func (c *client) send(j job) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.jobs.Push(j)
	}
}

func (c *client) write() {
	w := bufio.NewWriterSize(c.conn, 64<<10)
	var batch []job
	var err error // the first write error: after it, the jobs are skipped
	for {
		var ok bool
		batch, ok = c.jobs.Next(batch)
		if !ok {
			return
		}
		for _, j := range batch {
			if err == nil {
				err = j(w, c.conn)
			}
		}
		if err == nil {
			err = w.Flush()
		}
	}
}

// read records every line until the input ends. It closes the connection
// then, as nc does: a server that waits for its clients to close is not kept
// waiting.
func (c *client) read() {
	r := bufio.NewReaderSize(gatedReader{c}, 128<<10)
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			continue // a line longer than any server sends: not recorded
		}
		c.mu.Lock()
		if err == nil {
			c.in.add(line[:len(line)-1])
		} else {
			c.in.end(err, len(line) > 0, c.closed)
		}
		if err != nil || r.Buffered() == 0 { // about to wait: say what was read
			c.signalLocked()
		}
		c.mu.Unlock()
		if err != nil {
			c.conn.Close()
			return
		}
	}
}

func (c *client) signalLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// await waits until cond holds, the input ends, or nothing has arrived for
// patience: a guard that turns a server that hangs into a figure. It reports
// whether cond held.
func (c *client) await(patience time.Duration, cond func(*inbox) bool) bool {
	quiet := time.NewTimer(patience)
	defer quiet.Stop()
	for {
		c.mu.Lock()
		ok, ended, changed := cond(&c.in), c.in.ended, c.changed
		c.mu.Unlock()
		if ok || ended {
			return ok
		}
		select {
		case <-changed:
			quiet.Reset(patience)
		case <-quiet.C:
			return false
		}
	}
}

// close closes the connection, at once, and stops both goroutines.
func (c *client) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		c.jobs.Close()
		c.signalLocked()
	}
	c.mu.Unlock()
	if c.conn != nil {
		c.conn.Close()
	}
	c.gate.open() // a reader held at the gate must see the close
}

// wait waits for the reader and the writer to end, after close.
func (c *client) wait() { c.wg.Wait() }

// gate lets the reader read the socket, or holds it: a client that stops
// reading leaves what the server sends in the kernel's buffers, which fill,
// so that the server's writes block, as they do for a real slow client.
type gate struct {
	mu     sync.Mutex
	opened chan struct{} // closed while reading is allowed
}

func (g *gate) init() {
	g.opened = make(chan struct{})
	close(g.opened)
}

func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.opened:
	default:
		close(g.opened)
	}
}

func (g *gate) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.opened:
		g.opened = make(chan struct{})
	default: // held already
	}
}

func (g *gate) wait() {
	g.mu.Lock()
	opened := g.opened
	g.mu.Unlock()
	<-opened
}

// gatedReader reads the client's connection when its gate is open.
type gatedReader struct{ c *client }

func (g gatedReader) Read(p []byte) (int, error) {
	g.c.gate.wait()
	return g.c.conn.Read(p)
}

// keptLines bounds the other lines (not numbered messages) an inbox keeps.
const keptLines = 1000

// inbox is what a client has read. Numbered messages are kept as their
// sender and number, which is all the figures need.
type inbox struct {
	messages []msgID
	bySender map[string]int    // how many of messages came from each sender
	lines    []string          // the other lines, the first keptLines of them
	senders  map[string]string // interned sender names
	ended    bool              // the input has ended
	endedBy  string            // "the server" (EOF), "a reset", or "the client" (close)
	cutOff   bool              // the input ended in the middle of a line
}

// msgID names a numbered message: its sender and its number.
type msgID struct {
	from string
	seq  int
}

// add records one line, without its newline.
func (in *inbox) add(line []byte) {
	if id, ok := in.parseMessage(line); ok {
		in.messages = append(in.messages, id)
		in.bySender[id.from]++
		return
	}
	if len(in.lines) < keptLines {
		in.lines = append(in.lines, string(bytes.TrimSuffix(line, []byte("\r"))))
	}
}

// from counts the messages read from a sender; every message if from is "".
func (in *inbox) from(sender string) int {
	if sender == "" {
		return len(in.messages)
	}
	return in.bySender[sender]
}

// parseMessage reads "from alice: #123 xxx", a delivered appendMessage.
func (in *inbox) parseMessage(line []byte) (msgID, bool) {
	rest, ok := bytes.CutPrefix(line, []byte("from "))
	if !ok {
		return msgID{}, false
	}
	from, text, ok := bytes.Cut(rest, []byte(": #"))
	if !ok {
		return msgID{}, false
	}
	digits, _, _ := bytes.Cut(text, []byte(" "))
	seq, err := strconv.Atoi(string(digits))
	if err != nil {
		return msgID{}, false
	}
	name, ok := in.senders[string(from)] // no allocation when the name is known
	if !ok {
		name = string(from)
		in.senders[name] = name
	}
	return msgID{from: name, seq: seq}, true
}

func (in *inbox) end(err error, partial, byClient bool) {
	in.ended, in.cutOff = true, partial
	switch {
	case byClient:
		in.endedBy = "the client"
	case errors.Is(err, io.EOF):
		in.endedBy = "the server"
	default:
		in.endedBy = "a reset" // ECONNRESET: the server closed with input unread
	}
}

// closedByServer reports whether the server ended the connection.
func (in *inbox) closedByServer() bool {
	return in.ended && in.endedBy != "the client"
}

// hasLine reports whether a recorded line is want.
// hasLinePrefix reports whether a line other than a numbered message starts
// with prefix.
func (in *inbox) hasLinePrefix(prefix string) bool {
	for _, l := range in.lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func (in *inbox) hasLine(want string) bool {
	for _, l := range in.lines {
		if l == want {
			return true
		}
	}
	return false
}

// lineStarting returns the first recorded line that starts with prefix.
func (in *inbox) lineStarting(prefix string) (string, bool) {
	for _, l := range in.lines {
		if strings.HasPrefix(l, prefix) {
			return l, true
		}
	}
	return "", false
}

// pad makes every numbered message about as long as the drain tests' (85
// bytes delivered), so that a few tens of thousands fill a socket's buffers.
var pad = strings.Repeat("x", 64)

// minMessageSize is the least size a message may be given: its number, up
// to 10 digits, needs room.
const minMessageSize = 16

// appendMessage appends "alice, bob: #123 xxx...\n" to b: the text is
// "#123 " and padding, cut so that the text is size bytes long, or all of
// padding if size is 0.
func appendMessage(b []byte, to string, seq int, padding string, size int) []byte {
	b = append(b, to...)
	b = append(b, ": "...)
	text := len(b)
	b = append(b, '#')
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, ' ')
	if size > 0 {
		padding = padding[:max(0, size-(len(b)-text))]
	}
	b = append(b, padding...)
	return append(b, '\n')
}
