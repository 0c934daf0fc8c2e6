package cluster

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"achat/chat/chattest"
	"achat/chat/client"
	"achat/chat/protocol"
	"achat/internal/embeddednats"
)

// These tests run real nodes on loopback, joined by a NATS server embedded in
// the test process: NATS is a network peer, so testing/synctest cannot hold
// them in a bubble. They wait on what clients read and on the nodes' log
// lines, never on a clock.

// startNATS starts a NATS server for one test.
func startNATS(t *testing.T) string {
	t.Helper()
	ns, err := embeddednats.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(ns.Shutdown)
	return ns.URL()
}

// node is a running cluster node, and the log lines it has written.
type node struct {
	t      *testing.T
	srv    *Server
	addr   string
	served chan error
	logs   *logLines
}

// startNode starts a node on loopback, joined to the NATS server at url.
// The test's cleanup shuts it down, unless the test has.
func startNode(t *testing.T, url string, cfg Config) *node {
	t.Helper()
	logs := newLogLines()
	cfg.NATS, cfg.Logger = url, slog.New(logs)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	n := &node{t: t, srv: New(cfg), addr: l.Addr().String(), served: make(chan error, 1), logs: logs}
	go func() { n.served <- n.srv.Serve(l) }() // ends once shutdown begins
	logs.waitFor(t, 0, "joined the cluster", "")
	t.Cleanup(func() { n.shutdown() })
	return n
}

// shutdown stops the node as Ctrl-C does, and checks that it stopped cleanly.
func (n *node) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	assert.NoError(n.t, n.srv.Shutdown(ctx), "the drain ends before its deadline")
	assert.ErrorIs(n.t, <-n.served, ErrServerClosed)
	n.served <- ErrServerClosed // for a second call
}

// knows waits until this node has seen name logged in on another node.
func (n *node) knows(name string) { n.knowsSince(0, name) }

// knowsSince is knows, for a log line after the first mark lines: a name
// that was logged in before, elsewhere, is logged again when it comes back.
func (n *node) knowsSince(mark int, name string) {
	n.logs.waitFor(n.t, mark, "name held elsewhere", name)
}

// logLines is a slog.Handler that keeps each record's message and "name"
// attribute, so that a test can wait for a step that a node only logs.
type logLines struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced on every record
}

func newLogLines() *logLines { return &logLines{changed: make(chan struct{})} }

func (h *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (h *logLines) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logLines) WithGroup(string) slog.Handler            { return h }
func (h *logLines) Handle(_ context.Context, r slog.Record) error {
	line := r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "name" {
			line += " name=" + a.Value.String()
		}
		return true
	})
	if r.Level >= slog.LevelWarn { // a warning's details, for a failing test to show
		r.Attrs(func(a slog.Attr) bool {
			if a.Key != "name" {
				line += " " + a.String()
			}
			return true
		})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines = append(h.lines, line)
	close(h.changed) // wakes every waitFor
	h.changed = make(chan struct{})
	return nil
}

// mark returns how many lines have been logged.
func (h *logLines) mark() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.lines)
}

// waitFor waits until msg has been logged (with the name attribute name,
// if name is not empty) after the first from lines, for at most ten seconds.
func (h *logLines) waitFor(t *testing.T, from int, msg, name string) {
	t.Helper()
	if !h.logged(from, msg, name, 10*time.Second) {
		t.Fatalf("no log line %q for %q in 10s", msg, name)
	}
}

// logged is waitFor, for at most within, and reports whether the line came.
func (h *logLines) logged(from int, msg, name string, within time.Duration) bool {
	want := msg
	if name != "" {
		want += " name=" + name
	}
	timeout := time.After(within)
	for seen := from; ; {
		h.mu.Lock()
		lines, changed := h.lines[seen:], h.changed
		seen = len(h.lines)
		h.mu.Unlock()
		for _, line := range lines {
			if line == want {
				return true
			}
		}
		select {
		case <-changed:
		case <-timeout:
			return false
		}
	}
}

