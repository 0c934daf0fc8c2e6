package chattest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"achat/chat/protocol"
	"achat/model"
)

// client is the harness's side of one connection. A slot holds one client
// at a time; once its client has left, a new one may take the slot.
type client struct {
	id           int // its connection's number in the model's history
	slot         int
	conn         net.Conn
	key          any         // its key in run.ids
	outbox       chan string // bytes for writeLoop, as they are to be written; closed by closeOutbox
	outboxClosed bool
	loginSent    bool
	name         string // what it logged in as
	partial      string // a message line whose start was sent and whose end was not
	cut          int    // how much of partial was sent
	left         bool   // it disconnected, or could not connect
	quiet        bool   // it ended its input (Leaves, or a line too long), and reads on
	paused       bool
	forGood      bool          // paused, and never resumed
	slow         bool          // it reads slowly (see pacedReader)
	gate         chan struct{} // closed while the client reads
	lines        []string      // every complete line read, error lines included
	ended        bool          // readLoop has returned
	done         sync.WaitGroup
}

// connect opens client slot's connection and starts its two goroutines.
// A deaf client does not read it: it stopped reading before the server
// could write to it.
func (r *run) connect(slot int, deaf bool) {
	c := &client{slot: slot, outbox: make(chan string, 4096), gate: make(chan struct{})}
	if !deaf {
		close(c.gate) // reading
	}
	c.paused = deaf
	r.mu.Lock()
	c.id = len(r.all)
	r.all = append(r.all, c)
	r.clients[slot] = c
	r.mu.Unlock()
	var err error
	if r.opts.Transport == Pipe {
		// The server's end is known before the server can take it.
		var server net.Conn
		c.conn, server = HalfPipe()
		r.mu.Lock()
		c.key = server
		r.connectedLocked(c, deaf)
		r.knownLocked(server, c.id)
		r.mu.Unlock()
		err = r.pipes.Offer(server)
	} else if c.conn, err = net.Dial("tcp", r.addr); err == nil {
		r.mu.Lock()
		c.key = c.conn.LocalAddr().String()
		r.connectedLocked(c, deaf)
		r.knownLocked(c.key, c.id)
		r.mu.Unlock()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		c.left = true
		r.story = append(r.story, fmt.Sprintf("c%d cannot connect", c.id))
		if c.conn != nil { // the listener was closed: the client sees its connection end
			r.recordLocked(model.Event{Kind: model.Disconnected, Conn: c.id})
			c.conn.Close()
			c.conn = nil
		}
		return
	}
	if deaf {
		r.story = append(r.story, fmt.Sprintf("c%d connects, and does not read", c.id))
	} else {
		r.story = append(r.story, fmt.Sprintf("c%d connects", c.id))
	}
	c.done.Go(func() { r.readLoop(c) }) // ends when the connection does; cleanup waits
	c.done.Go(func() { writeLoop(c) })  // ends when cleanup closes the outbox; cleanup waits
}

// connectedLocked records that c connected, and, if deaf, that it does not
// read: its read deadline is in the past from the start (see setReading).
func (r *run) connectedLocked(c *client, deaf bool) {
	r.recordLocked(model.Event{Kind: model.Connected, Conn: c.id})
	if deaf {
		c.conn.SetReadDeadline(time.Now())
		r.recordLocked(model.Event{Kind: model.Paused, Conn: c.id})
	}
}

// readLoop keeps every complete line the client reads; a line cut short by
// the end of the connection is not one. While the client does not read, its
// read deadline is in the past (see setReading) and readLoop waits at its
// gate. At the end of its input the client closes its connection, as nc and
// achat client do, so that a server that waits for it to close (a linger)
// is not kept waiting.
func (r *run) readLoop(c *client) {
	lines := bufio.NewReader(pacedReader{r, c})
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
		if complete, ok := strings.CutSuffix(line, "\n"); ok {
			c.lines = append(c.lines, complete)
		}
		line = ""
		if err != nil {
			c.ended = true
			r.recordLocked(model.Event{Kind: model.Ended, Conn: c.id})
		}
		r.mu.Unlock()
		r.signal()
		if err != nil {
			c.conn.Close()
			return
		}
	}
}

// A slow reader reads slowReadBytes at a time, and pauses for readPause
// before each read: steadily, but slower than the server writes.
const (
	slowReadBytes = 128
	readPause     = time.Millisecond
)

// pacedReader is a client's connection, read at the client's pace.
type pacedReader struct {
	r *run
	c *client
}

func (p pacedReader) Read(b []byte) (int, error) {
	p.r.mu.Lock()
	slow := p.c.slow
	p.r.mu.Unlock()
	if slow {
		p.r.sleepers.Add(1) // settlePipe lets fake time pass while one sleeps
		time.Sleep(readPause)
		p.r.sleepers.Add(-1)
		b = b[:min(len(b), slowReadBytes)]
	}
	return p.c.conn.Read(b)
}

func (r *run) setPace(c *client, slow bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c.slow = slow
}

