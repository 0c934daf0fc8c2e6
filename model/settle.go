package model

import "slices"

// What the server owes at a settle point. Once it has done all it can with
// what it was given (Settled), and before shutdown, what each client sent
// must have been taken in: no hook decides that, the clients' lines do.

// settle runs the checks of a Settled event; read is how many lines each
// client had read by then.
func (c *checker) settle(read map[int]int) {
	got := map[int][]string{}
	for _, cl := range c.sortedClients() {
		lines := c.received[cl.id]
		got[cl.id] = lines[:min(read[cl.id], len(lines))]
		c.checkLogin(cl, got[cl.id])
		c.checkTakenIn(cl)
		c.checkFreed(cl)
		if !cl.paused && !cl.disconnected && !cl.dropped && !cl.lostUnread {
			c.checkCaughtUp(cl, got[cl.id])
		}
	}
	c.checkLimits(got)
	for _, m := range c.open {
		if !m.routed {
			c.fail(Progress, "%q from conn %d was accepted, and not routed by the time the server settled",
				m.text, m.sender)
		}
	}
}

// checkLogin: a login line is answered, by a login or a refusal, and a name
// that only this client asked for is given. A client that disconnected may
// have gone before its line arrived; a held reader has not read it.
func (c *checker) checkLogin(cl *client, got []string) {
	if !cl.asked || cl.held {
		return
	}
	certain, owed := cl.certain, cl.loginOwed
	cl.certain, cl.loginOwed = false, false // checked once, at the end of the epoch it asked in
	if cl.loggedIn {
		return
	}
	answered := cl.closed || cl.ended || slices.ContainsFunc(got, isErrorLine)
	cl.refused = cl.refused || answered
	if !answered && cl.paused {
		// A refusal waits on a client that does not read, with a deadline:
		// once the deadline passes it is lost, though the connection may
		// close only later, after the client reads again (a linger).
		cl.refusalMayBeLost = true
	}
	switch {
	case cl.disconnected:
	case certain:
		c.fail(Progress, "conn %d asked for %q, which no other connection held, and was not logged in",
			cl.id, cl.name)
	case owed && !cl.departed:
		c.fail(Login, "conn %d asked for %q, which was free, and was not logged in", cl.id, cl.name)
	case !answered && !cl.paused: // a refusal waits to be read
		c.fail(Progress, "conn %d sent its login line %q, and had no answer when the server settled",
			cl.id, cl.name+cl.refusal)
	}
}

// checkTakenIn: every message line that a logged-in client sent has been
// accepted. An evicted client's reader stops where it is (the Eviction
// property says when that is fair), what a client that disconnected sent
// last may never have arrived, and what a client sends after the server
// closed its connection (at a write timeout: the Timeouts property says when
// that is fair) goes nowhere. Its bad lines have been read too, and their
// answers are owed, if it reads: then the harness waits for the answers to
// settle over TCP, and only then can it know.
func (c *checker) checkTakenIn(cl *client) {
	if !cl.loggedIn || cl.evicted || cl.dropped || cl.disconnected || cl.closed || cl.held {
		return
	}
	if len(cl.pending) > 0 && !cl.stalled {
		cl.stalled = true // said once: the same line would be named at every settle point
		c.fail(Progress, "conn %d (%s) sent %q, which was not accepted by the time the server settled",
			cl.id, cl.name, cl.pending[0].p.line)
	}
	if cl.paused && !c.cfg.Unbuffered {
		return // over TCP nothing tells whether its bad lines were read: no answer can be
	}
	for _, l := range cl.lines {
		l.takenIn = true // read, so its answer is owed: the client reads, and will see it
	}
}

// checkFreed: a client that left has been logged out, so that its name is
// free (the chapters before disconnect keep it taken, and do not claim this).
func (c *checker) checkFreed(cl *client) {
	if cl.loggedIn && cl.departed && !cl.loggedOut && !cl.held {
		c.fail(Login, "conn %d (%s) left, and its name was not freed by the time the server settled",
			cl.id, cl.name)
	}
}

// checkCaughtUp: a client that reads has read everything owed to it so far,
// deliveries and error lines. What it read at a settle point stays read,
// so it is owed even if the client leaves later.
func (c *checker) checkCaughtUp(cl *client, got []string) {
	texts := c.deliveredTexts(got)
	for _, m := range c.sortedMessages() {
		if m.routed && slices.Contains(m.must, cl.id) && !texts[m.text] { // not routed: Progress
			c.fail(Delivery, "conn %d (%s) had not received %q from %s when the server settled",
				cl.id, cl.name, m.text, m.from)
			return
		}
	}
	c.checkAnswers(cl, got, true)
}

// free reports whether cl's name is free for it in a chapter that frees
// names: every other connection that asked for it was refused, or was
// logged out after it left, in an earlier epoch.
func (c *checker) free(cl *client) bool {
	for _, other := range c.clients {
		if other == cl || !other.asked || other.name != cl.name {
			continue
		}
		gone := other.loggedOut && other.departEpoch < c.epoch
		if other.askedEpoch == c.epoch || !other.refused && !gone {
			return false
		}
	}
	return true
}
