package model

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Kind says what an Event records. The harness records what the clients do
// and see; the server reports, through its trace hooks, what it decided.
type Kind int

const (
	// Sent: client Conn wrote Line (its login line first, then messages).
	// A line written in parts counts as sent when its newline is; if the
	// client ends its input before that, it was never sent.
	Sent Kind = iota
	// LoggedIn (hook): the server routes messages for Name to Conn from now on.
	LoggedIn
	// Accepted (hook): the server took responsibility for a message from
	// Conn, sent by Name.
	Accepted
	// Disconnected: client Conn closed its connection: it neither sends nor
	// reads any more.
	Disconnected
	// ShutdownBegan (hook): Ctrl-C. Read: what each client had read then.
	ShutdownBegan
	// Settled: the server has done all it can with what it was given, as
	// far as the harness can tell (exactly, in a synctest bubble). Read:
	// how many lines each client had read then.
	Settled
	// Left: client Conn ended its input (it half-closed its connection, or
	// sent a line too long to be read) and still reads.
	Left
	// LoggedOut (hook): the server stopped routing messages for Name to Conn.
	LoggedOut
	// Evicted (hook): the server stopped routing messages for Name to Conn
	// because Conn read too slowly. Count is how many lines it says were
	// waiting; the model counts for itself.
	Evicted
	// Routed (hook): the server routed the message Text, from Name.
	Routed
	// Connected: client Conn opened a connection.
	Connected
	// Closed: the server closed Conn's connection.
	Closed
	// Ended: client Conn read the end of its input: the server will write
	// nothing more to it.
	Ended
	// Paused: client Conn stopped reading. Resumed: it reads again.
	Paused
	Resumed
	// Held: the harness holds the server's reader of Conn (a goroutine
	// descheduled at the worst moment); Released: it lets it go.
	Held
	Released
	// Served: the server's Accept returned Conn's connection.
	Served
	// Interrupted: the harness called Shutdown (Ctrl-C).
	Interrupted
	// ServeReturned: the server's Serve returned.
	ServeReturned
)

// Event is one entry of a history.
type Event struct {
	Kind  Kind
	Conn  int
	Line  string      // Sent
	Name  string      // LoggedIn, LoggedOut, Evicted; Accepted, Routed: the sender's name
	To    []string    // Accepted
	Text  string      // Accepted, Routed
	Count int         // Evicted: what the server says was waiting
	Read  map[int]int // Settled, ShutdownBegan: lines each client had read
	// At is when it happened, from the start of the schedule: fake time in
	// a synctest bubble. Only the clocks of chapter limits look at it.
	At time.Duration
}

// Property names one of the properties; a Violation's Property is stable
// text, so a property-based test can fail with it and still shrink.
type Property string

const (
	Delivery   Property = "Delivery: a message accepted before shutdown was not delivered"
	Spurious   Property = "Nothing spurious: a client received a message not owed to it"
	Duplicate  Property = "Exactly once: a client received a message twice"
	Order      Property = "Order: a client received one sender's messages out of order"
	Acceptance Property = "Acceptance: the server accepted what its client did not send"
	Progress   Property = "Progress: once the server settled, a line a client sent was still not taken in"
	Names      Property = "Names: a client was logged in under a name it did not ask for, or one another connection held"
	// Login is chapter disconnect's claim, Impostor and Errors chapter
	// replies'; the chapters before break them.
	Login    Property = "Login: a free name was refused, or a name not freed when its client left"
	Impostor Property = "Impostor: the server accepted a message from a client it never logged in"
	Errors   Property = "Error lines: a mistake got no error line, the wrong one, or one out of order"
	// The slow chapter's claim.
	Eviction Property = "Eviction: a client was evicted with no more waiting for it than the bound, or kept with more"
	// The limits chapter's claims.
	Connections Property = "Connections: the server held more connections than its limit"
	Timeouts    Property = "Timeouts: a connection was let go before its clock ran out, or held after"
	Serving     Property = "Serving: Serve returned before Shutdown was called"
)

// Violation is one broken property, with the details.
type Violation struct {
	Property Property
	Detail   string
	at       int // the event that revealed it, or the history's length
}

func (v Violation) String() string { return string(v.Property) + ": " + v.Detail }

