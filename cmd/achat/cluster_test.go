package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"achat/bench"
	"achat/chat/chattest"
)

// TestRollingRestartUnderTraffic runs a NATS server and three built nodes of
// chapter cluster, and four clients that send to each other without a
// pause. It restarts each node in turn with SIGTERM; the clients of a node
// that goes log in again on another one. Then it counts what was lost or
// duplicated. What the chapter says cannot be lost (docs/10-cluster.md): a
// message whose sender saw it routed (its own copy came back), to a
// recipient that was logged in before it was sent, and whose node had not
// begun its drain when the copy came back, unless the sender was told that
// the recipient is logged in nowhere.
func TestRollingRestartUnderTraffic(t *testing.T) {
	url := startNATSServer(t)
	nodes := make([]*process, 3)
	for i := range nodes {
		nodes[i] = startServe(t, "-chapter", "cluster", "-nats", url)
	}
	cl := &rollingCluster{nodes: nodes}
	names := []string{"alice", "bob", "carol", "dave"}
	clients := make([]*movingClient, len(names))
	var running sync.WaitGroup
	ctx, stop := context.WithCancel(context.Background())
	for i, name := range names {
		clients[i] = &movingClient{t: t, name: name, others: without(names, name), cluster: cl, progress: make(chan struct{}, 1)}
		running.Go(func() { clients[i].run(ctx, i) }) // ends when stop is called; waited for below
	}
	waitProgress := func() { // until every client has had 200 more messages routed
		for _, c := range clients {
			for start := c.echoed(); c.echoed() < start+200; {
				select {
				case <-c.progress:
				case <-time.After(20 * time.Second):
					t.Fatalf("%s: no progress in 20s", c.name)
				}
			}
		}
	}

	waitProgress()
	for i := range nodes {
		cl.restart(t, i, func() *process { return startServe(t, "-chapter", "cluster", "-nats", url) })
		waitProgress()
	}
	stop() // the clients send no more, and read until their node closes
	for i := range nodes {
		cl.terminate(t, i)
	}
	running.Wait()

	// The oracle: every owed message was read once, in the order sent.
	var sent, lost, told, moving int
	for _, s := range clients {
		sent += len(s.sent)
		for seq, m := range s.sent {
			for _, r := range clients {
				if r == s {
					continue
				}
				got := r.received[s.name]
				if slices.Contains(got, seq) {
					continue
				}
				switch {
				case slices.Contains(m.unknown, r.name):
					told++
				case r.owed(m, cl):
					lost++
					t.Errorf("%s -> %s: message %d lost (sent %v, routed %v)", s.name, r.name, seq,
						m.sentAt.Format(time.StampMicro), m.echoedAt.Format(time.StampMicro))
				default:
					moving++
				}
			}
		}
	}
	for _, r := range clients {
		for from, seqs := range r.received {
			assert.True(t, slices.IsSorted(seqs) && len(slices.Compact(slices.Clone(seqs))) == len(seqs),
				"%s got %s's messages out of order or twice", r.name, from)
		}
	}
	t.Logf("%d messages sent, each to the 3 other clients; copies not delivered: %d whose sender was told the recipient was logged in nowhere, %d to a recipient that was moving or whose node was stopping, %d lost",
		sent, told, moving, lost)
}

// without returns names without name.
func without(names []string, name string) []string {
	return slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == name })
}

// startNATSServer starts Debian's nats-server with JetStream if it is
// installed (CI installs it), and achat nats if not, and returns its URL.
func startNATSServer(t *testing.T) string {
	t.Helper()
	var cmd *exec.Cmd
	if path, err := exec.LookPath("nats-server"); err == nil {
		cmd = exec.Command(path, "-a", "127.0.0.1", "-p", "-1", "-js", "-sd", t.TempDir())
	} else if os.Getenv("CI") != "" {
		t.Fatal("nats-server is not installed: CI installs it (.ci/run)")
	} else {
		t.Log("nats-server is not installed: using achat nats")
		cmd = exec.Command(binary, "nats", "-addr", "127.0.0.1:0")
	}
	out, err := cmd.StderrPipe()
	require.NoError(t, err)
	cmd.Stdout = cmd.Stderr // achat nats says where it listens on stdout
	if cmd.Path == binary {
		cmd.Stdout, cmd.Stderr = nil, nil
		out, err = cmd.StdoutPipe()
		require.NoError(t, err)
	}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	listening := regexp.MustCompile(`(?:client connections on|NATS with JetStream on nats://)\s*(127\.0\.0\.1:\d+)`)
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if m := listening.FindStringSubmatch(lines.Text()); m != nil {
			go func() { // keeps the pipe from filling; ends when the server exits
				for lines.Scan() {
				}
			}()
			return "nats://" + m[1]
		}
	}
	t.Fatalf("the NATS server did not say where it listens")
	return ""
}

