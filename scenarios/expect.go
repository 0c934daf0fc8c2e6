package scenarios

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// check is what an "expect" line checks. eval reports whether it holds and
// a short figure that says what was measured: "lost 251,846", "exit 0 in
// 40ms", "hung > 5s".
type check interface {
	eval(r *run) (pass bool, figure string)
	clients() []string // the clients it is about, which must have connected
}

// needsExit marks the checks that need the server process to have ended:
// its peak memory is known, and its log whole, only then.
type needsExit interface {
	check
	needsExit()
}

// receivedInOrder: the client received exactly n messages from a sender,
// none twice, in the order they were sent.
type receivedInOrder struct {
	client, from string
	n            int
}

func (e receivedInOrder) clients() []string { return []string{e.client} }

func (e receivedInOrder) eval(r *run) (bool, string) {
	ok, figure := inOrder(r.received(e.client), e.from, e.n)
	if !ok && r.gotLinePrefix(e.client, "error: too slow") {
		figure += " (evicted as too slow)" // by design, in chapter slow: it says so
	}
	return ok, figure
}

// inOrder measures the messages from sender among ids against n sent.
func inOrder(ids []msgID, from string, n int) (bool, string) {
	var seen []bool // by message number
	got, twice, late, last := 0, 0, 0, -1
	for _, id := range ids {
		if id.from != from {
			continue
		}
		if id.seq >= len(seen) {
			seen = append(seen, make([]bool, id.seq+1-len(seen))...)
		}
		switch {
		case seen[id.seq]:
			twice++
		case id.seq < last:
			late++
		default:
			last = id.seq
		}
		if !seen[id.seq] {
			seen[id.seq] = true
			got++
		}
	}
	if got == n && twice == 0 && late == 0 {
		return true, count(n) + " in order"
	}
	var parts []string
	if got < n {
		parts = append(parts, "lost "+count(n-got))
	}
	if got > n {
		parts = append(parts, count(got-n)+" too many")
	}
	if twice > 0 {
		parts = append(parts, count(twice)+" twice")
	}
	if late > 0 {
		parts = append(parts, count(late)+" out of order")
	}
	return false, strings.Join(parts, ", ")
}

// receivedSame: two clients received the same numbered messages.
type receivedSame struct{ client, other string }

func (e receivedSame) clients() []string { return []string{e.client, e.other} }

func (e receivedSame) eval(r *run) (bool, string) {
	return same(r.received(e.client), r.received(e.other), e.other)
}

// received returns the numbered messages a client read on all its
// connections, in the order it read them: a client that logged in again,
// on another node, say, is one reader.
func (r *run) received(label string) []msgID {
	var ids []msgID
	for _, c := range r.connections(label) {
		ids = append(ids, snapshot(c)...)
	}
	return ids
}

// connections returns every connection a client made, in order.
func (r *run) connections(label string) []*client {
	var conns []*client
	for _, c := range r.all {
		if c.label == label {
			conns = append(conns, c)
		}
	}
	return conns
}

// gotLinePrefix reports whether the client read a line that starts with
// prefix, on any of its connections.
func (r *run) gotLinePrefix(label, prefix string) bool {
	for _, c := range r.connections(label) {
		c.mu.Lock()
		got := c.in.hasLinePrefix(prefix)
		c.mu.Unlock()
		if got {
			return true
		}
	}
	return false
}

func snapshot(c *client) []msgID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]msgID(nil), c.in.messages...)
}

// same compares the messages a client got with those other got.
func same(got, theirs []msgID, other string) (bool, string) {
	mine := make(map[msgID]bool, len(got))
	for _, id := range got {
		mine[id] = true
	}
	missing, common := 0, 0
	for _, id := range theirs {
		if mine[id] {
			common++
		} else {
			missing++
		}
	}
	extra := len(mine) - common
	switch {
	case missing == 0 && extra == 0:
		return true, "both got " + count(common)
	case extra == 0:
		return false, fmt.Sprintf("missing %s %s got", count(missing), other)
	case missing == 0:
		return false, fmt.Sprintf("%s %s did not get", count(extra), other)
	}
	return false, fmt.Sprintf("missing %s %s got, %s more", count(missing), other, count(extra))
}

// receivedLine: the client received a line that starts with prefix; error
// replies are checked this way.
type receivedLine struct{ client, prefix string }

func (e receivedLine) clients() []string { return []string{e.client} }

func (e receivedLine) eval(r *run) (bool, string) {
	c := r.clients[e.client]
	c.mu.Lock()
	defer c.mu.Unlock()
	if line, ok := c.in.lineStarting(e.prefix); ok {
		return true, "got " + strconv.Quote(short(line))
	}
	_, anyError := c.in.lineStarting("error: ")
	switch {
	case anyError || !strings.HasPrefix(e.prefix, "error: "):
		return false, "no " + strconv.Quote(short(e.prefix)) + " line"
	case c.in.closedByServer() && c.login != loggedIn:
		return false, "refused silently"
	case c.in.closedByServer():
		return false, "disconnected silently"
	}
	return false, "no error line"
}

