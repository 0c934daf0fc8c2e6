package scenarios

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// DefaultPatience is how long a client waits with nothing arriving before it
// gives up. It is a guard that turns a hang into a verdict, never a timing
// that a verdict depends on, so it is far longer than any pause a working
// server shows: on a loaded 2-core machine, loopback TCP pauses for up to
// 2 s at a time (ACKs that come late make the sender time out, spuriously,
// and back off). What a hang costs is this much waiting, without CPU, which
// achat compare overlaps by running several scenarios at once.
const DefaultPatience = 10 * time.Second

// Runner runs scenarios against chapters, each run against a new server
// process.
type Runner struct {
	Binary   string        // the achat command: each run starts "Binary serve -chapter ..."
	Seed     string        // the seed's binary, which runs the column "seed"; "" if it is not built
	Patience time.Duration // 0: DefaultPatience
}

// program returns how to start chapter's server for a scenario with the
// given settings.
func (rn Runner) program(chapter string, set Settings) (program, error) {
	if chapter != SeedChapter {
		return chapterProgram(rn.Binary, chapter, set), nil
	}
	if rn.Seed == "" {
		return program{}, errors.New("the seed is not built: make seed")
	}
	return seedProgram(rn.Seed), nil
}

// Result is one cell of the comparison: a scenario run against a chapter.
type Result struct {
	Scenario, Chapter string
	Pass              bool
	Figure            string    // the first failing check's figure, or the first check's
	Stuck             *Outcome  // the step that could not complete, if any: then no check ran
	Checks            []Outcome // one per expect line, in the file's order
	Elapsed           time.Duration
	Err               error // the run could not be made (say, the server did not start)
}

// Outcome is what one line of a scenario came to.
type Outcome struct {
	Line   int
	Text   string
	Pass   bool
	Figure string
}

// Run runs sc against new "achat serve -chapter chapter" processes, one per
// node of the scenario, or new seed processes if chapter is SeedChapter.
func (rn Runner) Run(sc Scenario, chapter string) Result {
	start := time.Now()
	res := Result{Scenario: sc.Name, Chapter: chapter}
	r := &run{patience: rn.Patience, clients: map[string]*client{}, seq: map[string]int{}}
	if r.patience == 0 {
		r.patience = DefaultPatience
	}
	defer r.cleanup()
	if err := r.startNodes(rn, chapter, sc.Settings); err != nil {
		res.Err = err
		return res
	}
	if stuck := r.steps(sc.Steps); stuck != nil {
		res.Stuck, res.Figure = stuck, stuck.Figure
	} else {
		res.Checks = r.checks(sc.Expects)
		res.Pass, res.Figure = true, res.Checks[0].Figure
		for _, c := range res.Checks {
			if !c.Pass {
				res.Pass, res.Figure = false, c.Figure
				break
			}
		}
	}
	res.Elapsed = time.Since(start)
	return res
}

// startNodes starts one process per node. The nodes of chapter cluster
// share a NATS server, which the run starts first, as a process of its
// own: they are one chat, and a node's memory and files are measured
// without the bus's. The nodes of any other chapter are servers that know
// nothing of each other, which is what that chapter can be.
func (r *run) startNodes(rn Runner, chapter string, set Settings) error {
	p, err := rn.program(chapter, set)
	if err != nil {
		return err
	}
	if chapter == ClusterChapter {
		if r.bus, err = startBus(rn.Binary); err != nil {
			return err
		}
		p.args = append(p.args, "-nats", r.bus.url)
	}
	r.launch = func() (*server, error) { return startServer(p, set) }
	r.nodes = make([][]*server, max(set.Nodes, 1))
	for i := range r.nodes {
		srv, err := r.launch()
		if err != nil {
			return err
		}
		r.nodes[i] = []*server{srv}
	}
	return nil
}

// run is the state of one run.
type run struct {
	nodes    [][]*server             // by node, from node 1: each process it has run, the current one last
	launch   func() (*server, error) // starts a new process of a node
	bus      *bus                    // chapter cluster's NATS server; nil for the others
	patience time.Duration
	clients  map[string]*client // by label: the client's latest connection
	all      []*client          // every connection made, in order, for cleanup
	crowd    crowd              // the silent clients
	seq      map[string]int     // the next message number, by sender name
	probes   int                // login checks so far, to tell them apart
}

// node returns node n's current process (n from 1; 0, in a line that
// names no node, is node 1).
func (r *run) node(n int) *server {
	procs := r.processes(n)
	return procs[len(procs)-1]
}

// processes returns every process that node n has run.
func (r *run) processes(n int) []*server { return r.nodes[max(n, 1)-1] }

// killAll kills every process still running, and waits for each.
func (r *run) killAll() {
	for _, procs := range r.nodes {
		for _, srv := range procs {
			srv.kill()
		}
	}
}