func TestTwoNodesAreOneChat(t *testing.T) {
	url := startNATS(t)
	n1, n2 := startNode(t, url, Config{}), startNode(t, url, Config{})
	alice := chattest.Login(t, n1.addr, "alice")
	bob := chattest.Login(t, n2.addr, "bob")
	n1.knows("bob")
	n2.knows("alice")

	alice.Send("bob: hello from node 1")
	bob.Expect("from alice: hello from node 1")
	bob.Send("alice, bob: and back")
	alice.Expect("from bob: and back")
	bob.Expect("from bob: and back")

	alice.Send("carol, bob: anyone?")
	bob.Expect("from alice: anyone?")
	alice.Expect(errorLine(protocol.UnknownRecipientsError{Names: []string{"carol"}}))
}

// A login is answered once its node knows every name claimed before it: a
// message to one of them, sent at once, is never refused as "not logged in".
// To set up the moment that this needs, a fake node claims 20,000 names
// in a burst, faster than the watcher of node 1 hands them over to its
// broker; then alice logs in there and writes to the last of them.
func TestALoginKnowsTheNamesClaimedBeforeIt(t *testing.T) {
	url := startNATS(t)
	n1 := startNode(t, url, Config{})
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	const names = 20000
	// All of them in flight at once: past its default of 4,000 unanswered,
	// PublishAsync waits for acks, and fails if they are slow to come.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(names))
	require.NoError(t, err)
	for i := range names {
		// A claim is a put to the key's subject: what kv.Create sends.
		_, err := js.PublishAsync("$KV."+bucket+"."+nameKey(fmt.Sprintf("fake%d", i)), []byte("fakenode"))
		require.NoError(t, err)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(10 * time.Second):
		t.Fatal("the fake claims were not stored in 10s")
	}
	last := fmt.Sprintf("fake%d", names-1)
	alice := chattest.Dial(t, n1.addr)
	alice.Send("alice")
	alice.Send(last + ", alice: hi") // her first line: read once she is logged in
	alice.Send("alice: done")
	alice.Expect("from alice: hi")
	alice.Expect("from alice: done") // no "error: not logged in: fake19999" in between
}

func TestANameIsHeldByOneClientInTheCluster(t *testing.T) {
	url := startNATS(t)
	n1, n2 := startNode(t, url, Config{}), startNode(t, url, Config{})
	alice := chattest.Login(t, n1.addr, "alice")

	impostor := chattest.Dial(t, n2.addr)
	impostor.Send("alice")
	impostor.Expect(errorLine(protocol.NameTakenError{Name: "alice"}))
	impostor.ExpectClosed()

	alice.Close()
	n1.logs.waitFor(t, 0, "name freed", "alice")
	chattest.Login(t, n2.addr, "alice") // free again, on any node
}

func TestNamesThatAreNotSubjectTokensWork(t *testing.T) {
	url := startNATS(t)
	n1, n2 := startNode(t, url, Config{}), startNode(t, url, Config{})
	const odd = "a.b*c>d é"
	alice := chattest.Login(t, n1.addr, "alice")
	chattest.Login(t, n2.addr, odd)
	n1.knows(odd)
	odder := chattest.Dial(t, n1.addr)
	odder.Send(odd)
	odder.Expect(errorLine(protocol.NameTakenError{Name: odd}))
	alice.Send(odd + ": hi")
	alice.Send("alice: routed?")
	alice.Expect("from alice: routed?") // no error line came before it
}