// writeLoop writes what the client sends. What was sent while it was
// writing goes out in its next write, all of it, as a client with a buffered
// writer would send it: rushed steps reach the server in one write, and its
// reader may take their lines as one batch. After a write error it keeps taking
// lines, so that sending never blocks the harness. When the outbox is
// closed, the client leaves: it half-closes its connection.
func writeLoop(c *client) {
	var err error
	for bytes := range c.outbox {
		var out strings.Builder
		out.WriteString(bytes)
		for more := true; more; {
			select {
			case next, ok := <-c.outbox:
				if !ok {
					more = false // closed: the range above ends next
					break
				}
				out.WriteString(next)
			default:
				more = false
			}
		}
		if err == nil {
			_, err = io.WriteString(c.conn, out.String())
		}
	}
	if err == nil {
		c.conn.(interface{ CloseWrite() error }).CloseWrite()
	}
}

// send sends lines, in one write. A line that SendsPart began is ended first:
// its end, and its newline, go in the same write.
func (r *run) send(c *client, lines ...string) {
	r.mu.Lock()
	var out strings.Builder
	if c.partial != "" {
		out.WriteString(c.partial[c.cut:] + "\n")
		r.sentLocked(c, c.partial)
		c.partial = ""
	}
	for _, line := range lines {
		out.WriteString(line + "\n")
		r.sentLocked(c, line)
	}
	r.mu.Unlock()
	c.outbox <- out.String()
}

// sentLocked records that c sent a complete line.
func (r *run) sentLocked(c *client, line string) {
	r.recordLocked(model.Event{Kind: model.Sent, Conn: c.id, Line: line})
	if c.loginSent {
		return
	}
	c.loginSent = true
	if name, err := protocol.ParseLogin(line); err == nil {
		c.name = name
		if !slices.Contains(r.asked, name) {
			r.asked = append(r.asked, name)
		}
	}
}

// sendBurst sends s.Count messages in one write, so that the server's
// reader takes them as one batch, or as several if they are more than
// protocol.MaxBatchLines; with s.Bad, a bad line in the middle.
func (r *run) sendBurst(c *client, s Step) {
	to := r.recipients(s)
	var lines, texts []string
	for i := range s.Count {
		texts = append(texts, r.nextText())
		lines = append(lines, spell(s, to, texts[i]))
		if s.Bad && i == s.Count/2-1 {
			lines = append(lines, badLines[0])
		}
	}
	r.send(c, lines...)
	first, last := texts[0], texts[len(texts)-1]
	if !s.Bad {
		r.say("%s -> %s: %s..%s, in one write", r.who(c), strings.Join(to, ","), first, last)
		return
	}
	r.say("%s -> %s: %s..%s, in one write, with the bad line %q after %s",
		r.who(c), strings.Join(to, ","), first, last, badLines[0], texts[s.Count/2-1])
}

// sendPart sends the start of a message line, without its newline. The rest
// comes with the client's next line; if the client ends its input first,
// what it sent is not a line, and the server drops it (endPartialLocked). The line is cut before its colon: the start
// of a text ("bob: m1" of "bob: m12") could pass for another message.
func (r *run) sendPart(c *client, s Step) {
	to, text := r.recipients(s), r.nextText()
	line := spell(s, to, text)
	cut := 1 + s.Cut%strings.Index(line, ":")
	r.mu.Lock()
	var out string
	if c.partial != "" { // the line begun before ends first
		out = c.partial[c.cut:] + "\n"
		r.sentLocked(c, c.partial)
	}
	c.partial, c.cut = line, cut
	r.mu.Unlock()
	c.outbox <- out + line[:cut]
	r.say("%s -> %s: %s, but only %q of the line for now", r.who(c), strings.Join(to, ","), text, line[:cut])
}

// sendBad sends a line that is not a message. A line too long ends the
// server's reading of the connection: the client is quiet from then on.
func (r *run) sendBad(c *client, line string) {
	r.send(c, line)
	if isTooLong(line) {
		r.mu.Lock()
		c.quiet = true
		r.recordLocked(model.Event{Kind: model.Left, Conn: c.id})
		r.mu.Unlock()
		r.say("%s sends a line of %d bytes", r.who(c), len(line))
		return
	}
	r.say("%s sends a bad line: %q", r.who(c), line)
}

// leave half-closes c's connection: the server reads the end of its input,
// and c reads on.
func (r *run) leave(c *client) {
	r.mu.Lock()
	c.quiet = true
	r.endPartialLocked(c)
	r.recordLocked(model.Event{Kind: model.Left, Conn: c.id})
	r.mu.Unlock()
	r.closeOutbox(c) // writeLoop half-closes the connection once it has written the rest
}

// disconnect closes c's connection.
func (r *run) disconnect(c *client) {
	r.mu.Lock()
	c.left = true
	r.endPartialLocked(c)
	r.recordLocked(model.Event{Kind: model.Disconnected, Conn: c.id})
	r.mu.Unlock()
	c.conn.Close()
}

// endPartialLocked: the start of a line that SendsPart began, and that the
// client never ended, is not a line when its input ends: the server drops
// it (see protocol.Scanner), and the client sent no line.
func (r *run) endPartialLocked(c *client) {
	c.partial = ""
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
