package model

import (
	"fmt"
	"slices"
	"strings"
)

// Kind says what an Event records.
type Kind int

const (
	// Sent: client Conn wrote Line (its login line first, then messages).
	Sent Kind = iota
	// LoggedIn: the server routes messages for Name to Conn from now on.
	LoggedIn
	// Accepted: the server took responsibility for a message from Conn.
	Accepted
	// Disconnected: client Conn closed its connection: it neither sends nor
	// reads any more.
	Disconnected
	// ShutdownBegan: Ctrl-C.
	ShutdownBegan
	// Settled: every message accepted so far has been routed (the harness
	// knows this inside a synctest bubble, once every goroutine is blocked).
	Settled
	// Left: client Conn ended its input (it half-closed its connection, or
	// sent a line too long to be read) and still reads.
	Left
	// LoggedOut: the server stopped routing messages for Name to Conn.
	LoggedOut
	// Evicted: the server stopped routing messages for Name to Conn because
	// Conn read too slowly; Count lines were waiting for it.
	Evicted
)

// Event is one entry of a history.
type Event struct {
	Kind  Kind
	Conn  int    // Sent, LoggedIn, Accepted, Disconnected
	Line  string // Sent
	Name  string // LoggedIn; Accepted: the sender's name
	To    []string
	Text  string // Accepted: what the server parsed
	Count int    // Evicted
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
	// The disconnect chapter's claims; the chapters before it break them.
	Login    Property = "Login: a free name was refused, or a name not freed when its client left"
	Impostor Property = "Impostor: the server accepted a message from a client it never logged in"
)

// Violation is one broken property, with the details.
type Violation struct {
	Property Property
	Detail   string
}

func (v Violation) String() string { return string(v.Property) + ": " + v.Detail }

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
}

// Check returns the violations in what the clients received. received holds
// the complete lines each connection read; reading says whether it read to
// the end (it neither disconnected nor stopped reading for good).
func Check(history []Event, received map[int][]string, reading map[int]bool) []Violation {
	c := newChecker(history)
	c.replay()
	for conn, lines := range received {
		c.checkReceived(conn, lines)
	}
	c.checkDelivered(received, reading)
	slices.SortStableFunc(c.violations, func(a, b Violation) int {
		return strings.Compare(string(a.Property), string(b.Property))
	})
	return c.violations
}

type checker struct {
	history    []Event
	login      map[int]string      // connection -> the name it sent
	pending    map[int][]parsed    // connection -> valid message lines not yet accepted
	messages   map[string]*message // by text: the harness makes every text unique
	loggedIn   map[int]string      // connection -> the name it is routed under
	left       map[int]bool        // connections whose client disconnected
	departed   map[int]bool        // connections whose client ended its input
	leaving    map[int]bool        // departed, and the server has not logged them out yet
	logins     logins
	violations []Violation
}

func newChecker(history []Event) *checker {
	return &checker{
		history:  history,
		login:    map[int]string{},
		pending:  map[int][]parsed{},
		messages: map[string]*message{},
		loggedIn: map[int]string{},
		left:     map[int]bool{},
		departed: map[int]bool{},
		leaving:  map[int]bool{},
		logins:   logins{sentAt: map[int]int{}, departedAt: map[int]int{}, owed: map[int]int{}},
	}
}

func (c *checker) fail(p Property, format string, args ...any) {
	c.violations = append(c.violations, Violation{p, fmt.Sprintf(format, args...)})
}

