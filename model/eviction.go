package model

import "slices"

// checkEviction: a client may be evicted as too slow only when more lines,
// or more bytes, than the bounds wait for it. The model counts them itself,
// from above: every line that may have been queued for the client so far,
// less what it had read at the last settle point (it may have read more
// since, which only makes the count larger than the truth). The count the
// server reports is only logged.
//
// Over connections that buffer (TCP), the harness cannot see when the
// server's counts drop. Lines leave the count when the writer takes them
// from the queue, before it writes them; the model takes off what the
// client had read at the settle point before the last. Bytes (chapter
// limits) leave it only after the write returns, and nothing a client sees
// follows that: a writer descheduled there keeps them counted, for any
// number of steps. So over TCP the model takes no bytes off at all: what
// may have been queued is the count. (A soak found the old rule, one
// settle step for the writer, wrong: two error lines of 62 bytes, the
// first read two settle points before the second was queued, and the
// server still counted both, 124 over 120.) In a bubble, a settle point
// comes after every writer is done, and both counts are exact.
func (c *checker) checkEviction(cl *client, reported int) {
	lines, bytes := c.mayHaveQueued(cl)
	readThen := c.lastRead
	if !c.cfg.Unbuffered {
		readThen = c.priorRead
	}
	read := c.received[cl.id][:min(readThen[cl.id], len(c.received[cl.id]))]
	lines -= len(read)
	if c.cfg.Unbuffered {
		for _, line := range read {
			bytes -= len(line) + 1
		}
	}
	if c.cfg.MaxQueued > 0 && lines > c.cfg.MaxQueued || c.cfg.MaxQueuedBytes > 0 && bytes > c.cfg.MaxQueuedBytes {
		return
	}
	c.fail(Eviction, "conn %d (%s) was evicted with at most %d lines, %d bytes waiting (the server said %d lines); the bounds are %d lines, %d bytes",
		cl.id, cl.name, lines, bytes, reported, c.cfg.MaxQueued, c.cfg.MaxQueuedBytes)
}

// mayHaveQueued counts the lines the server may have queued for cl so far,
// and their bytes: the messages that may reach it, and the answers its lines
// may get, at their longest.
func (c *checker) mayHaveQueued(cl *client) (lines, bytes int) {
	for _, m := range c.messages {
		if m.reaches(cl.id) {
			lines, bytes = lines+1, bytes+len(m.delivery())+1
		}
	}
	for _, l := range cl.lines {
		switch {
		case l.refusal != "":
			lines, bytes = lines+1, bytes+len(l.refusal)+1
		case l.msg != nil && c.mayAnswer(l.msg):
			lines, bytes = lines+1, bytes+len(errNotLoggedIn(l.msg.to))+1
		}
	}
	return lines, bytes
}

// checkLinesBound: over connections that hold nothing in transit, the
// messages routed to a client and not read by it all wait in the server,
// in its queue or in the batch that its writer took from the queue and is
// writing. The bound counts the queue only, and the writer took at most a
// queue's worth: more than twice the bound, and the client must have been
// evicted. (Answers wait there too; leaving them out only makes the count
// smaller.)
func (c *checker) checkLinesBound(cl *client, got []string) {
	if !c.cfg.Unbuffered || c.cfg.MaxQueued == 0 || !cl.loggedIn || cl.departed || cl.closed ||
		cl.clockFailed {
		return
	}
	if waiting, _ := c.routedUnread(cl, got); waiting > 2*c.cfg.MaxQueued {
		cl.clockFailed = true
		c.fail(Eviction, "%d lines waited for conn %d (%s) when the server settled: more than its queue and its writer's batch can hold, %d lines each",
			waiting, cl.id, cl.name, c.cfg.MaxQueued)
	}
}

// routedUnread counts the messages routed to cl that it has not read (got
// is what it has), and their bytes.
func (c *checker) routedUnread(cl *client, got []string) (lines, bytes int) {
	read := c.deliveredTexts(got)
	for _, m := range c.messages {
		if m.routed && slices.Contains(m.must, cl.id) && !read[m.text] {
			lines, bytes = lines+1, bytes+len(m.delivery())+1
		}
	}
	return lines, bytes
}