// TestARestartedNodeDeliversWhatWasSentToIt: carol's node shuts down while
// what alice sent her has reached NATS and not carol. She gets all of it;
// then she logs in on another node, at once, and alice reaches her there.
// bob, on a node that keeps running, misses nothing.
func TestARestartedNodeDeliversWhatWasSentToIt(t *testing.T) {
	const n = 2000
	url := startNATS(t)
	n1, n2, n3 := startNode(t, url, Config{}), startNode(t, url, Config{}), startNode(t, url, Config{})
	alice := chattest.Login(t, n1.addr, "alice")
	bob := chattest.Login(t, n3.addr, "bob")
	carol := chattest.Login(t, n2.addr, "carol")
	n1.knows("bob")
	n1.knows("carol")

	// A plain NATS client sees what node 1 publishes: once it has seen all
	// n messages for carol, the NATS server has them.
	published := countPublished(t, url, userSubject("carol"), n)
	for i := range n {
		alice.Send(fmt.Sprintf("bob, carol: %d", i))
	}
	<-published
	n2.shutdown() // carol has read nothing yet: node 2's writers wait for her
	for i := range n {
		carol.Expect(fmt.Sprintf("from alice: %d", i))
	}
	carol.ExpectClosed()

	mark := n1.logs.mark()
	carol = chattest.Login(t, n3.addr, "carol") // her name is free at once
	n1.knowsSince(mark, "carol")
	alice.Send("carol, bob: moved?")
	carol.Expect("from alice: moved?")
	for i := range n {
		bob.Expect(fmt.Sprintf("from alice: %d", i))
	}
	bob.Expect("from alice: moved?")
}

// countPublished subscribes to subject and closes the channel it returns
// once n messages have come.
func countPublished(t *testing.T, url, subject string, n int) <-chan struct{} {
	t.Helper()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	done := make(chan struct{})
	count := 0
	_, err = nc.Subscribe(subject, func(*nats.Msg) { // called in one goroutine
		if count++; count == n {
			close(done)
		}
	})
	require.NoError(t, err)
	require.NoError(t, nc.Flush()) // the subscription is in place
	return done
}

