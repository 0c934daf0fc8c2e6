package cluster

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"achat/chat/protocol"
	"achat/chat/queue"
)

// read is a connection's reader. It reads the login line and waits for the
// broker's verdict, then reads every message line that has arrived and hands
// them to the broker at once. It stops at the end of the input, at a line
// too long, or when shutdown begins, whichever comes first, even while it
// waits for the login.
// If its client left, it tells the broker, which frees the name and tells
// the writer to finish.
func (s *Server) read(conn net.Conn, id connID) {
	defer s.readers.Done()
	// The login timeout is set before the wake-up is armed, so that a
	// wake-up always comes after it and wins.
	conn.SetReadDeadline(time.Now().Add(s.loginTimeout))
	stopWaking := s.wakeAtShutdown(conn)
	defer stopWaking()

	lines := protocol.NewScanner(conn)
	name, err := s.readLogin(lines)
	if err == nil {
		// Logged in: its reads have no clock (docs/09-limits.md). This may
		// undo a wake-up that came since the login line: then readMessages
		// sees the cancelled context before it reads.
		conn.SetReadDeadline(time.Time{})
		err = s.join(conn, id, name)
	}
	if err != nil {
		stopWaking() // refuse lingers on conn's reads: shutdown must not cut it short
		s.refuse(conn, err)
		return
	}
	s.readMessages(lines, conn, id, name)
	// The reader is done with conn. Once it has said so, the writer lingers
	// on conn's reads to close gracefully, and a wake-up that came then would
	// end the linger at once: so the wake-up stops first.
	stopWaking()
	if s.ctx.Err() != nil {
		return // shutdown: the peer stays, to get what is routed to it until the end
	}
	s.events <- leaveEvent{id: id, name: name}
	// After the leave event: a client of another node that takes the name
	// now gets no message that the broker routed to this one.
	if err := s.bus.release(name); err != nil {
		s.log.Warn("name not freed: it comes free within the name TTL", "name", name, "err", err)
		return
	}
	s.log.Debug("name freed", "name", name)
}

// wakeAtShutdown wakes a reader blocked in Read on conn when shutdown
// begins: a read deadline in the past makes the current Read, and every
// later one, fail. AfterFunc runs the wake-up in a goroutine of its own;
// stop, which may be called more than once, waits for it if it has started,
// so that no goroutine outlives the reader.
func (s *Server) wakeAtShutdown(conn net.Conn) (stop func()) {
	woken := make(chan struct{})
	stopWaking := context.AfterFunc(s.ctx, func() {
		conn.SetReadDeadline(time.Now())
		close(woken) // the only close: AfterFunc runs the func once at most
	})
	return sync.OnceFunc(func() {
		if !stopWaking() {
			<-woken
		}
	})
}

// errNoLogin: the client left, or shutdown began, before it sent its name.
var errNoLogin = errors.New("no login line")

func (s *Server) readLogin(lines *protocol.Scanner) (string, error) {
	if s.ctx.Err() != nil || !lines.Scan() {
		switch {
		case errors.Is(lines.Err(), bufio.ErrTooLong):
			return "", protocol.ErrLineTooLong
		case errors.Is(lines.Err(), os.ErrDeadlineExceeded) && s.ctx.Err() == nil:
			return "", protocol.ErrLoginTimeout // the deadline was the login timeout's
		}
		return "", errNoLogin
	}
	return protocol.ParseLogin(lines.Text())
}

// join claims name in the cluster, then asks the broker to log conn in as
// name, and waits for the answer: no line is read, so no message is sent,
// under a name that may be refused. The broker always answers, because it
// runs until every reader has returned.
func (s *Server) join(conn net.Conn, id connID, name string) error {
	if err := s.bus.claim(name); err != nil {
		return err // held by a client of this node or of another
	}
	// The broker learns of other nodes' names from the watcher, a moment
	// late. Once it has been told of every claim before this one, no line
	// of this client is refused as "not logged in" for a name that was
	// claimed before it logged in.
	if !s.bus.knowsBefore(name) {
		s.log.Warn("names claimed elsewhere may be unknown here for a while", "name", name)
	}
	verdict := make(chan error, 1) // the broker sends once, without waiting
	s.events <- loginEvent{id: id, name: name, conn: conn, verdict: verdict}
	if err := <-verdict; err != nil {
		s.bus.release(name)
		return err
	}
	// The client may learn that it is logged in from its next line's answer:
	// from then on it must get what other nodes send it.
	if err := s.bus.confirm(); err != nil {
		s.log.Warn("messages from other nodes may not reach this client", "name", name, "err", err)
	}
	return nil
}

// refuse tells the client why it cannot log in, unless it has gone, and
// closes its connection. No writer was started: the reader is conn's only
// user.
func (s *Server) refuse(conn net.Conn, err error) {
	if errors.Is(err, errNoLogin) {
		s.closeConn(conn)
		return
	}
	s.log.Info("login refused", "err", err)
	// A client that does not read must not hold the reader, and shutdown.
	conn.SetWriteDeadline(time.Now().Add(lingerTimeout))
	io.WriteString(conn, protocol.ErrorLine(err))
	s.closeGracefully(conn)
}

