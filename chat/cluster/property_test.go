package cluster

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"achat/model"
)

// TestProperties runs random schedules over two nodes and an embedded NATS
// server, on loopback and in real time: clients log in on either node and
// send bursts without waiting, a node restarts (a clean shutdown, and its
// clients log in again on the other node) while messages fly, and a second
// connection tries a name held on the other node. Then both nodes stop, and
// what each client read is judged against what the clients sent and saw,
// never against the server's word:
//
//   - Delivery: a message is owed to a recipient if its sender saw it routed
//     (its own copy came back) and was not told that the recipient is logged
//     in nowhere, and the recipient was logged in (its own first message
//     had come back) before the message was sent, on a node that had not
//     begun its shutdown when the copy came back;
//   - Exactly once, Order, Nothing spurious: as in one server;
//   - Names: one name, one connection, in the whole cluster; Login: a client
//     whose node has stopped can log in again at once on another, as soon as
//     its connection ends;
//   - Error lines: a sender is told that a recipient is logged in nowhere
//     only if it was not, or not yet known to every node. That a node knows a
//     name comes from its log (the harness waits for it after each login):
//     the server's word here only narrows what is allowed;
//   - Termination: each node's Shutdown returns before its deadline.
//
// In the settled part, a client waits after each burst until every line of
// it has come back (so a node has routed it), so that the steps after it,
// a restart above all, begin at the same point on every run: a failure
// replays, and rapid shrinks it. In the rushed part it does not wait: a
// restart lands while a node is still reading what was sent, which is the
// harder case, but what was accepted before it then depends on scheduling.
func TestProperties(t *testing.T) {
	url := startNATS(t)
	t.Run("settled", func(t *testing.T) { checkProperties(t, url, true) })
	t.Run("rushed", func(t *testing.T) { checkProperties(t, url, false) })
}

func checkProperties(t *testing.T, url string, settled bool) {
	part := map[bool]string{true: "s", false: "r"}[settled] // names differ from check to check, and part to part
	var checks atomic.Int32
	rapid.Check(t, func(rt *rapid.T) {
		s := drawSchedule(rt)
		h := &harness{url: url, settled: settled, prefix: fmt.Sprintf("%s%d", part, checks.Add(1))}
		defer h.close()
		h.run(s)
		if len(h.violations) > 0 {
			if os.Getenv("CHATTEST_SHOW") != "" {
				// rapid logs only its replay, and a failure that scheduling
				// decided may not come back when replayed: this shows each.
				fmt.Fprintf(os.Stderr, "failing schedule:\n  %s\n%v\n", strings.Join(s.story(), "\n  "), h.violations)
				for i, n := range h.allNodes {
					n.logs.mu.Lock()
					fmt.Fprintf(os.Stderr, "node run %d:\n  %s\n", i, strings.Join(n.logs.lines, "\n  "))
					n.logs.mu.Unlock()
				}
			}
			rt.Logf("the schedule:\n  %s", strings.Join(s.story(), "\n  "))
			for _, v := range h.violations {
				rt.Log(v.String())
			}
			rt.Fatal(string(h.violations[0].Property)) // fixed text, so that rapid can shrink
		}
	})
}

// Termination is this chapter's form of the promise that Ctrl-C ends.
const Termination model.Property = "Termination: a node's Shutdown did not end before its deadline"

// schedule is what a check does: clients start on a node each, then steps.
type schedule struct {
	clients []int // the node each client logs in on first
	steps   []step
}

type step struct {
	kind   string // "send", "restart", "impostor"
	client int    // send, impostor: whose
	node   int    // restart: which
	to     []int  // send: the recipients (-1: a name nobody holds)
	burst  int    // send: how many lines
}