// TestANodeThatDiesFreesItsNamesWithinTheTTL: a node that stops without a
// shutdown (its NATS connection simply goes) holds its names until the
// bucket forgets them: within the name TTL.
func TestANodeThatDiesFreesItsNamesWithinTheTTL(t *testing.T) {
	const ttl = time.Second
	url := startNATS(t)
	dead, err := connectBus(url, "dead", ttl, nil, nil, [2]int{-1, -1}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoError(t, dead.claim("alice"))
	died := time.Now()
	dead.nc.Close() // no release, no renewal: what kill -9 leaves

	other, err := connectBus(url, "other", ttl, nil, nil, [2]int{-1, -1}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer other.nc.Close()
	require.ErrorAs(t, other.claim("alice"), new(protocol.NameTakenError), "still held right after")
	// The bucket forgets a key without a word to its watchers: this polls
	// it, every 50 ms, until the name can be claimed.
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for other.claim("alice") != nil {
		require.Less(t, time.Since(died), ttl+time.Second, "the name stays held past the TTL")
		<-poll.C
	}
	t.Logf("free %v after the node died (TTL %v)", time.Since(died).Round(time.Millisecond), ttl)
}

// TestANodeRenewsItsNames: a node that lives holds its names past the TTL.
func TestANodeRenewsItsNames(t *testing.T) {
	const ttl = time.Second
	url := startNATS(t)
	n1 := startNode(t, url, Config{NameTTL: ttl})
	alice := chattest.Login(t, n1.addr, "alice")
	other, err := connectBus(url, "other", ttl, nil, nil, [2]int{-1, -1}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer other.nc.Close()
	watch, err := other.kv.Watch(context.Background(), nameKey("alice"))
	require.NoError(t, err)
	defer watch.Stop()
	guard := time.After(10 * ttl)      // a guard against a node that never renews, not a timing claim
	for renewals := 0; renewals < 4; { // three renewals span more than the TTL
		select {
		case entry := <-watch.Updates():
			if entry != nil && strings.HasPrefix(string(entry.Value()), n1.srv.node) {
				renewals++
			}
		case <-guard:
			t.Fatalf("%d renewals of alice's name in %v (the TTL is %v)", renewals, 10*ttl, ttl)
		}
	}
	require.ErrorAs(t, other.claim("alice"), new(protocol.NameTakenError))
	alice.Send("alice: still here")
	alice.Expect("from alice: still here")
}

// errorLine is the line the server sends for err, as a client reads it.
func errorLine(err error) string { return strings.TrimSuffix(protocol.ErrorLine(err), "\n") }

// TestTheDrainHandlesWhatHadArrived is what Subscription.Drain gives that
// Unsubscribe does not: the messages that had reached the node, and waited
// for their handler, are handled before the subscription closes.
func TestTheDrainHandlesWhatHadArrived(t *testing.T) {
	const n = 100
	url := startNATS(t)
	busy, release := make(chan struct{}), make(chan struct{})
	var handled atomic.Int32
	b, err := connectBus(url, "draining", DefaultNameTTL, func(*nats.Msg) {
		if handled.Add(1) == 1 {
			close(busy) // the handler is busy with the first message...
			<-release   // ...until the drain has begun
		}
	}, nil, [2]int{-1, -1}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer b.nc.Close()
	require.NoError(t, b.claim("carol"))
	require.NoError(t, b.subscribe("carol"))
	require.NoError(t, b.confirm())
	arrived := make(chan struct{})
	_, err = b.nc.Subscribe("barrier", func(*nats.Msg) { close(arrived) })
	require.NoError(t, err)
	require.NoError(t, b.confirm())

	sender, err := nats.Connect(url)
	require.NoError(t, err)
	defer sender.Close()
	for range n {
		require.NoError(t, sender.Publish(userSubject("carol"), []byte("hello")))
	}
	// One connection's messages reach another in order, and nats.go reads
	// them in order: once the barrier's handler runs, all n have arrived.
	require.NoError(t, sender.Publish("barrier", nil))
	<-busy
	<-arrived

	sub := b.held["carol"].sub
	stopping := sub.StatusChanged(nats.SubscriptionDraining, nats.SubscriptionClosed)
	drained := make(chan error, 1)
	go func() { drained <- b.drainSubscriptions() }() // returns when the last handler has
	<-stopping                                        // the drain has begun: only now may the handler go on
	close(release)
	require.NoError(t, <-drained)
	require.EqualValues(t, n, handled.Load(), "every message that had arrived was handled")
}

// A node cannot slow down what other nodes send its clients: past a
// client's bounds, nats.go drops what comes for it, and says so. The bus
// hands the name on. Here the handler is held up until the first drop.
func TestTheBusNamesAClientWhoseMessagesNATSDropped(t *testing.T) {
	url := startNATS(t)
	release := make(chan struct{})
	overflowed := make(chan string, 100) // one per episode of drops: see connectBus
	var first sync.Once
	b, err := connectBus(url, "behind", DefaultNameTTL,
		func(*nats.Msg) { <-release }, // the node's broker, busy
		func(name string, _ *nats.Subscription) { overflowed <- name; first.Do(func() { close(release) }) },
		[2]int{5, -1}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer b.nc.Close()
	const odd = "carol.x y" // not a subject token: the name comes back decoded
	require.NoError(t, b.claim(odd))
	require.NoError(t, b.subscribe(odd))
	require.NoError(t, b.confirm())
	for i := range 100 {
		require.NoError(t, b.publish("alice", odd, fmt.Sprint(i)))
	}
	require.NoError(t, b.flush())
	select {
	case name := <-overflowed:
		assert.Equal(t, odd, name)
	case <-time.After(10 * time.Second):
		t.Fatal("no overflow in 10s, though 100 messages came for a handler that holds 5")
	}
}

// The node evicts a client whose messages NATS dropped: it reads what was
// queued for it, then why it is let go, as when it falls behind its queue.
// A late report, about a subscription that is no longer the name's, evicts
// no one. (The reports are made here as the bus makes them.)
func TestANodeLetsGoAClientWhoseMessagesNATSDropped(t *testing.T) {
	url := startNATS(t)
	n := startNode(t, url, Config{})
	bob := chattest.Login(t, n.addr, "bob")
	n.srv.overflow("bob", nil) // a subscription bob no longer has
	bob.Send("bob: still here")
	bob.Expect("from bob: still here") // the broker took the report first
	n.srv.bus.mu.Lock()
	sub := n.srv.bus.held["bob"].sub
	n.srv.bus.mu.Unlock()
	n.srv.overflow("bob", sub)
	n.logs.waitFor(t, 0, "messages for a client dropped by NATS: this node fell behind", "bob")
	bob.Expect(strings.TrimSuffix(protocol.ErrorLine(protocol.ErrTooSlow), "\n"))
	bob.ExpectClosed()
}

// TestAClientMovesWhenItsNodeStops: achat client, given two nodes, logs in
// again on the second when the first stops, and goes on.
func TestAClientMovesWhenItsNodeStops(t *testing.T) {
	url := startNATS(t)
	n1, n2, n3 := startNode(t, url, Config{}), startNode(t, url, Config{}), startNode(t, url, Config{})
	bob := chattest.Login(t, n1.addr, "bob")
	stdin, typing := io.Pipe()
	stdout, printed := io.Pipe()
	done := make(chan error, 1)
	go func() { // ends when carol's input ends and her node closes
		done <- client.Run(context.Background(), client.Config{
			Addr: n2.addr + "," + n3.addr, Name: "carol", Stdin: stdin, Stdout: printed,
		})
		printed.Close()
	}()
	lines := bufio.NewScanner(stdout)

	n1.knows("carol")
	n2.knows("bob")
	n3.knows("bob")
	fmt.Fprintln(typing, "bob: one")
	bob.Expect("from carol: one")

	mark := n1.logs.mark()
	n2.shutdown()
	n1.knowsSince(mark, "carol") // logged in again: on node 3
	fmt.Fprintln(typing, "bob: two")
	bob.Expect("from carol: two")
	bob.Send("carol: you moved")
	require.True(t, lines.Scan())
	require.Equal(t, "from bob: you moved", lines.Text())

	typing.Close() // Ctrl-D
	require.NoError(t, <-done)
	stdin.Close()
}

// TestANodeStopsWhenNATSIsGone: a node whose NATS server has gone still
// stops, each call to NATS bounded, and its client still gets what the node
// had queued for it.
func TestANodeStopsWhenNATSIsGone(t *testing.T) {
	t.Parallel() // most of it is waiting for NATS calls to time out
	ns, err := embeddednats.Start("127.0.0.1:0")
	require.NoError(t, err)
	n1 := startNode(t, ns.URL(), Config{})
	alice := chattest.Login(t, n1.addr, "alice")
	alice.Send("alice: before")
	alice.Expect("from alice: before")
	ns.Shutdown()

	n1.stopsCleanly(alice, "with its NATS server gone")
}

// TestANodeStopsWhenItsNATSConnectionHasClosed: once nats.go has given up
// reconnecting, the connection is closed for good, and a drain of it would
// wait for a handler that never runs.
func TestANodeStopsWhenItsNATSConnectionHasClosed(t *testing.T) {
	t.Parallel()
	n1 := startNode(t, startNATS(t), Config{})
	alice := chattest.Login(t, n1.addr, "alice")
	n1.srv.bus.nc.Close() // what nats.go does after its last reconnect (startNode waited for Serve to set bus)

	n1.stopsCleanly(alice, "with its NATS connection closed")
}

// stopsCleanly shuts n down, as Ctrl-C does, and checks that it stops, its
// client reading to the end, and that Shutdown reports a clean drain.
func (n *node) stopsCleanly(c *chattest.Client, when string) {
	n.t.Helper()
	stopped := make(chan error, 1)
	go func() { stopped <- n.srv.Shutdown(context.Background()) }() // returns once the drain is over
	c.ExpectClosed()
	select {
	case err := <-stopped:
		require.NoError(n.t, err)
	case <-time.After(30 * time.Second): // a guard against a hang, not a timing claim
		n.t.Fatalf("the node did not stop %s", when)
	}
	require.ErrorIs(n.t, <-n.served, ErrServerClosed)
	n.served <- ErrServerClosed // for the cleanup's shutdown
}
