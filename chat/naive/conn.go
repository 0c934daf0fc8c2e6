package naive

import (
	"io"
	"net"

	"achat/chat/protocol"
)

// read is a connection's reader: it reads the login line, then every message
// line that has arrived, and writes each message straight into its
// recipients' connections. It stops at the end of the input.
func (s *Server) read(conn net.Conn) {
	lines := protocol.NewScanner(conn)
	name, ok := s.readLogin(lines)
	if !ok || !s.login(name, conn) {
		conn.Close() // not logged in: the reader is conn's only user
		return
	}
	s.hooks.ReportLoggedIn(conn, name)
	// A batch is every complete line that had arrived when the reader looked
	// (128 at most): one read, many lines. The chapters after this one hand a
	// batch to their broker in one event; here it changes nothing but speed.
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

// accept delivers the messages of a batch of lines, one at a time; other
// lines are skipped.
func (s *Server) accept(conn net.Conn, name string, batch []string) {
	for _, line := range batch {
		msg, err := protocol.ParseMessage(line)
		if err != nil {
			continue // the tutorial skips bad lines; so do the chapters before replies
		}
		s.hooks.ReportAccepted(conn, name, msg)
		s.deliver(name, msg)
		s.hooks.ReportRouted(name, msg)
	}
}

// login adds conn under name, unless the name is taken.
func (s *Server) login(name string, conn net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.peers[name]; taken {
		s.log.Info("name taken: closing the connection", "name", name)
		return false
	}
	s.peers[name] = conn
	return true
}

// deliver writes the message into each recipient's connection. It holds the
// lock while it writes, so that two senders' lines never interleave. BUG:
// every other reader needs that lock too, so one client that does not read
// stalls every sender, once its connection's buffers are full.
func (s *Server) deliver(from string, msg protocol.Message) {
	line := protocol.FormatDelivery(from, msg.Text)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range msg.To {
		if conn, ok := s.peers[name]; ok {
			if _, err := io.WriteString(conn, line); err != nil {
				s.log.Warn("write failed", "peer", name, "err", err)
			}
		}
	}
}
