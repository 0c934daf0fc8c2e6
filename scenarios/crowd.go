package scenarios

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// crowd is the silent clients of a run: connections that never send a
// byte, as a crowd of idle or hostile clients opens them, and that read
// whatever the server sends until it closes them. Each has a goroutine that
// reads, and records when the server closed the connection.
type crowd struct {
	mu      sync.Mutex // guards the fields below, and each silent's
	members []*silent
	failed  int           // dials that failed
	failure error         // why the first one failed
	changed chan struct{} // closed, and replaced, when a member is closed by the server
	wg      sync.WaitGroup
}

// silent is one silent client.
type silent struct {
	conn      *net.TCPConn
	connected time.Time // when the dial returned
	closed    time.Time // when the server's close was read; zero while it is open
	byClient  bool      // the runner closed it first
}

// crowdDialers is how many silent clients dial at once: enough to be quick,
// few enough that a full backlog, whose dials wait, costs little more than
// one wait.
const crowdDialers = 64

// connect opens n more silent connections to addr, crowdDialers at a time.
// A dial that fails, or is not answered within timeout, is counted.
func (cr *crowd) connect(addr string, n int, timeout time.Duration) {
	cr.mu.Lock()
	if cr.changed == nil {
		cr.changed = make(chan struct{})
	}
	cr.mu.Unlock()
	todo := make(chan struct{}, n)
	for range n {
		todo <- struct{}{}
	}
	close(todo) // the only close: every dial is handed out
	var dialers sync.WaitGroup
	for range min(n, crowdDialers) {
		dialers.Go(func() {
			for range todo {
				cr.dial(addr, timeout)
			}
		})
	}
	dialers.Wait()
}

func (cr *crowd) dial(addr string, timeout time.Duration) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if err != nil {
		if cr.failed++; cr.failed == 1 {
			cr.failure = err
		}
		return
	}
	s := &silent{conn: conn.(*net.TCPConn), connected: time.Now()}
	cr.members = append(cr.members, s)
	cr.wg.Go(func() { cr.read(s) }) // ends when the connection is closed, by either side
}

// read reads and drops what the server sends until it closes the
// connection, and records when.
func (cr *crowd) read(s *silent) {
	buf := make([]byte, 512)
	for {
		if _, err := s.conn.Read(buf); err != nil {
			break
		}
	}
	cr.mu.Lock()
	if !s.byClient {
		s.closed = time.Now()
	}
	close(cr.changed)
	cr.changed = make(chan struct{})
	cr.mu.Unlock()
	s.conn.Close()
}

// openLocked counts the members the server has not closed.
func (cr *crowd) openLocked() int {
	n := 0
	for _, s := range cr.members {
		if s.closed.IsZero() && !s.byClient {
			n++
		}
	}
	return n
}

// waitClosed waits until the server has closed every member, or timeout
// fires, and returns how many it has not closed. onClose, if not nil, is
// called whenever one is closed: it may reset the timer.
func (cr *crowd) waitClosed(timeout <-chan time.Time, onClose func()) int {
	for {
		cr.mu.Lock()
		left, changed := cr.openLocked(), cr.changed
		cr.mu.Unlock()
		if left == 0 {
			return 0
		}
		select {
		case <-changed:
			if onClose != nil {
				onClose()
			}
		case <-timeout:
			return left
		}
	}
}

// hangUp half-closes every member, as a client does that has nothing more
// to say, and waits until the server has closed each, or until none has
// closed for the patience; then it closes every member. It returns how many
// the server had not closed. A server closes a connection once it no longer
// counts it: a server that the crowd held at its connection limit has room
// again once hangUp returns 0.
func (cr *crowd) hangUp(patience time.Duration) int {
	cr.mu.Lock()
	for _, s := range cr.members {
		if s.closed.IsZero() {
			s.conn.CloseWrite() // an error: the server has reset it, and the reader will say so
		}
	}
	cr.mu.Unlock()
	quiet := time.NewTimer(patience)
	defer quiet.Stop()
	left := cr.waitClosed(quiet.C, func() { quiet.Reset(patience) })
	cr.close()
	return left
}

// close closes every member, at once, and waits for the readers.
func (cr *crowd) close() {
	cr.mu.Lock()
	for _, s := range cr.members {
		if s.closed.IsZero() {
			s.byClient = true
		}
		s.conn.Close()
	}
	cr.mu.Unlock()
	cr.wg.Wait()
}

// closedWithin waits until the server has closed every member, or the
// newest has been open for d, and reports how many the server did not
// close within d of their connection, how many there are, and the longest
// it held one of the others.
func (cr *crowd) closedWithin(d time.Duration) (late, total int, longest time.Duration) {
	cr.mu.Lock()
	var newest time.Time
	for _, s := range cr.members {
		newest = latest(newest, s.connected)
	}
	cr.mu.Unlock()
	deadline := time.NewTimer(time.Until(newest.Add(d)))
	defer deadline.Stop()
	cr.waitClosed(deadline.C, nil)
	cr.mu.Lock()
	defer cr.mu.Unlock()
	for _, s := range cr.members {
		held := s.closed.Sub(s.connected)
		if s.closed.IsZero() || held > d {
			late++
			continue
		}
		longest = max(longest, held)
	}
	return late, len(cr.members), longest
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// dialFailures returns how many dials failed, and why the first did.
func (cr *crowd) dialFailures() (int, error) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return cr.failed, cr.failure
}

// crowdConnect: "<N> silent clients connect".
type crowdConnect struct{ n int }

func (a crowdConnect) do(r *run) error {
	r.crowd.connect(r.node(1).addr, a.n, r.patience)
	return nil
}

// crowdDisconnect: "the silent clients disconnect". It fails if the server
// keeps some of them: what comes next may count on their being gone.
type crowdDisconnect struct{}

func (crowdDisconnect) do(r *run) error {
	if left := r.crowd.hangUp(r.patience); left > 0 {
		return fmt.Errorf("%s silent clients still connected after %s", count(left), duration(r.patience))
	}
	return nil
}

// crowdDisconnected: every silent client was closed by the server within a
// time of its connection. A dial that failed is not counted: the server
// holds nothing of it.
type crowdDisconnected struct{ within time.Duration }

func (crowdDisconnected) clients() []string { return nil }

func (e crowdDisconnected) eval(r *run) (bool, string) {
	late, total, longest := r.crowd.closedWithin(e.within)
	failed, err := r.crowd.dialFailures()
	why := ""
	if failed > 0 {
		why = r.dialFailure(err, r.node(1))
	}
	return late == 0, crowdFigure(late, total, failed, longest, e.within, why)
}

// crowdFigure says how the server dealt with a crowd: "all 500 within 1.1s",
// "500 of 500 still connected after 5s", and how many could not connect,
// and why, if any: " (12 could not connect: connection refused)".
func crowdFigure(late, total, failed int, longest, within time.Duration, why string) string {
	figure := fmt.Sprintf("all %s within %s", count(total), duration(longest))
	if late > 0 {
		figure = fmt.Sprintf("%s of %s still connected after %s", count(late), count(total), duration(within))
	}
	if failed > 0 {
		figure += fmt.Sprintf(" (%s could not connect: %s)", count(failed), why)
	}
	return figure
}