// replay walks the history once, in order, as the server lived it.
func (c *checker) replay() {
	routes := map[string]int{} // name -> the connection routed to now
	shutdown := false
	var open []*message // accepted since the last Settled: their routing may race
	for i, ev := range c.history {
		switch ev.Kind {
		case Sent:
			c.sent(ev, shutdown)
		case LoggedIn:
			c.loggedIn[ev.Conn] = ev.Name
			if c.departed[ev.Conn] { // it left first: nothing is owed to it
				c.leaving[ev.Conn] = true
			} else {
				routes[ev.Name] = ev.Conn
			}
			for _, m := range open { // routed before or after? Either may happen.
				if slices.Contains(m.to, ev.Name) {
					m.may[ev.Conn] = true
				}
			}
		case Accepted:
			if m := c.accepted(ev, i, !shutdown, routes); m != nil {
				open = append(open, m)
			}
		case Left, Disconnected:
			c.depart(ev.Conn, routes, open)
			c.left[ev.Conn] = c.left[ev.Conn] || ev.Kind == Disconnected
		case LoggedOut:
			delete(c.leaving, ev.Conn)
		case Evicted:
			// What was routed to it before is still owed: it is queued, and
			// the client may read it. Nothing routed after is.
			c.depart(ev.Conn, routes, open)
			delete(c.leaving, ev.Conn)
		case ShutdownBegan:
			shutdown = true
			c.logins.owed = map[int]int{} // a login not answered yet may be refused now
		case Settled:
			open = nil
			c.logins.settle(c)
		}
	}
	c.checkImpostors()
}

// depart ends what is owed to a client that ended its input: the server
// sees it leave at some point after this, so a message not yet routed may
// or may not reach it.
func (c *checker) depart(conn int, routes map[string]int, open []*message) {
	if c.departed[conn] {
		return
	}
	c.departed[conn] = true
	c.logins.departedAt[conn] = c.logins.epoch
	name, ok := c.loggedIn[conn]
	if !ok || routes[name] != conn {
		return
	}
	delete(routes, name)
	c.leaving[conn] = true
	for _, m := range open {
		if i := slices.Index(m.must, conn); i >= 0 {
			m.must = slices.Delete(m.must, i, i+1)
			m.may[conn] = true
		}
	}
}

// logins holds what the Login property needs. Time is counted in epochs: an
// epoch ends at each Settled, when the server has done all it was asked.
type logins struct {
	epoch      int
	sentAt     map[int]int // connection -> the epoch its login line was sent in
	departedAt map[int]int // connection -> the epoch its client ended its input in
	owed       map[int]int // connection -> the epoch it sent a free name in
}

// free reports whether name is free for conn: every other connection that
// asked for it was refused, or left, in an earlier epoch.
func (l *logins) free(c *checker, conn int, name string) bool {
	for other, asked := range c.login {
		if other == conn || asked != name {
			continue
		}
		_, holds := c.loggedIn[other]
		left, departed := l.departedAt[other]
		refused := !holds && l.sentAt[other] < l.epoch
		if !refused && !(departed && left < l.epoch) {
			return false
		}
	}
	return true
}

// race forgets the logins of name asked for in this epoch: a second ask
// before the server settled races with them, and either may win.
func (l *logins) race(c *checker, name string) {
	for other, at := range l.owed {
		if c.login[other] == name && at == l.epoch {
			delete(l.owed, other)
		}
	}
}

// settle checks, at the end of an epoch, that every free name asked for in
// it was given.
func (l *logins) settle(c *checker) {
	for conn, at := range l.owed {
		if _, ok := c.loggedIn[conn]; !ok && at == l.epoch && !c.departed[conn] {
			c.fail(Login, "conn %d asked for %q, which was free, and was not logged in", conn, c.login[conn])
		}
	}
	clear(l.owed)
	l.epoch++
}

// checkImpostors: a message accepted from a connection that the server
// never logged in was sent under a name that was not its own.
func (c *checker) checkImpostors() {
	for _, m := range c.sortedMessages() {
		if _, ok := c.loggedIn[m.sender]; !ok {
			c.fail(Impostor, "conn %d was never logged in, but its %q was accepted as %s's",
				m.sender, m.text, m.from)
		}
	}
}