func drawSchedule(rt *rapid.T) schedule {
	var s schedule
	s.clients = rapid.SliceOfN(rapid.IntRange(0, 1), 2, 4).Draw(rt, "clients")
	n := rapid.IntRange(1, 10).Draw(rt, "steps")
	for range n {
		st := step{kind: rapid.SampledFrom([]string{"send", "send", "send", "restart", "impostor"}).Draw(rt, "kind")}
		switch st.kind {
		case "send":
			st.client = rapid.IntRange(0, len(s.clients)-1).Draw(rt, "from")
			st.to = rapid.SliceOfNDistinct(rapid.IntRange(-1, len(s.clients)-1), 1, len(s.clients)+1,
				rapid.ID[int]).Draw(rt, "to")
			st.to = slices.DeleteFunc(st.to, func(c int) bool { return c == st.client })
			st.burst = rapid.IntRange(1, 200).Draw(rt, "burst")
		case "restart":
			st.node = rapid.IntRange(0, 1).Draw(rt, "node")
		case "impostor":
			st.client = rapid.IntRange(0, len(s.clients)-1).Draw(rt, "whose name")
		}
		s.steps = append(s.steps, st)
	}
	return s
}

func (s schedule) story() []string {
	var lines []string
	for i, n := range s.clients {
		lines = append(lines, fmt.Sprintf("%s logs in on node %d", clientName(i), n))
	}
	for _, st := range s.steps {
		switch st.kind {
		case "send":
			var to []string
			for _, c := range st.to {
				to = append(to, clientName(c))
			}
			to = append(to, "itself") // every line goes to its sender too: its copy says it was routed
			plural := map[bool]string{true: "line", false: "lines"}[st.burst == 1]
			lines = append(lines, fmt.Sprintf("%s sends %d %s to %s", clientName(st.client), st.burst, plural, strings.Join(to, ", ")))
		case "restart":
			lines = append(lines, fmt.Sprintf("node %d restarts; its clients log in on the other", st.node))
		case "impostor":
			lines = append(lines, fmt.Sprintf("a connection to the other node asks for %s's name", clientName(st.client)))
		}
	}
	return append(lines, "both nodes stop")
}

// clientName names client i; -1 is a name that nobody holds.
func clientName(i int) string {
	if i < 0 {
		return "ghost"
	}
	return string(rune('a' + i))
}

// harness runs one schedule.
type harness struct {
	url, prefix string
	settled     bool // wait after each burst until it has come back
	nodes       [2]*liveNode
	allNodes    []*liveNode // every node run, restarted ones too, for CHATTEST_SHOW
	clients     []*propClient
	violations  []model.Violation
}

// liveNode is one run of a node: a restart makes a new one.
type liveNode struct {
	srv     *Server
	addr    string
	served  chan error
	logs    *logLines
	drainAt time.Time // when its shutdown began; zero while it runs
}

func (h *harness) name(i int) string { return h.prefix + clientName(i) }

func (h *harness) fail(p model.Property, format string, args ...any) {
	h.violations = append(h.violations, model.Violation{Property: p, Detail: fmt.Sprintf(format, args...)})
}

func (h *harness) startNode(i int) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	logs := newLogLines()
	n := &liveNode{srv: New(Config{NATS: h.url, Logger: slog.New(logs)}),
		addr: l.Addr().String(), served: make(chan error, 1), logs: logs}
	go func() { n.served <- n.srv.Serve(l) }() // ends once shutdown begins
	h.nodes[i] = n
	h.allNodes = append(h.allNodes, n)
	if !logs.logged(0, "joined the cluster", "", 10*time.Second) {
		h.fail(Termination, "node %d did not join the cluster in 10s", i)
	}
}

// running returns the nodes that have not begun to stop.
func (h *harness) running() []*liveNode {
	var nodes []*liveNode
	for _, n := range h.nodes {
		if n != nil && n.drainAt.IsZero() {
			nodes = append(nodes, n)
		}
	}
	return nodes
}

// learnWithin bounds how long a node may take to learn, from its watch of
// the bucket, that a client logged in elsewhere: on loopback it takes
// milliseconds, and a node that has not learnt it in seconds never will.
const learnWithin = 3 * time.Second