// Config is what the model must know of the server under test: its bounds
// and clocks (0: it has none), and its clients' connections.
type Config struct {
	// MaxQueued and MaxQueuedBytes bound the lines, and the bytes, waiting
	// for one client: a client may be evicted as too slow only when more
	// than this many wait for it (MaxQueued 0: never).
	MaxQueued, MaxQueuedBytes int
	// MaxConns is how many connections the server may hold at once.
	MaxConns int
	// LoginTimeout is how long a connection may take to send its name;
	// WriteTimeout, how long a write to a client that does not read may
	// wait before the server drops it.
	LoginTimeout, WriteTimeout time.Duration
	// Unbuffered: a connection holds nothing in transit (net.Pipe), so a
	// writer blocks as soon as its client stops reading.
	Unbuffered bool
	// DrainDeadline is Shutdown's: from then on it closes every connection.
	DrainDeadline time.Duration
}

// Check returns the violations in a history. received holds every complete
// line each connection read, error lines included, in order; reading says
// whether it read to the end (it neither disconnected nor stopped reading
// for good).
func Check(history []Event, received map[int][]string, reading map[int]bool, cfg Config) []Violation {
	c := newChecker(history, received, cfg)
	c.replay()
	for _, cl := range c.sortedClients() {
		c.checkReceived(cl)
		c.checkAnswers(cl, received[cl.id], reading[cl.id])
	}
	c.checkDelivered(reading)
	c.checkImpostors()
	return c.sorted()
}

// Pending returns what the server still owes the clients now: the
// violations that a Settled event recorded now would show. An empty result
// means the server has settled, as far as the clients can tell; over TCP the
// harness waits for that before it records Settled.
func Pending(history []Event, received map[int][]string, cfg Config) []Violation {
	read := map[int]int{}
	for id, lines := range received {
		read[id] = len(lines)
	}
	h := append(slices.Clip(history), Event{Kind: Settled, Read: read})
	c := newChecker(h, received, cfg)
	c.replay()
	var pending []Violation
	for _, v := range c.sorted() {
		if v.at == len(h)-1 {
			pending = append(pending, v)
		}
	}
	return pending
}

// message is an accepted message, as the model understands it.
type message struct {
	sender   int    // the sending connection
	from     string // its login name
	index    int    // its place among the sender's accepted messages
	to       []string
	text     string
	early    bool         // accepted before shutdown began
	must     []int        // connections it is owed to
	may      map[int]bool // connections that may receive it (a race allows it)
	acceptAt int          // its place in the history
	routed   bool         // the server reported routing it
	routedAt time.Duration
}

func (m *message) delivery() string { return "from " + m.from + ": " + m.text }

// owedTo reports whether m may reach conn at all.
func (m *message) reaches(conn int) bool { return slices.Contains(m.must, conn) || m.may[conn] }

// line is a line a client sent after its login line.
type line struct {
	refusal string   // the error line it gets, if it is not a message
	p       parsed   // if it is
	msg     *message // once accepted
	takenIn bool     // the server read it before shutdown: it owes an answer
}

// client is one connection, as the model sees it.
type client struct {
	id               int
	connected        bool
	asked            bool   // it sent its login line
	name             string // the name it asked for, if it is one
	refusal          string // the error line that refuses its login line, if it is not a name
	askedEpoch       int
	certain          bool // it asked for a name that only it can hold: it must get it
	loginOwed        bool // it asked for a free name (see free)
	refused          bool // the server answered its login without logging it in
	refusalMayBeLost bool // a settle point found its login unanswered while it did not read
	loggedIn         bool // the LoggedIn hook was called for it
	loggedOut        bool
	evicted          bool
	left             bool // it ended its input
	disconnected     bool
	departed         bool // left, disconnected or evicted
	departEpoch      int
	closed           bool // the server closed the connection
	ended            bool // it read the end of its input
	paused, held     bool
	pausedAt         time.Duration // when it last stopped reading, or began to read again
	stoppedAt        time.Duration // when it last stopped reading
	resumedAt        time.Duration // when it last began to read again
	// readingSettleAt is the last settle point at which it was reading: its
	// writer had written all it could then, and a write the server began
	// after it is the earliest whose clock can run out (see closed).
	readingSettleAt  time.Duration
	served           bool // the server accepted its connection
	servedAt         time.Duration
	crowded          bool          // when it was served, the server held its limit of connections
	dropped          bool          // logged in, the server closed its connection before shutdown
	lostUnread       bool          // the server closed its connection while it was not reading
	pausedWhenClosed bool          // it was not reading when the server closed its connection
	askedAt          time.Duration // when it sent its login line
	clockFailed      bool          // a clock of chapter limits failed for it: said once
	answersFailed    bool          // checkAnswers found a fault: it says so once
	stalled          bool          // checkTakenIn found a line not accepted: it says so once
	pending          []*line       // message lines sent and not accepted yet
	lines            []*line       // every line after its login, in order
	accepted         int
}