// wasDisconnected: the server closed the client's connection. It reads on
// until it does, or until nothing has come for the patience.
type wasDisconnected struct{ client string }

func (e wasDisconnected) clients() []string { return []string{e.client} }

func (e wasDisconnected) eval(r *run) (bool, string) {
	return disconnected(r.clients[e.client], r.patience)
}

// disconnected reads on until the server closes c's connection, or until
// nothing has come for the patience, and says which.
func disconnected(c *client, patience time.Duration) (bool, string) {
	c.gate.open()
	c.await(patience, func(*inbox) bool { return false })
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.conn == nil:
		return false, c.refusal
	case !c.in.closedByServer():
		return false, "still connected after " + duration(patience)
	case c.in.endedBy == "a reset":
		return true, "disconnected (reset)"
	}
	return true, "disconnected"
}

// wereDisconnected: the server closed the connection of each client. They
// read on at the same time, so that a server that closes none costs one
// patience, not one per client.
type wereDisconnected struct{ names []string }

func (e wereDisconnected) clients() []string { return e.names }

func (e wereDisconnected) eval(r *run) (bool, string) {
	results := make([]bool, len(e.names))
	var wg sync.WaitGroup
	for i, name := range e.names {
		c := r.clients[name]
		wg.Go(func() { results[i], _ = disconnected(c, r.patience) })
	}
	wg.Wait()
	connected := 0
	for _, ok := range results {
		if !ok {
			connected++
		}
	}
	if connected > 0 {
		return false, fmt.Sprintf("%s of %s still connected after %s",
			count(connected), count(len(e.names)), duration(r.patience))
	}
	return true, "all " + count(len(e.names)) + " disconnected"
}

// isLoggedIn: the client's last login attempt succeeded.
type isLoggedIn struct{ client string }

func (e isLoggedIn) clients() []string { return []string{e.client} }

func (e isLoggedIn) eval(r *run) (bool, string) {
	c := r.clients[e.client]
	return c.state() == loggedIn, c.loginFigure()
}

// anyStatus: "expect the server exits within ..." accepts any exit status.
const anyStatus = -1

// exits: a node exits, with the given status, within a time of its first
// ctrl-c: "the server" is node 1. A node that was started again is checked
// in each of its processes that took a ctrl-c; the figure is the first that
// failed, or the slowest.
type exits struct {
	node   int
	status int
	within time.Duration
}

func (exits) clients() []string { return nil }

func (e exits) eval(r *run) (bool, string) {
	var slowest time.Duration
	figure := ""
	for _, srv := range r.processes(e.node) {
		if len(srv.sigints) == 0 {
			continue
		}
		sigint := srv.sigints[0]
		if !srv.waitExit(sigint.Add(e.within)) {
			return false, "hung > " + duration(e.within)
		}
		if !exitMatches(e.status, srv.cmd.ProcessState.ExitCode()) {
			return false, srv.exitFigure(sigint)
		}
		if took := srv.exitAt.Sub(sigint); figure == "" || took > slowest {
			slowest, figure = took, srv.exitFigure(sigint)
		}
	}
	return true, figure
}

// exitMatches reports whether exit status got is what was wanted. A process
// killed by a signal has no status (ExitCode -1), and matches nothing.
func exitMatches(want, got int) bool {
	if want == anyStatus {
		return got >= 0
	}
	return want == got
}

// peakMemory: the server's peak resident set (VmHWM) stayed under mb MiB:
// node 1's, the highest of its processes.
type peakMemory struct{ mb int }

func (peakMemory) clients() []string { return nil }
func (peakMemory) needsExit()        {}

func (e peakMemory) eval(r *run) (bool, string) {
	var kB int64
	for _, srv := range r.processes(1) {
		kB = max(kB, srv.peak())
	}
	if kB == 0 {
		return false, "peak unknown"
	}
	return memoryUnder(kB, e.mb)
}

func memoryUnder(kB int64, mb int) (bool, string) {
	return kB < int64(mb)<<10, fmt.Sprintf("peak %d MB", (kB+512)>>10)
}

// logs: a node's log contains text, in one of its processes: "the server"
// is node 1.
type logs struct {
	node int
	text string
}

func (logs) clients() []string { return nil }
func (logs) needsExit()        {}

func (e logs) eval(r *run) (bool, string) {
	for _, srv := range r.processes(e.node) {
		if strings.Contains(srv.Log(), e.text) {
			return true, "logged " + strconv.Quote(short(e.text))
		}
	}
	return false, "did not log " + strconv.Quote(short(e.text))
}

// count writes n with thousands separators: 251,846.
func count(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// duration writes d briefly: 40ms, 1.2s.
func duration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// short cuts a line for a table cell.
func short(s string) string {
	const max = 28
	if r := []rune(s); len(r) > max {
		return string(r[:max]) + "…"
	}
	return s
}
