package model

import (
	"slices"
	"strings"
)

// The answers a client gets to its own lines: an error line for each line
// that is not a message, for each message to someone not logged in, for a
// login refused, and for an eviction; and its own messages, when it sends
// them to itself. They come in the order of its lines, between the
// deliveries of the others' messages.

// item is one answer the model expects a client to read: one of texts, in
// its place among the client's answers.
type item struct {
	texts    []string
	required bool // the client must read it; otherwise it may
}

func (it item) accepts(line string) bool { return slices.Contains(it.texts, line) }

// checkAnswers checks the error lines and own messages that client cl read,
// lines, against what it sent; with reads, every answer owed by now must be
// among them.
func (c *checker) checkAnswers(cl *client, lines []string, reads bool) {
	if cl.answersFailed {
		return // once is enough: the rest would only repeat it
	}
	for i, line := range lines {
		if line == errTooSlow && i < len(lines)-1 {
			cl.answersFailed = true
			c.fail(Errors, "conn %d (%s) read %q after %q: nothing follows it", cl.id, cl.name, lines[i+1], line)
			return
		}
	}
	own := c.ownLines(cl, lines)
	items := c.answerItems(cl, reads)
	if readAs(own, items) {
		return
	}
	cl.answersFailed = true
	var want []string
	for _, it := range items {
		mark := "may:  "
		if it.required {
			mark = "must: "
		}
		want = append(want, mark+strings.Join(it.texts, " | "))
	}
	c.fail(Errors, "conn %d (%s) read %q, which are not its answers in order:\n    %s",
		cl.id, cl.name, own, strings.Join(want, "\n    "))
}

// ownLines are the lines of lines that answer cl's own: error lines, and
// its messages to itself. (One it was not owed is Spurious's business.)
func (c *checker) ownLines(cl *client, lines []string) []string {
	var own []string
	for _, line := range lines {
		if isErrorLine(line) {
			own = append(own, line)
		} else if m := c.delivered(line); m != nil && m.sender == cl.id && m.reaches(cl.id) {
			own = append(own, line)
		}
	}
	return own
}

// answerItems lists the answers client cl may read, in order. With reads,
// those owed by now are required: the answers to every line the server took
// in before shutdown.
func (c *checker) answerItems(cl *client, reads bool) []item {
	var items []item
	if (cl.served || cl.asked) && !cl.loggedIn { // refused, or not answered yet
		items = append(items, c.refusal(cl, reads))
	}
	if cl.loggedIn {
		// An evicted client's answers after some point are dropped: which
		// point the Eviction property judges, not this one. A dropped one's
		// are lost with its connection.
		owed := reads && !cl.evicted && !cl.dropped && !cl.lostUnread
		for _, l := range cl.lines {
			switch {
			case l.refusal != "":
				items = append(items, item{[]string{l.refusal}, owed && l.takenIn})
			case l.msg != nil:
				m := l.msg
				if m.reaches(cl.id) {
					items = append(items, item{[]string{m.delivery()}, false}) // Delivery's business
				}
				if texts, required := c.answer(m); len(texts) > 0 {
					items = append(items, item{texts, owed && m.early && required})
				}
			}
		}
	}
	if cl.evicted {
		items = append(items, item{[]string{errTooSlow}, reads && !cl.lostUnread})
	}
	return items
}

// refusal is the error line that may refuse cl's connection: its login
// line is not a name, or a name taken; the server is at its limit of
// connections; or the name came too late. It is owed to a client that reads
// and was refused, unless it was not reading then: a refusal is written with
// a deadline, and is lost if it passes.
func (c *checker) refusal(cl *client, reads bool) item {
	var texts []string
	switch {
	case cl.refusal != "":
		texts = append(texts, cl.refusal)
	case cl.asked:
		texts = append(texts, errNameTaken(cl.name))
	}
	if cl.crowded {
		texts = append(texts, errTooManyConns)
	}
	if c.lateLogin(cl) {
		texts = append(texts, errLoginTimeout)
	}
	return item{texts, reads && cl.refused && !cl.pausedWhenClosed && !cl.refusalMayBeLost && len(texts) > 0}
}

// answer returns the error lines that may answer m, naming the recipients
// it was not routed to, and whether one is required: some recipient was
// certainly not logged in.
func (c *checker) answer(m *message) (texts []string, required bool) {
	var must, may []string
	for _, name := range m.to {
		switch {
		case slices.ContainsFunc(m.must, func(id int) bool { return c.client(id).name == name }):
		case c.mayReach(m, name):
			may = append(may, name)
		default:
			must = append(must, name)
		}
	}
	for subset := range 1 << len(may) { // every choice of the names that may be in it
		var names []string
		for _, name := range m.to {
			if i := slices.Index(may, name); slices.Contains(must, name) || i >= 0 && subset&(1<<i) != 0 {
				names = append(names, name)
			}
		}
		if len(names) > 0 {
			texts = append(texts, errNotLoggedIn(names))
		}
	}
	return texts, len(must) > 0
}

// mayReach reports whether m may have been routed to a connection under name.
func (c *checker) mayReach(m *message, name string) bool {
	for id := range m.may {
		if c.client(id).name == name {
			return true
		}
	}
	return false
}

// mayAnswer reports whether m may get an answer at all: an upper bound,
// for messages whose routing is not settled yet.
func (c *checker) mayAnswer(m *message) bool {
	return slices.ContainsFunc(m.to, func(name string) bool {
		return !slices.ContainsFunc(m.must, func(id int) bool { return c.client(id).name == name })
	})
}

// readAs reports whether lines can be read as items: each line is one
// item's, in the items' order, and every required item has its line.
func readAs(lines []string, items []item) bool {
	return readGreedily(lines, items) || readExhaustively(lines, items)
}

// readGreedily gives each line the first item that takes it. When it
// succeeds the reading is right; when it fails, a reading that gives a line
// to a later item may still succeed.
func readGreedily(lines []string, items []item) bool {
	i := 0
	for _, line := range lines {
		for i < len(items) && !items[i].accepts(line) {
			if items[i].required {
				return false
			}
			i++
		}
		if i == len(items) {
			return false
		}
		i++
	}
	return !slices.ContainsFunc(items[i:], func(it item) bool { return it.required })
}

// readExhaustively tries every reading, by dynamic programming: ok[j] says
// whether lines[j:] can be read as the items after the current one.
func readExhaustively(lines []string, items []item) bool {
	ok := make([]bool, len(lines)+1)
	ok[len(lines)] = true // no items left: only no lines left reads
	for i := len(items) - 1; i >= 0; i-- {
		next := slices.Clone(ok)
		for j := range ok {
			skip := !items[i].required && next[j]
			take := j < len(lines) && items[i].accepts(lines[j]) && next[j+1]
			ok[j] = skip || take
		}
	}
	return ok[0]
}