// rollingCluster is the nodes, and when each began its drain.
type rollingCluster struct {
	mu        sync.Mutex
	nodes     []*process
	stoppedAt map[string]time.Time // node address -> when it got SIGTERM
}

// liveAddr returns the address of a node that is not stopping, other than
// avoid, for a client to move to; i spreads the clients.
func (c *rollingCluster) liveAddr(i int, avoid string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var live []string
	for _, n := range c.nodes {
		if _, stopping := c.stoppedAt[n.addr]; !stopping && n.addr != avoid {
			live = append(live, n.addr)
		}
	}
	return live[i%len(live)]
}

// drainBegan returns when the node at addr got SIGTERM, if it did.
func (c *rollingCluster) drainBegan(addr string) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	at, ok := c.stoppedAt[addr]
	return at, ok
}

// restart stops node i with SIGTERM, waits for it to exit 0, and starts
// another in its place.
func (c *rollingCluster) restart(t *testing.T, i int, start func() *process) {
	c.terminate(t, i)
	next := start()
	c.mu.Lock()
	c.nodes[i] = next
	c.mu.Unlock()
}

func (c *rollingCluster) terminate(t *testing.T, i int) {
	c.mu.Lock()
	n := c.nodes[i]
	if c.stoppedAt == nil {
		c.stoppedAt = make(map[string]time.Time)
	}
	c.stoppedAt[n.addr] = time.Now() // before the signal: what comes after it is excused
	c.mu.Unlock()
	require.NoError(t, n.cmd.Process.Signal(syscall.SIGTERM))
	require.True(t, n.waitExit(15*time.Second), "node %d did not exit:\n%s", i, n.Log())
	require.NoError(t, n.err, "node %d did not exit 0:\n%s", i, n.Log())
}

// sentMessage is what a client knows of one of its messages.
type sentMessage struct {
	sentAt, echoedAt time.Time // echoedAt: zero if it was never routed
	unknown          []string  // the recipients it was told are logged in nowhere
}

// session is one connection of a client: where, and from when it was
// logged in (its own first message came back) to when the node closed it.
type session struct {
	addr            string
	loggedIn, ended time.Time
}

// movingClient sends numbered messages to every other client, one after the
// other's copy has come back, and logs in again elsewhere when its node
// goes away.
type movingClient struct {
	t        *testing.T
	name     string
	others   []string
	cluster  *rollingCluster
	progress chan struct{} // a token after each routed message

	mu       sync.Mutex
	sent     []sentMessage    // by sequence number
	received map[string][]int // sender -> the sequence numbers read, in order
	sessions []session
}

func (c *movingClient) echoed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.sent {
		if !m.echoedAt.IsZero() {
			n++
		}
	}
	return n
}

// owed reports whether the chapter promises m to c: c was logged in on a
// node before m was sent, and that node had not begun its drain when m was
// routed.
func (c *movingClient) owed(m sentMessage, cl *rollingCluster) bool {
	if m.echoedAt.IsZero() {
		return false // never routed: the node that read it was draining
	}
	for _, s := range c.sessions {
		if s.loggedIn.IsZero() || !s.loggedIn.Before(m.sentAt) {
			continue
		}
		if !s.ended.IsZero() && s.ended.Before(m.sentAt) {
			continue
		}
		drain, drained := cl.drainBegan(s.addr)
		return !drained || m.echoedAt.Before(drain)
	}
	return false
}

// run keeps c talking until ctx is done, moving from node to node.
func (c *movingClient) run(ctx context.Context, i int) {
	c.received = make(map[string][]int)
	addr := ""
	for moves := i; ctx.Err() == nil; moves++ {
		addr = c.cluster.liveAddr(moves, addr)
		if err := c.session(ctx, addr); err != nil {
			c.t.Errorf("%s on %s: %v", c.name, addr, err)
			return
		}
	}
}

var deliveryLine = regexp.MustCompile(`^from (\w+): (\d+)$`)

