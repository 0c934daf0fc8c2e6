package cluster

import (
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"achat/chat/protocol"
)

// This file holds what chapter limits added to chapter slow: the bounds and
// the clocks. Each is used in one place of server.go, conn.go or broker.go.

// acceptRetrying accepts the next connection. An error that a retry can cure
// (the process or the system is out of file descriptors or of buffers, a
// connection was aborted before it was taken) is logged once per episode and
// retried after a pause that starts at 5 ms and doubles up to 1 s, as
// net/http's Serve does; shutdown ends the pause. Any other error is
// returned, and ends Serve.
func (s *Server) acceptRetrying(l net.Listener) (net.Conn, error) {
	var pause time.Duration // 0: no error since the last connection
	failures := 0
	for {
		conn, err := l.Accept()
		if err == nil {
			if failures > 0 {
				s.log.Info("accepting again", "failures", failures)
			}
			return conn, nil
		}
		if !retryable(err) || s.isShuttingDown() {
			return nil, err
		}
		if failures++; failures == 1 {
			s.log.Warn("accept failed: retrying until it works", "err", err)
		}
		pause = min(max(2*pause, 5*time.Millisecond), time.Second)
		select {
		case <-time.After(pause):
		case <-s.ctx.Done(): // Shutdown has closed l: the next Accept fails for good
		}
	}
}

// retryable reports whether an Accept error may go away by itself.
func retryable(err error) bool {
	for _, errno := range []syscall.Errno{
		syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED,
	} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// fullEpisode is the accept loop's memory of being at the connection limit:
// it logs the first connection it refuses, and how many it refused once one
// is taken again, not one line per refusal.
type fullEpisode struct{ refused int }

// refuse tells a connection past the limit why, and closes it, in the
// accept loop: at once, so that it never waits unanswered, and with a short
// write deadline, so that a client that does not read cannot hold the loop.
// It is closed without a linger, which would hold it past the limit.
func (e *fullEpisode) refuse(s *Server, conn net.Conn) {
	if e.refused++; e.refused == 1 {
		s.log.Warn("at the connection limit: refusing new connections", "limit", s.maxConns)
	}
	conn.SetWriteDeadline(time.Now().Add(refuseTimeout))
	io.WriteString(conn, protocol.ErrorLine(protocol.ErrTooManyConns))
	conn.Close()
}

// end notes that a connection was taken again.
func (e *fullEpisode) end(s *Server) {
	if e.refused > 0 {
		s.log.Info("below the connection limit again", "refused", e.refused)
		e.refused = 0
	}
}

// refuseTimeout bounds the write of the error line to a refused connection.
const refuseTimeout = 100 * time.Millisecond

// progressWriter writes to a connection in pieces of at most 4 KiB, each
// with a deadline timeout away: a write fails when it makes no progress for
// timeout, not when a long batch to a slow reader takes longer than that.
type progressWriter struct {
	conn    net.Conn
	timeout time.Duration
}

const writePiece = 4 << 10

func (w progressWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		piece := p[:min(len(p), writePiece)]
		w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
		n, err := w.conn.Write(piece)
		written += n
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// isTimeout reports whether err is a deadline that passed.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
