package model

// checkEviction: a client may be evicted as too slow only when more lines
// than the bound wait for it. The model counts them itself, from above:
// every line that may have been queued for the client so far, less what it
// had read at the last settle point (it may have read more since, which
// only makes the count larger than the truth). The count the server
// reports is only logged.
func (c *checker) checkEviction(cl *client, reported int) {
	waiting := c.mayHaveQueued(cl) - c.lastRead[cl.id]
	if c.cfg.MaxQueued > 0 && waiting > c.cfg.MaxQueued {
		return
	}
	c.fail(Eviction, "conn %d (%s) was evicted with at most %d lines waiting (the server said %d); the bound is %d",
		cl.id, cl.name, waiting, reported, c.cfg.MaxQueued)
}

// mayHaveQueued counts the lines the server may have queued for cl so far:
// the messages that may reach it, and the answers its lines may get.
func (c *checker) mayHaveQueued(cl *client) int {
	n := 0
	for _, m := range c.messages {
		if m.reaches(cl.id) {
			n++
		}
	}
	for _, l := range cl.lines {
		if l.refusal != "" || l.msg != nil && c.mayAnswer(l.msg) {
			n++
		}
	}
	return n
}