type checker struct {
	cfg         Config
	history     []Event
	received    map[int][]string
	clients     map[int]*client
	routes      map[string]int // name -> the connection routed to now
	holders     map[string]int // name -> the connection the hooks say holds it
	everHeld    map[string]int // name -> how many connections ever held it
	messages    map[string]*message
	open        []*message // accepted since the last Settled: their routing may race
	shutdown    bool
	shutdownAt  time.Duration
	interrupted bool        // Shutdown was called
	epoch       int         // Settled events so far
	lastRead    map[int]int // Read of the last Settled
	priorRead   map[int]int // Read of the Settled before it
	cover       Covered
	coverOnly   bool // Cover's replay: no checks
	violations  []Violation
	at          int           // the event being replayed
	now         time.Duration // when it happened
	openConns   int           // connections the server accepted and has not closed
}

func newChecker(history []Event, received map[int][]string, cfg Config) *checker {
	return &checker{
		cfg: cfg, history: history, received: received,
		clients: map[int]*client{}, routes: map[string]int{}, holders: map[string]int{},
		everHeld: map[string]int{}, messages: map[string]*message{}, lastRead: map[int]int{},
		priorRead: map[int]int{},
	}
}

func (c *checker) fail(p Property, format string, args ...any) {
	c.violations = append(c.violations, Violation{p, fmt.Sprintf(format, args...), c.at})
}

func (c *checker) sorted() []Violation {
	slices.SortStableFunc(c.violations, func(a, b Violation) int {
		return strings.Compare(string(a.Property), string(b.Property))
	})
	return c.violations
}

func (c *checker) client(id int) *client {
	cl, ok := c.clients[id]
	if !ok {
		cl = &client{id: id}
		c.clients[id] = cl
	}
	return cl
}

func (c *checker) sortedClients() []*client {
	ids := make([]int, 0, len(c.clients))
	for id := range c.clients {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]*client, len(ids))
	for i, id := range ids {
		out[i] = c.clients[id]
	}
	return out
}

// replay walks the history once, in order, as the server lived it.
func (c *checker) replay() {
	for i, ev := range c.history {
		c.at, c.now = i, ev.At
		cl := c.client(ev.Conn)
		switch ev.Kind {
		case Connected:
			cl.connected = true
		case Sent:
			c.sent(cl, ev.Line)
		case LoggedIn:
			c.loggedIn(cl, ev.Name)
		case Accepted:
			c.accepted(cl, ev)
		case Routed:
			if m := c.messages[ev.Text]; m != nil && m.from == ev.Name {
				m.routed, m.routedAt = true, ev.At
			}
		case Left, Disconnected:
			c.depart(cl)
			cl.left = cl.left || ev.Kind == Left
			cl.disconnected = cl.disconnected || ev.Kind == Disconnected
		case LoggedOut:
			cl.loggedOut = true
			c.release(cl, ev.Name)
		case Evicted:
			// What was routed to it before is still owed: it is queued, and
			// the client may read it. Nothing routed after is.
			if !c.coverOnly {
				c.checkEviction(cl, ev.Count)
			}
			c.depart(cl)
			cl.evicted = true
			c.release(cl, ev.Name)
		case Closed:
			c.closed(cl)
		case Ended:
			cl.ended = true
		case Paused, Resumed:
			cl.paused = ev.Kind == Paused
			cl.pausedAt = ev.At
			if cl.paused {
				cl.stoppedAt = ev.At
			} else {
				cl.resumedAt = ev.At
			}
		case Held, Released:
			cl.held = ev.Kind == Held
		case Served:
			c.served(cl)
		case Interrupted:
			c.interrupted = true
		case ServeReturned:
			if !c.interrupted && !c.coverOnly {
				c.fail(Serving, "Serve returned %v after the start, before Ctrl-C", ev.At)
			}
		case ShutdownBegan:
			c.cover.observe(c, ev.Read)
			c.shutdown, c.shutdownAt = true, ev.At
		case Settled:
			if !c.shutdown && !c.coverOnly {
				c.settle(ev.Read)
			}
			for _, cl := range c.clients {
				if !cl.paused {
					cl.readingSettleAt = ev.At
				}
			}
			c.open = nil
			c.priorRead, c.lastRead = c.lastRead, ev.Read
			c.epoch++
		}
	}
	c.at = len(c.history)
}