// steps runs the steps in order, and returns the outcome of the first that
// could not complete, if one could not.
func (r *run) steps(steps []Step) *Outcome {
	for _, s := range steps {
		if err := s.action.do(r); err != nil {
			return &Outcome{Line: s.Line, Text: s.Text, Figure: err.Error()}
		}
	}
	return nil
}

// checks evaluates the expectations, in order, except that those that need
// the process to have ended (its peak memory, its whole log) come after the
// others, and after the process is killed if it has not exited.
func (r *run) checks(expects []Expect) []Outcome {
	out := make([]Outcome, len(expects))
	for pass := range 2 {
		if pass == 1 {
			r.killAll()
		}
		for i, e := range expects {
			_, afterExit := e.check.(needsExit)
			if afterExit == (pass == 1) {
				ok, figure := e.check.eval(r)
				out[i] = Outcome{Line: e.Line, Text: e.Text, Pass: ok, Figure: figure}
			}
		}
	}
	return out
}

func (r *run) cleanup() {
	r.killAll()
	if r.bus != nil {
		r.bus.stop() // after the nodes: none of them waits for it
	}
	for _, c := range r.all {
		c.close()
	}
	r.crowd.close()
	for _, c := range r.all {
		c.wait()
	}
}

// dial gives label a new connection to node n. If it cannot be made, label
// is a client that could not connect, and the error says why, as a figure:
// "could not connect: connection refused".
func (r *run) dial(label string, n int) (*client, error) {
	c, err := dial(label, r.node(n).addr, r.patience)
	if err != nil {
		why := "could not connect: " + r.dialFailure(err, r.node(n))
		r.clients[label] = unconnected(label, why)
		return nil, errors.New(why)
	}
	r.clients[label] = c
	r.all = append(r.all, c)
	return c, nil
}

// dialFailure says briefly why a connection could not be made: "connection
// refused", or, if the server has logged that its Serve failed, why it did:
// "serve failed: too many open files".
func (r *run) dialFailure(err error, srv *server) string {
	if errors.Is(err, syscall.ECONNREFUSED) {
		// A Serve that fails closes the listener, then logs why: the
		// line may be on its way.
		srv.waitLog(serveFailedMsg, refusedGuard)
	}
	if failure := srv.serveFailure(); failure != "" {
		return "serve failed: " + failure
	}
	return shortDialError(err, r.patience)
}

// refusedGuard bounds how long a refused dial waits for the server to log
// that its Serve failed. It only makes the figure say why.
const refusedGuard = time.Second

// shortDialError says why a dial failed, in a few words.
func shortDialError(err error, timeout time.Duration) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "no answer in " + duration(timeout)
	}
	return err.Error()
}

// action is what a step does. An error says why the step could not
// complete, as a short figure: "stuck at 48,211 of 300,000".
type action interface {
	do(r *run) error
}

// clientAction is an action of a client that must have connected before.
type clientAction interface {
	action
	who() string
}

// connect: "<name> connects", to node 1, or "<name> connects to node <N>".
type connect struct {
	client string
	node   int
}

func (a connect) do(r *run) error {
	_, err := r.dial(a.client, a.node)
	if err != nil {
		return fmt.Errorf("%s %w", a.client, err)
	}
	return nil
}

// login sends name, then a line to itself, and waits for that line: once it
// is back, the server routes messages to name. must makes a refusal stop
// the run. It logs in on node 1 unless it names another.
type login struct {
	client, name string
	must         bool
	node         int
}

func (a login) do(r *run) error {
	c := r.clients[a.client]
	if c == nil || c.state() != notLoggedIn { // a client logs in on a new connection
		var err error
		if c, err = r.dial(a.client, a.node); err != nil {
			r.clients[a.client].setLogin(a.name, false, r.patience)
			if a.must {
				return fmt.Errorf("%s %w", a.client, err)
			}
			return nil
		}
	}
	r.probes++
	probe := fmt.Sprintf("%s: login check %d", a.name, r.probes)
	c.send(writeLines(a.name, probe))
	echo := "from " + probe
	ok := c.await(r.patience, func(in *inbox) bool { return in.hasLine(echo) })
	c.setLogin(a.name, ok, r.patience)
	if !ok && a.must {
		return fmt.Errorf("%s %s", a.client, c.loginFigure())
	}
	return nil
}

func (c *client) state() loginState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.login
}

// setLogin records how a login attempt ended.
func (c *client) setLogin(name string, ok bool, patience time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.name = name
	switch {
	case ok:
		c.login = loggedIn
	case c.conn == nil: // it could not connect: the refusal says why
		c.login = refused
	case !c.in.ended:
		c.login, c.refusal = refused, "no answer in "+duration(patience)
	default:
		c.login, c.refusal = refused, "refused silently"
		if line, ok := c.in.lineStarting("error: "); ok {
			c.refusal = "refused: " + short(line)
		}
	}
}

func (c *client) loginFigure() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.login == loggedIn {
		return "logged in" + c.tried
	}
	return c.refusal + c.tried
}

