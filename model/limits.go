package model

import (
	"slices"
	"time"
)

// The bounds and clocks of chapter limits, judged from what the clients saw
// and when: the connections the server accepted and closed (the harness
// sees both on its own connections), when each client stopped reading, and
// when it sent its name. No hook says why a connection was closed.

// Slack for the clocks. A refusal writes its error line with a deadline of
// 500 ms, then lingers up to 500 ms for the client to close; a write gives
// up when a piece of 4 KiB made no progress, and a slow reader reads one in
// about 32 ms.
const (
	loginSlack = time.Second + 10*time.Millisecond
	writeSlack = 100 * time.Millisecond
)

// served records that the server accepted cl's connection.
func (c *checker) served(cl *client) {
	cl.served, cl.servedAt = true, c.now
	cl.crowded = c.cfg.MaxConns > 0 && c.openConns >= c.cfg.MaxConns
	if cl.crowded { // it may be refused, if its name came before
		cl.certain, cl.loginOwed = false, false
	}
	c.openConns++
}

// closed records that the server closed cl's connection. A logged-in client
// that did not end its input, nor read to the end, had its connection
// closed by the server: at the end of its writer (every line written, and
// read), at the drain deadline, or because a write to it made no progress
// for the write timeout. That is fair only when it had not read for that
// long, and what it had not read is lost with the connection.
func (c *checker) closed(cl *client) {
	if cl.closed {
		return
	}
	cl.closed = true
	// The clock of a write runs out at an instant, and the client may begin
	// to read again at that same instant (in a bubble, fake time stands
	// still while both happen): the close may have come first.
	paused := cl.paused || c.cfg.WriteTimeout > 0 && cl.resumedAt == c.now &&
		c.now-c.clockStart(cl) >= c.cfg.WriteTimeout-writeSlack
	cl.pausedWhenClosed = paused
	if cl.served {
		c.openConns--
	}
	switch {
	case !cl.loggedIn || cl.disconnected || cl.ended:
		return // a refusal, its own close, or its normal end (it read it)
	case c.shutdown && c.now >= c.shutdownAt+c.cfg.DrainDeadline:
		return // the drain deadline (the harness's Drain property judges it)
	case c.cfg.WriteTimeout == 0:
		if !c.shutdown && !cl.departed { // no clock excuses it: Delivery judges the loss
			cl.dropped = true
			c.depart(cl)
		}
		return
	case !paused:
		if !c.shutdown && !cl.left && !cl.evicted && !c.coverOnly {
			c.fail(Timeouts, "conn %d (%s) was dropped while it read", cl.id, cl.name)
		}
		return // otherwise its writer wrote its queue, then closed
	case !c.cfg.Unbuffered:
		// Over TCP what was written is in the kernel's buffers, and reaches
		// the client when it reads again: nothing is lost by the close. (A
		// write that times out needs buffers full; no schedule fills them.)
		return
	case !c.lostByClose(cl):
		return // its writer wrote all it owed, and its linger ran out
	}
	// A write to it timed out.
	cl.lostUnread = true
	if !cl.departed {
		cl.dropped = true
		c.depart(cl)
	}
	if c.coverOnly {
		return
	}
	if idle := c.now - c.clockStart(cl); idle < c.cfg.WriteTimeout-writeSlack {
		c.fail(Timeouts, "conn %d (%s) was dropped %v after it stopped reading (the write timeout is %v)",
			cl.id, cl.name, idle, c.cfg.WriteTimeout)
	}
}

// mayBeGone reports whether the server may have let cl go, fairly, though
// no hook has said so yet: over a pipe, a write to cl, which does not read,
// blocked for the write timeout, and the server dropped it (the harness saw
// the close), or may have (the harness sees a close only where its client
// reads or writes; in a bubble, the clock runs out at the very instant fake
// time reaches it). Its reader then finds the connection closed and frees
// the name: a message accepted now may find the name free, and its sender
// told so. A close that no clock excuses excuses nothing: what is accepted
// after it is still owed, and Delivery judges the loss.
func (c *checker) mayBeGone(cl *client) bool {
	switch {
	case !c.cfg.Unbuffered || c.cfg.WriteTimeout == 0:
		return false
	case cl.closed:
		return cl.pausedWhenClosed
	}
	return cl.paused && c.now-c.clockStart(cl) >= c.cfg.WriteTimeout-writeSlack
}

// clockStart is the earliest moment the clock of the write that timed out
// for cl can have started. The server's clock runs per piece of a write, not
// per byte: a client that read a little of a piece and stopped, as one that
// resumes and at once stops again does, may find that piece's clock started
// before it stopped. The piece started after the last settle point at which
// the client was reading (its writer was idle then); with every step
// settled, that is when it stopped.
func (c *checker) clockStart(cl *client) time.Duration {
	return min(cl.stoppedAt, cl.readingSettleAt)
}