func (c *checker) sent(cl *client, text string) {
	if !cl.asked {
		c.asks(cl, text)
		return
	}
	l := &line{}
	l.p, l.refusal = parseMessage(text)
	cl.lines = append(cl.lines, l)
	if l.refusal == "" {
		cl.pending = append(cl.pending, l)
	}
}

// asks records a login line. A name is certain to be given if every other
// connection that asked for it before was refused, and none asks for it
// before the server settles: no chapter, whatever it does with names that
// were held, may refuse it. It is owed (the Login property) if it is free
// in a chapter that frees the names of clients that left.
func (c *checker) asks(cl *client, text string) {
	cl.asked = true
	cl.askedEpoch, cl.askedAt = c.epoch, c.now
	cl.name, cl.refusal = parseLogin(text)
	if cl.refusal != "" || c.shutdown || cl.crowded || c.lateLogin(cl) {
		return // refused, or may be: for the limit or the login timeout
	}
	cl.certain = true
	for _, other := range c.clients {
		if other == cl || !other.asked || other.name != cl.name {
			continue
		}
		if other.askedEpoch == c.epoch { // the two race: either may win
			other.certain, other.loginOwed = false, false
		}
		if other.askedEpoch == c.epoch || !other.refused {
			cl.certain = false
		}
	}
	cl.loginOwed = c.free(cl)
}

// loggedIn checks that the name given is the one asked for, and held by no
// other connection, and routes the name to cl.
func (c *checker) loggedIn(cl *client, name string) {
	switch holder, held := c.holders[name]; {
	case !cl.asked || cl.refusal != "" || cl.name != name:
		c.fail(Names, "conn %d asked for %q and was logged in as %q", cl.id, cl.name, name)
	case cl.loggedIn:
		c.fail(Names, "conn %d was logged in twice", cl.id)
	case held && holder != cl.id:
		c.fail(Names, "conn %d was logged in as %q while conn %d held it", cl.id, name, holder)
	}
	cl.loggedIn = true
	c.holders[name] = cl.id
	c.everHeld[name]++
	for _, m := range c.open {
		if !slices.Contains(m.to, name) {
			continue
		}
		// The broker reports a login and a routing from its one goroutine,
		// in the order it did them (chattrace). Routed before this login,
		// m was not routed to cl; accepted and not yet routed, it will be.
		switch {
		case m.routed:
		case cl.departed: // if it left first, the server may not know yet
			m.may[cl.id] = true
		default:
			m.must = append(m.must, cl.id)
		}
	}
	if !cl.departed { // if it left first, nothing is owed to it
		c.routes[name] = cl.id
	}
}

func (c *checker) release(cl *client, name string) {
	if c.holders[name] == cl.id {
		delete(c.holders, name)
	}
}

// depart ends what is owed to a client that ended its input, or was evicted:
// the server sees it at some point after this, so a message not yet routed
// may or may not reach it.
func (c *checker) depart(cl *client) {
	if cl.departed {
		return
	}
	cl.departed = true
	cl.departEpoch = c.epoch
	if !cl.loggedIn || c.routes[cl.name] != cl.id {
		return
	}
	delete(c.routes, cl.name)
	for _, m := range c.open {
		if i := slices.Index(m.must, cl.id); i >= 0 {
			m.must = slices.Delete(m.must, i, i+1)
			m.may[cl.id] = true
		}
	}
}

// leaving reports whether cl has departed but its name may still be routed
// to it: the server has not logged it out yet.
func (c *checker) leaving(cl *client) bool {
	return cl.loggedIn && cl.departed && !cl.loggedOut && !cl.evicted
}