// login logs c in on node i, waits until every running node knows it, and
// reports whether the login was accepted.
func (h *harness) login(c *propClient, i int) bool {
	marks := map[*liveNode]int{}
	for _, n := range h.running() {
		marks[n] = n.logs.mark()
	}
	if !c.login(h.nodes[i]) {
		return false
	}
	for n, mark := range marks {
		if n != h.nodes[i] && !n.logs.logged(mark, "name held elsewhere", c.name, learnWithin) {
			h.fail(model.Errors, "a node did not learn in %v that %s logged in", learnWithin, c.name)
			return true // accepted: the failure is the node's, recorded
		}
	}
	c.known(time.Now())
	return true
}

// stopNode shuts node i down, as Ctrl-C does, calls moved for each of its
// clients as soon as its connection has ended (while the node may still be
// draining), and returns once Shutdown has.
func (h *harness) stopNode(i int, moved func(*propClient)) {
	n := h.nodes[i]
	if n == nil || !n.drainAt.IsZero() {
		return
	}
	n.drainAt = time.Now() // before Shutdown: what is routed after it is not owed
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- n.srv.Shutdown(ctx) }() // returns by the deadline, or the check fails
	for _, c := range h.clients {
		if c.session().node == n && c.waitEnd() && moved != nil {
			moved(c)
		}
	}
	if err := <-done; err != nil {
		h.fail(Termination, "node %d: %v", i, err)
	}
	<-n.served
}

func (h *harness) run(s schedule) {
	for i := range h.nodes {
		h.startNode(i)
	}
	for i, n := range s.clients {
		c := &propClient{name: h.name(i), received: make(map[string][]int), routed: make(chan struct{}, 1)}
		h.clients = append(h.clients, c)
		if !h.login(c, n) {
			h.fail(model.Login, "%s was refused on node %d", c.name, n)
		}
		if len(h.violations) > 0 {
			return
		}
	}
	for _, st := range s.steps {
		switch st.kind {
		case "send":
			var to []string
			for _, r := range st.to {
				to = append(to, h.name(r))
			}
			c := h.clients[st.client]
			c.send(to, st.burst)
			if h.settled && !c.waitRouted() {
				h.fail(model.Progress, "%s's lines did not all come back in 5s", c.name)
			}
		case "restart":
			h.restart(st.node)
		case "impostor":
			h.impostor(st.client)
		}
		if len(h.violations) > 0 {
			return
		}
	}
	h.stopNode(0, nil)
	h.stopNode(1, nil)
	h.judge()
}

// restart stops node i, logs each of its clients in again on the other node
// as soon as its connection ends, and starts another node in its place.
func (h *harness) restart(i int) {
	h.stopNode(i, func(c *propClient) {
		if !h.login(c, 1-i) {
			h.fail(model.Login, "%s, whose node stopped, was refused on the other", c.name)
		}
	})
	if len(h.violations) > 0 {
		return
	}
	h.startNode(i)
	// The new node learns the names held elsewhere from the bucket.
	for _, c := range h.clients {
		if s := c.session(); s.node != h.nodes[i] && s.node.drainAt.IsZero() {
			if !h.nodes[i].logs.logged(0, "name held elsewhere", c.name, learnWithin) {
				h.fail(model.Errors, "a new node did not learn in %v that %s is logged in", learnWithin, c.name)
				return
			}
			c.known(time.Now())
		}
	}
}

// impostor asks the node that client c is not on for c's name.
func (h *harness) impostor(c int) {
	holder := h.clients[c]
	other := h.nodes[0]
	if holder.session().node == other {
		other = h.nodes[1]
	}
	conn, err := net.Dial("tcp", other.addr)
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s\n%s: probe\n", holder.name, holder.name)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(conn).ReadString('\n')
	if line != fmt.Sprintf("error: name %q is taken\n", holder.name) {
		h.fail(model.Names, "a second connection asked for %s's name and got %q", holder.name, line)
	}
}