// lostByClose reports whether a message or an answer owed to cl when its
// connection closed never reached it: its writer had not written
// everything.
func (c *checker) lostByClose(cl *client) bool {
	lines := c.received[cl.id]
	got := c.deliveredTexts(lines)
	for _, m := range c.messages {
		if m.routed && slices.Contains(m.must, cl.id) && !got[m.text] {
			return true
		}
	}
	return !readAs(c.ownLines(cl, lines), c.answerItems(cl, true))
}

// checkLimits runs at a settle point: the connection limit, and the clocks
// that must have run out by now.
func (c *checker) checkLimits(got map[int][]string) {
	// A connection past the limit that does not read holds the server for
	// the deadline of the write that tells it so: it is being refused.
	refusing := 0
	for _, cl := range c.clients {
		if cl.crowded && !cl.closed && cl.paused {
			refusing++
		}
	}
	if c.cfg.MaxConns > 0 && c.openConns-refusing > c.cfg.MaxConns {
		c.fail(Connections, "%d connections open when the server settled, and the limit is %d",
			c.openConns, c.cfg.MaxConns)
	}
	for _, cl := range c.sortedClients() {
		if cl.connected && !cl.served && !cl.disconnected && !cl.ended {
			c.fail(Progress, "conn %d connected, and the server had not accepted it when it settled", cl.id)
		}
		c.checkLoginClock(cl)
		c.checkRefusalClock(cl)
		c.checkWriteClock(cl, got[cl.id])
		c.checkBytesBound(cl, got[cl.id])
		c.checkLinesBound(cl, got[cl.id])
	}
}

// checkRefusalClock: a login that is refused, or a connection past the
// limit, is answered and closed within the refusal's write deadline and
// linger, even when its client does not read: a refusal must not hold the
// server.
func (c *checker) checkRefusalClock(cl *client) {
	if c.cfg.LoginTimeout == 0 || !cl.asked && !cl.crowded || !cl.served || cl.loggedIn || cl.closed ||
		cl.held || cl.disconnected || cl.clockFailed {
		return
	}
	if since := max(cl.askedAt, cl.servedAt); c.now-since > loginSlack {
		cl.clockFailed = true
		c.fail(Timeouts, "conn %d sent its login line %v ago, and was neither logged in nor let go",
			cl.id, c.now-since)
	}
}

// checkBytesBound: over connections that hold nothing in transit, the bytes
// routed to a client and not read by it are all still waiting, written or
// not (the server counts both): more than the bound, and it must have been
// evicted.
func (c *checker) checkBytesBound(cl *client, got []string) {
	if !c.cfg.Unbuffered || c.cfg.MaxQueuedBytes == 0 || !cl.loggedIn || cl.departed || cl.closed ||
		cl.clockFailed {
		return
	}
	if _, waiting := c.routedUnread(cl, got); waiting > c.cfg.MaxQueuedBytes {
		cl.clockFailed = true
		c.fail(Eviction, "%d bytes waited for conn %d (%s) when the server settled, and the bound is %d",
			waiting, cl.id, cl.name, c.cfg.MaxQueuedBytes)
	}
}

// lateLogin reports whether cl's name came too late, or never: it may be
// refused for it, and it must be once the login timeout has run out.
func (c *checker) lateLogin(cl *client) bool {
	return c.cfg.LoginTimeout > 0 && cl.served &&
		(!cl.asked || cl.askedAt >= cl.servedAt+c.cfg.LoginTimeout-10*time.Millisecond)
}

// checkLoginClock: a connection that sent no name in time is closed within
// the login timeout, and the refusal's write and linger.
func (c *checker) checkLoginClock(cl *client) {
	if !c.lateLogin(cl) || cl.closed || cl.loggedIn || cl.held || cl.clockFailed {
		return
	}
	if c.now-cl.servedAt > c.cfg.LoginTimeout+loginSlack {
		cl.clockFailed = true
		c.fail(Timeouts, "conn %d sent no name in %v, and was still connected %v after it was accepted",
			cl.id, c.cfg.LoginTimeout, c.now-cl.servedAt)
	}
}

// checkWriteClock: over connections that hold nothing in transit, a client
// that stopped reading while a message was owed to it is dropped within the
// write timeout of the moment its writer had to wait.
func (c *checker) checkWriteClock(cl *client, got []string) {
	if !c.cfg.Unbuffered || c.cfg.WriteTimeout == 0 || !cl.loggedIn || !cl.paused ||
		cl.departed || cl.closed || cl.clockFailed {
		return
	}
	read := c.deliveredTexts(got)
	for _, m := range c.sortedMessages() {
		if !m.routed || !slices.Contains(m.must, cl.id) || read[m.text] {
			continue
		}
		blocked := max(cl.pausedAt, m.routedAt)
		if c.now-blocked > c.cfg.WriteTimeout+writeSlack {
			cl.clockFailed = true
			c.fail(Timeouts, "conn %d (%s) has read nothing for %v with %q waiting for it, and is still connected (the write timeout is %v)",
				cl.id, cl.name, c.now-blocked, m.text, c.cfg.WriteTimeout)
		}
		return // the first message not read is the one its writer waits with
	}
}