// accepted checks an Accepted event against what its client sent, and
// records what the message is owed.
func (c *checker) accepted(cl *client, ev Event) {
	if len(cl.pending) == 0 {
		c.fail(Acceptance, "conn %d: accepted %q, but it sent no such line", cl.id, ev.Text)
		return
	}
	l := cl.pending[0]
	cl.pending = cl.pending[1:]
	if !cl.asked || ev.Name != cl.name || ev.Text != l.p.text || !slices.Equal(ev.To, l.p.to) {
		c.fail(Acceptance, "conn %d: accepted %s -> %v: %q, but it sent %q",
			cl.id, ev.Name, ev.To, ev.Text, l.p.line)
		return
	}
	m := &message{
		sender: cl.id, from: ev.Name, to: l.p.to, text: l.p.text,
		index: cl.accepted, early: !c.shutdown, may: map[int]bool{}, acceptAt: c.at,
	}
	cl.accepted++
	l.msg = m
	if m.early { // the server read every line before this one
		for _, before := range cl.lines {
			if before == l {
				break
			}
			before.takenIn = true
		}
	}
	for _, name := range m.to {
		conn, ok := c.routes[name]
		switch {
		case !ok:
		case c.mayBeGone(c.client(conn)):
			m.may[conn] = true // its reader may have seen the close, and freed the name
		default:
			m.must = append(m.must, conn)
		}
	}
	for _, other := range c.clients { // it left, and the server may not have seen it yet
		if c.leaving(other) && slices.Contains(m.to, other.name) {
			m.may[other.id] = true
		}
	}
	c.messages[m.text] = m
	c.open = append(c.open, m)
}

// checkImpostors: a message accepted from a connection that the server
// never logged in was sent under a name that was not its own.
func (c *checker) checkImpostors() {
	for _, m := range c.sortedMessages() {
		if !c.client(m.sender).loggedIn {
			c.fail(Impostor, "conn %d was never logged in, but its %q was accepted as %s's",
				m.sender, m.text, m.from)
		}
	}
}

// checkReceived checks one connection's deliveries: each owed to it, once,
// and each sender's in order. Error lines are checkAnswers' business.
func (c *checker) checkReceived(cl *client) {
	seen := map[string]bool{}
	last := map[int]int{} // sender -> index of the last message received from it
	for _, line := range c.received[cl.id] {
		if isErrorLine(line) {
			continue
		}
		m := c.delivered(line)
		switch {
		case m == nil:
			c.fail(Spurious, "conn %d received %q, which nobody sent", cl.id, line)
			continue
		case !m.reaches(cl.id):
			c.fail(Spurious, "conn %d (%s) received %q, addressed to %v", cl.id, cl.name, line, m.to)
			continue
		case seen[m.text]:
			c.fail(Duplicate, "conn %d received %q twice", cl.id, line)
			continue
		}
		seen[m.text] = true
		if prev, ok := last[m.sender]; ok && m.index < prev {
			c.fail(Order, "conn %d received %q after a later message of conn %d", cl.id, line, m.sender)
		}
		last[m.sender] = m.index
	}
}

// delivered returns the message a delivery line carries, or nil.
func (c *checker) delivered(line string) *message {
	from, text, ok := parseDelivery(line)
	if m := c.messages[text]; ok && m != nil && m.from == from {
		return m
	}
	return nil
}

// checkDelivered checks that every message accepted before shutdown reached
// every connection it is owed to that read to the end.
func (c *checker) checkDelivered(reading map[int]bool) {
	got := map[int]map[string]bool{}
	for conn, lines := range c.received {
		got[conn] = c.deliveredTexts(lines)
	}
	for _, m := range c.sortedMessages() {
		for _, conn := range m.must {
			if cl := c.client(conn); m.early && reading[conn] && !cl.disconnected && !cl.lostUnread && !got[conn][m.text] {
				c.fail(Delivery, "conn %d (%s) never received %q from %s",
					conn, c.client(conn).name, m.text, m.from)
			}
		}
	}
}

func (c *checker) deliveredTexts(lines []string) map[string]bool {
	got := map[string]bool{}
	for _, line := range lines {
		if m := c.delivered(line); m != nil {
			got[m.text] = true
		}
	}
	return got
}

func (c *checker) sortedMessages() []*message {
	ms := make([]*message, 0, len(c.messages))
	for _, m := range c.messages {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *message) int { return a.acceptAt - b.acceptAt })
	return ms
}