// readMessages hands the message lines to the broker, a batch at a time; a
// bad line gets an error line back, through the broker and the writer, and
// reading goes on, except after a line too long: the rest of it is not worth
// reading.
func (s *Server) readMessages(lines *protocol.Scanner, conn net.Conn, id connID, name string) {
	// The context is checked before every batch, so a reader that was busy
	// when shutdown began stops too, even if more lines are already buffered.
	// The batch it was busy with, 128 lines at most, was accepted: it goes
	// to the broker, and will be delivered.
	for s.ctx.Err() == nil && lines.ScanBatch() {
		s.accept(conn, id, name, lines.Batch())
	}
	if errors.Is(lines.Err(), bufio.ErrTooLong) {
		s.events <- replyEvent{id: id, name: name, line: protocol.ErrorLine(protocol.ErrLineTooLong)}
	}
}

// accept hands the messages of a batch of lines to the broker, in one event,
// or in more around a bad line, whose error line goes to the broker between
// them.
func (s *Server) accept(conn net.Conn, id connID, name string, batch []string) {
	msgs := make([]protocol.Message, 0, len(batch)) // sized once: most lines are messages
	for _, line := range batch {
		msg, err := protocol.ParseMessage(line)
		if err != nil {
			// The client reads the answers in the order of its lines: the
			// messages before this line go to the broker first.
			s.handOver(id, name, msgs)
			msgs = nil // a new slice: the broker owns the one handed over
			s.events <- replyEvent{id: id, name: name, line: protocol.ErrorLine(err)}
			continue
		}
		s.hooks.ReportAccepted(conn, name, msg)
		msgs = append(msgs, msg)
	}
	s.handOver(id, name, msgs)
}

// handOver sends the broker msgs, if there are any, in one event.
func (s *Server) handOver(id connID, name string, msgs []protocol.Message) {
	if len(msgs) > 0 {
		s.events <- messageEvent{id: id, from: name, msgs: msgs}
	}
}

// write is a peer's writer: it writes every line of its queue, in order,
// flushing whenever the queue is empty, until the broker closes the queue:
// when its client leaves, or at the end of shutdown.
// It is conn's last user, so it closes conn. A write that makes no progress
// for the write timeout gives up on the client: see giveUp. After a write
// error it keeps taking messages, so that it can count them, and the count
// is logged: a message is never dropped silently. It takes what it has
// written off unwritten, which the broker bounds.
func (s *Server) write(conn net.Conn, name string, q *queue.Queue[string], unwritten *atomic.Int64) {
	defer s.writers.Done()
	defer s.closeGracefully(conn)
	out := progressWriter{conn: conn, timeout: s.writeTimeout}
	var batch []string
	var err error // the first write error
	undelivered := 0
	for {
		var ok bool
		batch, ok = q.Next(batch)
		if !ok {
			break
		}
		if err == nil {
			err = protocol.WriteLines(out, batch)
			if isTimeout(err) {
				s.giveUp(conn, name)
			}
		}
		if err != nil {
			undelivered += len(batch) // some of a failed batch may have gone out
		}
		unwritten.Add(-byteCount(batch))
	}
	if undelivered > 0 {
		s.log.Warn("messages not delivered", "peer", name, "count", undelivered, "err", err)
	}
}

// giveUp closes the connection of a client that read nothing for the write
// timeout. Its reader's Read fails, the reader says it left, and the broker
// frees the name and closes the queue, which ends the writer. An evicted
// client that never reads is gone within the write timeout too.
func (s *Server) giveUp(conn net.Conn, name string) {
	s.log.Warn("write timed out: disconnecting", "peer", name, "timeout", s.writeTimeout)
	s.closeConn(conn)
}

// byteCount is how many bytes lines hold.
func byteCount(lines []string) int64 {
	n := 0
	for _, line := range lines {
		n += len(line)
	}
	return int64(n)
}

// lingerTimeout bounds how long closeGracefully waits for a client to close.
const lingerTimeout = 500 * time.Millisecond // net/http waits as long (rstAvoidanceDelay)

// closeGracefully closes conn so that what was written to it arrives.
// Closing a TCP socket whose input has not all been read makes the kernel
// reset the connection, and a reset throws away what was written but not yet
// sent: a client that typed a line after its reader stopped would lose the
// end of what it is owed. So the writer half-closes (the client reads to the
// end, then EOF), reads and discards until the client closes or
// lingerTimeout passes, and only then closes. (net/http half-closes too,
// then sleeps 500 ms without reading: reading lets the close come as soon
// as the client's does.)
func (s *Server) closeGracefully(conn net.Conn) {
	if hc, ok := conn.(interface{ CloseWrite() error }); ok && hc.CloseWrite() == nil {
		conn.SetReadDeadline(time.Now().Add(lingerTimeout))
		io.Copy(io.Discard, conn) // its reader has returned: the writer is conn's only user
	}
	s.closeConn(conn)
}
