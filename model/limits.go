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
	c.openConns++
}

// closed records that the server closed cl's connection. A logged-in client
// that had not left or been evicted was dropped: fair only when it had not
// read for the write timeout.
func (c *checker) closed(cl *client) {
	if cl.closed {
		return
	}
	cl.closed = true
	cl.pausedWhenClosed = cl.paused
	if cl.served {
		c.openConns--
	}
	if !cl.loggedIn || cl.departed || c.shutdown {
		return
	}
	cl.dropped = true
	c.depart(cl) // what it had not read is lost with the connection
	if c.cfg.WriteTimeout == 0 || c.coverOnly {
		return // a chapter without the clock: Delivery judges the loss
	}
	if idle := c.now - cl.pausedAt; !cl.paused || idle < c.cfg.WriteTimeout-writeSlack {
		c.fail(Timeouts, "conn %d (%s) was dropped while it read, or %v after it stopped (the write timeout is %v)",
			cl.id, cl.name, idle, c.cfg.WriteTimeout)
	}
}

// checkLimits runs at a settle point: the connection limit, and the clocks
// that must have run out by now.
func (c *checker) checkLimits(got map[int][]string) {
	if c.cfg.MaxConns > 0 && c.openConns > c.cfg.MaxConns {
		c.fail(Connections, "%d connections open when the server settled, and the limit is %d",
			c.openConns, c.cfg.MaxConns)
	}
	for _, cl := range c.sortedClients() {
		if cl.connected && !cl.served && !cl.disconnected && !cl.ended {
			c.fail(Progress, "conn %d connected, and the server had not accepted it when it settled", cl.id)
		}
		c.checkLoginClock(cl)
		c.checkWriteClock(cl, got[cl.id])
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
