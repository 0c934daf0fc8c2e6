package broker

import (
	"net"

	"achat/chat/protocol"
	"achat/chat/queue"
)

// read is a connection's reader: it reads the login line, then every message
// line that has arrived, and hands them to the broker at once. It stops at
// the end of the input.
func (s *Server) read(conn net.Conn) {
	lines := protocol.NewScanner(conn)
	name, ok := s.readLogin(lines)
	if !ok {
		conn.Close() // never logged in: the reader is conn's only user
		return
	}
	s.events <- loginEvent{name: name, conn: conn}
	for lines.ScanBatch() {
		s.accept(conn, name, lines.Batch())
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

// write is a peer's writer: it writes every message of its queue, in order,
// flushing whenever the queue is empty. It stops at the first write error.
func (s *Server) write(conn net.Conn, name string, q *queue.Queue[string]) {
	defer conn.Close()
	var batch []string
	for {
		var ok bool
		batch, ok = q.Next(batch)
		if !ok {
			break
		}
		if err := protocol.WriteLines(conn, batch); err != nil {
			s.log.Warn("write failed", "peer", name, "err", err)
			return
		}
	}
}
