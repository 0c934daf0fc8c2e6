package model

import "slices"

// Covered says which of the situations where shutdown bugs hide a schedule
// reached. The harness counts them over a run, so that a generator that
// drifts away from them is noticed.
type Covered struct {
	// InFlight: at Ctrl-C, a message accepted was owed to a client that was
	// still connected and had not read it yet.
	InFlight bool
	// MidLogin: at Ctrl-C, a client was connected and not logged in, and
	// had not been refused.
	MidLogin bool
	// Evicted: a client was disconnected as too slow.
	Evicted bool
	// Rejoined: a name was given to a second connection.
	Rejoined bool
}

// Cover returns what the schedule that history records reached.
func Cover(history []Event, received map[int][]string) Covered {
	c := newChecker(history, received, Config{})
	c.coverOnly = true
	c.replay()
	for _, cl := range c.clients {
		c.cover.Evicted = c.cover.Evicted || cl.evicted
	}
	for _, n := range c.everHeld {
		c.cover.Rejoined = c.cover.Rejoined || n > 1
	}
	return c.cover
}

// observe records what is in flight at Ctrl-C; read is how many lines each
// client had read then.
func (cv *Covered) observe(c *checker, read map[int]int) {
	for _, cl := range c.clients {
		got := c.received[cl.id]
		texts := c.deliveredTexts(got[:min(read[cl.id], len(got))])
		for _, m := range c.messages {
			if slices.Contains(m.must, cl.id) && !cl.disconnected && !texts[m.text] {
				cv.InFlight = true
			}
		}
		if cl.connected && !cl.disconnected && !cl.loggedIn && !cl.refused && !cl.closed && !cl.ended {
			cv.MidLogin = true
		}
	}
}