func (c *checker) sent(ev Event, shutdown bool) {
	if _, ok := c.login[ev.Conn]; !ok {
		name := parseLogin(ev.Line)
		c.login[ev.Conn] = name
		c.logins.sentAt[ev.Conn] = c.logins.epoch
		c.logins.race(c, name)
		if !shutdown && c.logins.free(c, ev.Conn, name) {
			c.logins.owed[ev.Conn] = c.logins.epoch
		}
		return
	}
	if p, ok := parseMessage(ev.Line); ok {
		c.pending[ev.Conn] = append(c.pending[ev.Conn], p)
	}
}

// accepted checks an Accepted event against what its client sent, and
// records what the message is owed.
func (c *checker) accepted(ev Event, at int, early bool, routes map[string]int) *message {
	queue := c.pending[ev.Conn]
	if len(queue) == 0 {
		c.fail(Acceptance, "conn %d: accepted %q, but it sent no such line", ev.Conn, ev.Text)
		return nil
	}
	want := queue[0]
	c.pending[ev.Conn] = queue[1:]
	if ev.Name != c.login[ev.Conn] || ev.Text != want.text || !slices.Equal(ev.To, want.to) {
		c.fail(Acceptance, "conn %d: accepted %s -> %v: %q, but it sent %q",
			ev.Conn, ev.Name, ev.To, ev.Text, want.line)
		return nil
	}
	m := &message{
		sender: ev.Conn, from: ev.Name, to: want.to, text: want.text,
		index: c.countFrom(ev.Conn), early: early, may: map[int]bool{}, acceptAt: at,
	}
	for _, name := range m.to {
		if conn, ok := routes[name]; ok {
			m.must = append(m.must, conn)
		}
	}
	for conn := range c.leaving { // it left, and the server may not have seen it yet
		if slices.Contains(m.to, c.loggedIn[conn]) {
			m.may[conn] = true
		}
	}
	c.messages[m.text] = m
	return m
}

func (c *checker) countFrom(conn int) int {
	n := 0
	for _, m := range c.messages {
		if m.sender == conn {
			n++
		}
	}
	return n
}

// checkReceived checks one connection's lines: each owed to it, once, and
// each sender's in order.
func (c *checker) checkReceived(conn int, lines []string) {
	seen := map[string]bool{}
	last := map[int]int{} // sender -> index of the last message received from it
	for _, line := range lines {
		from, text, ok := parseDelivery(line)
		m := c.messages[text]
		switch {
		case !ok || m == nil || m.from != from:
			c.fail(Spurious, "conn %d received %q, which nobody sent", conn, line)
			continue
		case !slices.Contains(m.must, conn) && !m.may[conn]:
			c.fail(Spurious, "conn %d (%s) received %q, addressed to %v",
				conn, c.loggedIn[conn], line, m.to)
			continue
		case seen[text]:
			c.fail(Duplicate, "conn %d received %q twice", conn, line)
			continue
		}
		seen[text] = true
		if prev, ok := last[m.sender]; ok && m.index < prev {
			c.fail(Order, "conn %d received %q after a later message of conn %d",
				conn, line, m.sender)
		}
		last[m.sender] = m.index
	}
}

// checkDelivered checks that every message accepted before shutdown reached
// every connection it is owed to that read to the end.
func (c *checker) checkDelivered(received map[int][]string, reading map[int]bool) {
	got := map[int]map[string]bool{}
	for conn, lines := range received {
		got[conn] = map[string]bool{}
		for _, line := range lines {
			from, text, ok := parseDelivery(line)
			if m := c.messages[text]; ok && m != nil && m.from == from {
				got[conn][text] = true
			}
		}
	}
	for _, m := range c.sortedMessages() {
		for _, conn := range m.must {
			if m.early && reading[conn] && !c.left[conn] && !got[conn][m.text] {
				c.fail(Delivery, "conn %d (%s) never received %q from %s",
					conn, c.loggedIn[conn], m.text, m.from)
			}
		}
	}
}

func (c *checker) sortedMessages() []*message {
	ms := make([]*message, 0, len(c.messages))
	for _, m := range c.messages {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *message) int { return a.acceptAt - b.acceptAt })
	return ms
}
