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
	// Disconnected: client Conn closed its connection.
	Disconnected
	// ShutdownBegan: Ctrl-C.
	ShutdownBegan
	// Settled: every message accepted so far has been routed (the harness
	// knows this inside a synctest bubble, once every goroutine is blocked).
	Settled
)

// Event is one entry of a history.
type Event struct {
	Kind Kind
	Conn int    // Sent, LoggedIn, Accepted, Disconnected
	Line string // Sent
	Name string // LoggedIn; Accepted: the sender's name
	To   []string
	Text string // Accepted: what the server parsed
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
			c.sent(ev)
		case LoggedIn:
			routes[ev.Name] = ev.Conn
			c.loggedIn[ev.Conn] = ev.Name
			for _, m := range open { // routed before or after? Either may happen.
				if slices.Contains(m.to, ev.Name) {
					m.may[ev.Conn] = true
				}
			}
		case Accepted:
			if m := c.accepted(ev, i, !shutdown, routes); m != nil {
				open = append(open, m)
			}
		case Disconnected:
			c.left[ev.Conn] = true
		case ShutdownBegan:
			shutdown = true
		case Settled:
			open = nil
		}
	}
}

func (c *checker) sent(ev Event) {
	if _, ok := c.login[ev.Conn]; !ok {
		c.login[ev.Conn] = parseLogin(ev.Line)
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
