package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// epoch is the zero of every send stamp. time.Since(epoch) is monotonic.
var epoch = time.Now()

// syncText is the text of the line a client sends itself to know it is
// logged in, and a sender to know the server has taken every line before it.
const syncText = "sync"

// client is one connection of a workload.
type client struct {
	name string
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

// dial connects as name and waits until the server has logged it in: it sends
// itself a sync line and reads it back. Once every client of a workload is
// back from dial, a line to any of them is delivered, not dropped.
func dial(addr, name string, deadline time.Time) (*client, error) {
	return dialSized(addr, name, deadline, 64<<10, 16<<10)
}

// dialSized is dial with buffers of rsize and wsize bytes: Idle holds
// thousands of clients that each read and write one short line.
func dialSized(addr, name string, deadline time.Time, rsize, wsize int) (*client, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Until(deadline))
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(deadline)
	c := &client{name: name, conn: conn, r: bufio.NewReaderSize(conn, rsize), w: bufio.NewWriterSize(conn, wsize)}
	fmt.Fprintf(c.w, "%s\n", name)
	if err := c.sync(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s: logging in: %w", name, err)
	}
	return c, nil
}

// sync sends the client a sync line from itself and reads up to it. The
// server routes one client's lines in order, so when it comes back every
// line sent before it has been routed. Lines before it are skipped.
func (c *client) sync() error {
	if err := c.askSync(); err != nil {
		return err
	}
	return c.awaitSync(nil)
}

// askSync sends the client its sync line.
func (c *client) askSync() error {
	fmt.Fprintf(c.w, "%s: %s\n", c.name, syncText)
	return c.w.Flush()
}

// awaitSync reads, and drops, every line until the sync line. It calls
// errorLine, if it is not nil, for each error line ("error: ...").
func (c *client) awaitSync(errorLine func()) error {
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if errorLine != nil && bytes.HasPrefix(line, []byte("error: ")) {
			errorLine()
		}
		if _, text, _ := bytes.Cut(line[:len(line)-1], []byte(": ")); string(text) == syncText {
			return nil
		}
	}
}

// readText reads one line and returns its text: what follows the first ": ",
// in "from alice: text" (a chat server) as in "bob: text" (echo).
func (c *client) readText() (string, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return "", err
	}
	_, text, _ := strings.Cut(string(line[:len(line)-1]), ": ")
	return text, nil
}

// readStamp reads one line and returns how long ago it was sent.
func (c *client) readStamp() (time.Duration, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if bytes.HasSuffix(line, []byte(": "+syncText+"\n")) {
		return 0, errSync
	}
	i := strings.LastIndexByte(string(line), ' ')
	sent, err := strconv.ParseInt(string(line[i+1:len(line)-1]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: no stamp in %q", c.name, line)
	}
	return time.Since(epoch) - time.Duration(sent), nil
}

// send writes n lines "prefix<stamp>", each stamped as it is written, and
// flushes. stop, if not nil, is asked every 1024 lines whether to stop
// early; send returns how many lines it wrote.
func (c *client) send(prefix string, n int, stop func() bool) (int, error) {
	buf := make([]byte, 0, 128)
	for i := range n {
		if i%1024 == 0 && stop != nil && stop() {
			return i, c.w.Flush()
		}
		buf = append(buf[:0], prefix...)
		buf = strconv.AppendInt(buf, int64(time.Since(epoch)), 10)
		buf = append(buf, '\n')
		if _, err := c.w.Write(buf); err != nil {
			return i, err
		}
	}
	return n, c.w.Flush()
}

// receive reads n stamped lines, recording each latency in lat[:n], and
// skips sync lines (see knowEachOther).
func (c *client) receive(lat []time.Duration) (int, error) {
	for i := 0; i < len(lat); {
		d, err := c.readStamp()
		if errors.Is(err, errSync) {
			continue
		}
		if err != nil {
			return i, err
		}
		lat[i] = d
		i++
	}
	return len(lat), nil
}

// errSync: readStamp read a sync line, which has no stamp.
var errSync = errors.New("a sync line")

// drainAll reads lines until the server closes the connection, and counts
// the stamped ones.
func (c *client) drainAll() (int, error) {
	n := 0
	for {
		text, err := c.readText()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if text != syncText {
			n++
		}
	}
}

func (c *client) close() { c.conn.Close() }