// judge compares what each client read with what it was owed.
func (h *harness) judge() {
	sent := map[string][]sentLine{}
	for _, c := range h.clients {
		c.mu.Lock()
		sent[c.name] = c.sent
	}
	defer func() {
		for _, c := range h.clients {
			c.mu.Unlock()
		}
	}()
	for _, r := range h.clients {
		for from, seqs := range r.received {
			for i, seq := range seqs {
				switch {
				case seq >= len(sent[from]) || !slices.Contains(sent[from][seq].to, r.name):
					h.fail(model.Spurious, "%s read %s's line %d, not sent to it", r.name, from, seq)
				case slices.Contains(seqs[:i], seq):
					h.fail(model.Duplicate, "%s read %s's line %d twice", r.name, from, seq)
				case i > 0 && seq < seqs[i-1]:
					h.fail(model.Order, "%s read %s's line %d after its line %d", r.name, from, seq, seqs[i-1])
				}
			}
		}
		for _, s := range h.clients {
			for seq, m := range sent[s.name] {
				if slices.Contains(m.to, r.name) && r.owed(m) && !slices.Contains(r.received[s.name], seq) {
					h.fail(model.Delivery, "%s never read %s's line %d", r.name, s.name, seq)
				}
				if slices.Contains(m.unknown, r.name) && r.knownEverywhere(m) {
					h.fail(model.Errors, "%s was told that %s is logged in nowhere, for its line %d", s.name, r.name, seq)
				}
			}
		}
	}
}

// close stops what a failed check left running.
func (h *harness) close() {
	for i := range h.nodes {
		if n := h.nodes[i]; n != nil && n.drainAt.IsZero() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			n.srv.Shutdown(ctx)
			cancel()
			<-n.served
		}
	}
	for _, c := range h.clients {
		c.closeAll()
	}
}

// sentLine is what a client knows of a line it sent.
type sentLine struct {
	to       []string
	sentAt   time.Time
	echoedAt time.Time // its own copy came back: a node routed it
	unknown  []string  // the recipients it was told are logged in nowhere
}

// propSession is one connection of a client.
type propSession struct {
	node     *liveNode
	conn     net.Conn
	loggedIn time.Time     // its first line came back
	knownAt  time.Time     // every running node knew it (the last time a node started)
	ended    chan struct{} // closed when the node closed the connection
	answered chan bool     // the login's answer: true if it was accepted
}

// propClient is a client of the property test; a goroutine per session
// reads what comes.
type propClient struct {
	name     string
	routed   chan struct{} // a token when a line of its own comes back
	mu       sync.Mutex
	sessions []*propSession
	sent     []sentLine
	received map[string][]int // sender -> its line numbers, as read
}

func (c *propClient) session() *propSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessions[len(c.sessions)-1]
}

// login connects to n and logs in, and reports whether it was accepted.
func (c *propClient) login(n *liveNode) bool {
	conn, err := net.Dial("tcp", n.addr)
	if err != nil {
		panic(err)
	}
	s := &propSession{node: n, conn: conn, ended: make(chan struct{}), answered: make(chan bool, 1)}
	c.mu.Lock()
	c.sessions = append(c.sessions, s)
	c.mu.Unlock()
	go c.read(s) // ends when the node closes the connection
	fmt.Fprintf(conn, "%s\n%s: login\n", c.name, c.name)
	select {
	case ok := <-s.answered:
		return ok
	case <-time.After(5 * time.Second):
		return false
	}
}

// send writes burst lines to names and c, without waiting.
func (c *propClient) send(to []string, burst int) {
	s := c.session()
	recipients := strings.Join(append(slices.Clone(to), c.name), ", ") // c last: its copy comes after the others are routed
	var lines strings.Builder
	c.mu.Lock()
	for range burst {
		fmt.Fprintf(&lines, "%s: %d\n", recipients, len(c.sent))
		c.sent = append(c.sent, sentLine{to: to, sentAt: time.Now()})
	}
	c.mu.Unlock()
	s.conn.Write([]byte(lines.String())) // an error: the node is gone, and the lines were not accepted
}

