package notify

import (
	"net"

	"achat/chat/protocol"
	"achat/chat/queue"
)

// read is a connection's reader: it reads the login line, then every message
// line that has arrived, and hands them to the broker at once. It stops at
// the end of the input or when it is notified that shutdown began.
func (s *Server) read(conn net.Conn) {
	defer s.readers.Done()
	lines := protocol.NewScanner(conn)
	// BUG: the login line is read before the select below, where no
	// notification can reach it. A client that never sends its name keeps this
	// reader here, and Shutdown waits for it forever.
	name, ok := s.readLogin(lines)
	if !ok {
		conn.Close() // never logged in: the reader is conn's only user
		return
	}
	stopWriter := make(chan struct{})
	defer close(stopWriter) // tells the writer that its reader has returned
	s.events <- loginEvent{name: name, conn: conn, stop: stopWriter}

	// Go cannot select on a Read, so a goroutine turns lines into a channel.
	incoming := make(chan []string)
	go scan(lines, incoming, stopWriter) // ends at the end of the input or when read returns
	for {
		// BUG: the reader is registered for the notification only while it
		// waits in this select. While it is busy with its lines, a
		// notification passes it by, and it goes on waiting for lines as if
		// nothing happened.
		notified, unregister := s.shutdown.register()
		select {
		case batch, ok := <-incoming:
			unregister()
			if !ok {
				return
			}
			s.accept(conn, name, batch)
		case <-notified:
			return
		}
	}
}

func (s *Server) readLogin(lines *protocol.Scanner) (name string, ok bool) {
	if !lines.Scan() {
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

// scan sends each batch of lines on incoming, and closes incoming, its only
// sender's duty, at the end of the input. It returns early when done is
// closed.
func scan(lines *protocol.Scanner, incoming chan<- []string, done <-chan struct{}) {
	defer close(incoming)
	for lines.ScanBatch() {
		select {
		case incoming <- lines.Batch():
		case <-done:
			return
		}
	}
}

// write is a peer's writer: it writes every message of its queue, in order,
// flushing whenever the queue is empty, until the queue is closed or its
// reader has returned. It is conn's last user, so it closes conn.
func (s *Server) write(conn net.Conn, name string, q *queue.Queue[string], stop <-chan struct{}) {
	defer conn.Close()
	var batch []string
	for {
		// BUG: when messages are queued and stop is closed, select picks one
		// of the two at random, so the writer can return with messages still
		// queued (the seed's select! does the same).
		select {
		case <-q.Ready():
		case <-stop:
			return
		}
		var ok bool
		batch, ok = q.Next(batch)
		if !ok {
			return
		}
		if err := protocol.WriteLines(conn, batch); err != nil {
			s.log.Warn("write failed", "peer", name, "err", err)
			return
		}
	}
}