func writeLines(lines ...string) job {
	return func(w *bufio.Writer, _ *net.TCPConn) error {
		_, err := w.WriteString(strings.Join(lines, "\n") + "\n")
		return err
	}
}

// sendMessages sends n numbered messages, numbered on from the sender's
// last one, so that a recipient can tell what it lost, got twice, or got
// out of order. With a window, the sender sends that many at a time, and
// waits until it has read as many more numbered messages (its own copies)
// before it sends more: a sender that keeps up with what it receives.
type sendMessages struct {
	client string
	n      int
	size   int // of each message's text, its number included; 0: about 70 bytes
	to     []string
	window int // 0: all at once
}

func (a sendMessages) who() string { return a.client }

func (a sendMessages) do(r *run) error {
	c := r.clients[a.client]
	first := r.seq[c.name]
	r.seq[c.name] += a.n
	to := strings.Join(a.to, ", ")
	window := a.window
	if window == 0 {
		window = a.n
	}
	c.send(func(w *bufio.Writer, _ *net.TCPConn) error {
		c.mu.Lock()
		read := c.in.from(c.name) // its own copies read so far
		c.mu.Unlock()
		line := make([]byte, 0, 128)
		padding := pad
		if a.size > 0 {
			padding = strings.Repeat("x", a.size)
		}
		for seq := first; seq < first+a.n; seq++ {
			line = appendMessage(line[:0], to, seq, padding, a.size)
			if _, err := w.Write(line); err != nil {
				return err
			}
			if sent := seq - first + 1; a.window > 0 && sent%window == 0 && sent < a.n {
				if err := w.Flush(); err != nil {
					return err
				}
				if !c.await(r.patience, func(in *inbox) bool { return in.from(c.name) >= read+sent }) {
					return fmt.Errorf("%s never read its own copies of a window", c.name)
				}
			}
		}
		return nil
	})
	return nil
}

type sendLine struct{ client, line string }

func (a sendLine) who() string { return a.client }

func (a sendLine) do(r *run) error {
	r.clients[a.client].send(writeLines(a.line))
	return nil
}

// sendBlob sends mb MiB of "x", and no newline.
type sendBlob struct {
	client string
	mb     int
}

func (a sendBlob) who() string { return a.client }

func (a sendBlob) do(r *run) error {
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	r.clients[a.client].send(func(w *bufio.Writer, _ *net.TCPConn) error {
		for range a.mb << 4 { // 16 chunks of 64 KiB to the MiB
			if _, err := w.Write(chunk); err != nil {
				return err
			}
		}
		return nil
	})
	return nil
}

type stopReading struct{ client string }

func (a stopReading) who() string { return a.client }

func (a stopReading) do(r *run) error {
	r.clients[a.client].gate.hold()
	return nil
}

// stopSending half-closes the connection, after what was sent before: the
// server reads the end of the input, and the client can still read, as with
// Ctrl-D in "achat client".
type stopSending struct{ client string }

func (a stopSending) who() string { return a.client }

func (a stopSending) do(r *run) error {
	r.clients[a.client].send(func(w *bufio.Writer, conn *net.TCPConn) error {
		if err := w.Flush(); err != nil {
			return err
		}
		return conn.CloseWrite()
	})
	return nil
}

// disconnect closes the connection at once, unread input and all, as a
// client whose process dies does.
type disconnect struct{ client string }

func (a disconnect) who() string { return a.client }

func (a disconnect) do(r *run) error {
	r.clients[a.client].close()
	return nil
}

// waitRead waits until the client has read n numbered messages, or, with
// from, n from that sender: on all its connections, as received counts.
type waitRead struct {
	client, from string
	n            int
}

func (a waitRead) who() string { return a.client }

func (a waitRead) do(r *run) error {
	c := r.clients[a.client]
	before := 0 // what its earlier connections read: they read no more
	for _, earlier := range r.connections(a.client) {
		if earlier != c {
			earlier.mu.Lock()
			before += earlier.in.from(a.from)
			earlier.mu.Unlock()
		}
	}
	read := func(in *inbox) int { return before + in.from(a.from) }
	if c.await(r.patience, func(in *inbox) bool { return read(in) >= a.n }) {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Errorf("stuck at %s of %s", count(read(&c.in)), count(a.n))
}

// readToEnd reads until the server closes the connection, or until nothing
// has come for the patience, and then closes it. It never fails: whether
// the server closed is for "expect <name> was disconnected" to say.
type readToEnd struct{ client string }

func (a readToEnd) who() string { return a.client }

func (a readToEnd) do(r *run) error {
	c := r.clients[a.client]
	c.gate.open()
	c.await(r.patience, func(*inbox) bool { return false })
	c.close()
	return nil
}

// ctrlC sends SIGINT to a node, as Ctrl-C in its terminal does: "ctrl-c"
// to the server, node 1, or "ctrl-c node <N>".
type ctrlC struct{ node int }

func (a ctrlC) do(r *run) error {
	r.node(a.node).interrupt(startGuard)
	return nil
}
