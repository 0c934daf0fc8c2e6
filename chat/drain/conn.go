package drain

import (
	"context"
	"io"
	"net"
	"time"

	"achat/chat/protocol"
	"achat/chat/queue"
)

// read is a connection's reader: it reads the login line, then every message
// line that has arrived, and hands them to the broker at once. It stops at
// the end of the input or when shutdown begins, whichever comes first, even
// while it waits for the login.
func (s *Server) read(conn net.Conn) {
	defer s.readers.Done()
	stopWaking := s.wakeAtShutdown(conn)
	defer stopWaking()

	lines := protocol.NewScanner(conn)
	name, ok := s.readLogin(lines)
	if !ok {
		conn.Close() // never logged in: the reader is conn's only user
		return
	}
	s.events <- loginEvent{name: name, conn: conn}
	// The context is checked before every batch, so a reader that was busy
	// when shutdown began stops too, even if more lines are already buffered.
	// The batch it was busy with, 128 lines at most, was accepted: it goes
	// to the broker, and will be delivered.
	for s.ctx.Err() == nil && lines.ScanBatch() {
		s.accept(conn, name, lines.Batch())
	}
}

// wakeAtShutdown wakes a reader blocked in Read on conn when shutdown
// begins: a read deadline in the past makes the current Read, and every
// later one, fail. AfterFunc runs the wake-up in a goroutine of its own;
// stop waits for it if it has started, so that no goroutine outlives the
// reader.
func (s *Server) wakeAtShutdown(conn net.Conn) (stop func()) {
	woken := make(chan struct{})
	stopWaking := context.AfterFunc(s.ctx, func() {
		conn.SetReadDeadline(time.Now())
		close(woken) // the only close: AfterFunc runs the func once at most
	})
	return func() {
		if !stopWaking() {
			<-woken
		}
	}
}

func (s *Server) readLogin(lines *protocol.Scanner) (name string, ok bool) {
	if s.ctx.Err() != nil || !lines.Scan() {
		return "", false
	}
	name, err := protocol.ParseLogin(lines.Text())
	if err != nil {
		s.log.Info("bad login line: closing the connection", "err", err)
		return "", false
	}
	return name, true
}

// accept hands the messages of a batch of lines to the broker, in one event;
// other lines are skipped.
func (s *Server) accept(conn net.Conn, name string, batch []string) {
	msgs := make([]protocol.Message, 0, len(batch)) // sized once: most lines are messages
	for _, line := range batch {
		msg, err := protocol.ParseMessage(line)
		if err != nil {
			continue // the tutorial skips bad lines; so do the chapters before replies
		}
		s.hooks.ReportAccepted(conn, name, msg)
		msgs = append(msgs, msg)
	}
	if len(msgs) > 0 {
		s.events <- messageEvent{from: name, msgs: msgs}
	}
}

// write is a peer's writer: it writes every message of its queue, in order,
// flushing whenever the queue is empty, until the broker closes the queue.
// It is conn's last user, so it closes conn. After a write error (the
// client is gone) it takes the rest of its queue and drops it, and logs the
// error.
func (s *Server) write(conn net.Conn, name string, q *queue.Queue[string]) {
	defer s.writers.Done()
	defer s.closeGracefully(conn)
	var batch []string
	var err error // the first write error
	for {
		var ok bool
		batch, ok = q.Next(batch)
		if !ok {
			break
		}
		if err == nil {
			err = protocol.WriteLines(conn, batch)
		}
	}
	if err != nil {
		s.log.Warn("write failed", "peer", name, "err", err)
	}
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
	conn.Close()
}