var propDelivery = regexp.MustCompile(`^from (\S+): (\d+|login)$`)

// read records what comes on s until the node closes it.
func (c *propClient) read(s *propSession) {
	defer close(s.ended)
	defer s.conn.Close()
	lines := bufio.NewScanner(s.conn)
	lastEchoed := -1 // an error line is about the line whose copy came just before it
	for lines.Scan() {
		now := time.Now()
		m := propDelivery.FindStringSubmatch(lines.Text())
		c.mu.Lock()
		switch {
		case m != nil && m[1] == c.name && m[2] == "login":
			s.loggedIn = now
			answer(s, true)
		case m != nil && m[1] == c.name:
			seq, _ := strconv.Atoi(m[2])
			c.sent[seq].echoedAt, lastEchoed = now, seq
			select {
			case c.routed <- struct{}{}:
			default:
			}
		case m != nil:
			seq, _ := strconv.Atoi(m[2])
			c.received[m[1]] = append(c.received[m[1]], seq)
		case strings.HasPrefix(lines.Text(), "error: not logged in: ") && lastEchoed >= 0:
			names := strings.Split(strings.TrimPrefix(lines.Text(), "error: not logged in: "), ", ")
			c.sent[lastEchoed].unknown = append(c.sent[lastEchoed].unknown, names...)
		case strings.HasPrefix(lines.Text(), "error: name"):
			answer(s, false)
		}
		c.mu.Unlock()
	}
}

// answer gives the login's answer, once.
func answer(s *propSession, ok bool) {
	select {
	case s.answered <- ok:
	default:
	}
}

// waitEnd waits until the node has closed c's connection, and reports
// whether it did within 5 seconds.
func (c *propClient) waitEnd() bool {
	select {
	case <-c.session().ended:
		return true
	case <-time.After(5 * time.Second):
		return false
	}
}

// waitRouted waits until every line c has sent has come back, for at most 5
// seconds, and reports whether they did.
func (c *propClient) waitRouted() bool {
	timeout := time.After(5 * time.Second)
	for {
		c.mu.Lock()
		all := len(c.sent) == 0 || !c.sent[len(c.sent)-1].echoedAt.IsZero() // they come back in order
		c.mu.Unlock()
		if all {
			return true
		}
		select {
		case <-c.routed:
		case <-timeout:
			return false
		}
	}
}

// known records that every running node knows c's current session.
func (c *propClient) known(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sessions[len(c.sessions)-1].knownAt = at
}

// knownEverywhere reports whether every node knew c when m was sent, and c's
// node had not begun to stop when m was routed: no node may say then that c
// is logged in nowhere. The caller holds c.mu.
func (c *propClient) knownEverywhere(m sentLine) bool {
	for _, s := range c.sessions {
		if !s.knownAt.IsZero() && s.knownAt.Before(m.sentAt) &&
			(s.node.drainAt.IsZero() || m.echoedAt.Before(s.node.drainAt)) {
			return true
		}
	}
	return false
}

func (c *propClient) closeAll() {
	c.mu.Lock()
	sessions := slices.Clone(c.sessions)
	c.mu.Unlock()
	for _, s := range sessions {
		s.conn.Close()
		<-s.ended
	}
}

// owed reports whether m is owed to c: see TestProperties. The caller
// holds c.mu.
func (c *propClient) owed(m sentLine) bool {
	if m.echoedAt.IsZero() || slices.Contains(m.unknown, c.name) {
		return false
	}
	for _, s := range c.sessions {
		if !s.loggedIn.IsZero() && s.loggedIn.Before(m.sentAt) &&
			(s.node.drainAt.IsZero() || m.echoedAt.Before(s.node.drainAt)) {
			return true
		}
	}
	return false
}