// session logs in on addr and talks until the node closes the connection
// or ctx is done.
func (c *movingClient) session(ctx context.Context, addr string) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	c.mu.Lock()
	c.sessions = append(c.sessions, session{addr: addr})
	this := len(c.sessions) - 1
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.sessions[this].ended = time.Now()
		c.mu.Unlock()
	}()
	fmt.Fprintf(conn, "%s\n", c.name)
	lines := bufio.NewScanner(conn)
	loggedIn := false
	lastEchoed := -1 // an error line is about the message whose copy came just before it
	send := func() {
		c.mu.Lock()
		seq := len(c.sent)
		c.sent = append(c.sent, sentMessage{sentAt: time.Now()})
		c.mu.Unlock()
		// The sender last: its own copy is pushed after the others are routed.
		fmt.Fprintf(conn, "%s, %s: %d\n", strings.Join(c.others, ", "), c.name, seq)
	}
	send()
	for lines.Scan() {
		line := lines.Text()
		now := time.Now()
		m := deliveryLine.FindStringSubmatch(line)
		c.mu.Lock()
		switch {
		case m != nil && m[1] == c.name:
			seq, _ := strconv.Atoi(m[2])
			c.sent[seq].echoedAt = now
			lastEchoed = seq
			if !loggedIn {
				loggedIn = true
				c.sessions[this].loggedIn = now
			}
		case m != nil:
			seq, _ := strconv.Atoi(m[2])
			c.received[m[1]] = append(c.received[m[1]], seq)
		case strings.HasPrefix(line, "error: not logged in: ") && lastEchoed >= 0:
			last := &c.sent[lastEchoed]
			last.unknown = append(last.unknown, strings.Split(strings.TrimPrefix(line, "error: not logged in: "), ", ")...)
		default:
			c.mu.Unlock()
			return fmt.Errorf("unexpected line %q", line)
		}
		echoed := m != nil && m[1] == c.name
		c.mu.Unlock()
		if echoed {
			select {
			case c.progress <- struct{}{}:
			default:
			}
			if ctx.Err() == nil { // once it is done, c only reads, until its node closes
				send()
			}
		}
	}
	return nil // the node closed the connection (or reset it): the client moves
}

// TestClusterBenchWorkloads runs make bench's cluster workloads, tiny: pairs
// on one node, across two, and as bare NATS. Each delivers everything.
func TestClusterBenchWorkloads(t *testing.T) {
	cfg := bench.Config{Clients: 4, Messages: 400, Timeout: 20 * time.Second}
	for _, nodes := range []int{1, 2} {
		srv, err := bench.Cluster(binary, nodes, nil)
		require.NoError(t, err)
		res := bench.Pairs(srv, cfg)
		require.NoError(t, res.Err, "%s", srv.Name)
		assert.Equal(t, res.Expected, res.Delivered, "%s", srv.Name)
		require.NoError(t, srv.Stop())
	}
	srv, err := bench.NATS(binary)
	require.NoError(t, err)
	res := bench.NATSPairs(srv, cfg)
	require.NoError(t, res.Err)
	assert.Equal(t, res.Expected, res.Delivered)
	require.NoError(t, srv.Stop())
}

// TestAKilledNodesNamesComeFree: a node killed with SIGKILL frees nothing,
// and its names come free within the name TTL: another node takes the
// name then, and not at once.
func TestAKilledNodesNamesComeFree(t *testing.T) {
	const ttl = time.Second
	url := startNATSServer(t)
	doomed := startServe(t, "-chapter", "cluster", "-nats", url, "-name-ttl", ttl.String())
	other := startServe(t, "-chapter", "cluster", "-nats", url, "-name-ttl", ttl.String())
	alice := chattest.Login(t, doomed.addr, "alice")
	defer alice.Close()
	require.NoError(t, doomed.cmd.Process.Kill())
	require.True(t, doomed.waitExit(5*time.Second))
	killed := time.Now()

	// The bucket forgets the name without a word to anyone: each try asks
	// the node, which asks NATS, every 50 ms, until the name is free.
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for tries := 0; ; tries++ {
		c := chattest.Dial(t, other.addr)
		c.Send("alice")
		c.Send("alice: mine?")
		line, err := c.ReadLine()
		c.Close()
		require.NoError(t, err)
		if line == "from alice: mine?" {
			require.Positive(t, tries, "the name was free at once: a killed node held it for no time at all")
			t.Logf("free %v after the kill (TTL %v, %d tries)", time.Since(killed).Round(10*time.Millisecond), ttl, tries)
			return
		}
		require.Equal(t, `error: name "alice" is taken`, line)
		require.Less(t, time.Since(killed), ttl+time.Second, "the name stays taken past the TTL")
		<-poll.C
	}
}
