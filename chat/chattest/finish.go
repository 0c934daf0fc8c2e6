package chattest

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.uber.org/goleak"

	"achat/model"
)

// finish ends a schedule as a user ends a program: Ctrl-C if it has not come
// yet, every client reading again (but those that stopped for good), then
// Shutdown must return within the bound. When it returns the "process"
// exits (see ctrlC): the server's writes fail from then on. Then what the
// clients received is checked against the model.
func (r *run) finish(endRaces bool) []model.Violation {
	if r.shutdown == nil && endRaces {
		r.ctrlCRacing("Ctrl-C (at the end)")
		r.settle()
	} else if r.shutdown == nil {
		r.ctrlC("Ctrl-C (at the end)")
		r.settle() // as after any step: Shutdown goes as far as it can first
	}
	r.releaseHold()
	r.readAgain(false)
	err, returned := r.waitShutdown()
	if !returned {
		r.sayEnd("Shutdown has not returned %v after Ctrl-C", r.opts.Bound)
		return []model.Violation{{Property: Termination, Detail: r.opts.Bound.String()}}
	}
	var violations []model.Violation
	if err != nil {
		r.sayEnd("Shutdown returned: %v", err)
		if !r.anyForGood() {
			violations = append(violations, model.Violation{Property: Drain, Detail: err.Error()})
		}
	} else {
		r.sayEnd("Shutdown returned")
	}
	r.readAgain(true) // what a client that stopped for good can still read is excused, not checked
	open := r.drainClients()
	// A chapter that leaks leaves goroutines behind after every schedule,
	// and goleak reads them all each time: a hunt for another bug skips it.
	if r.opts.focus != "" && r.opts.focus != Leak {
		r.say("(no leak check)")
	} else if leak := r.leaks(open); leak != "" {
		violations = append(violations, model.Violation{Property: Leak, Detail: leak})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	received, reading := map[int][]string{}, map[int]bool{}
	for _, c := range r.all {
		if c.conn != nil {
			received[c.id] = c.lines
			reading[c.id] = !c.left && !c.forGood
		}
	}
	r.covered = model.Cover(r.history, received)
	return append(violations, model.Check(r.history, received, reading, r.modelConfig())...)
}

// sayEnd tells how Shutdown ended, and marks the end of the trace (see
// writeTrace): what the history records after it is cleanup, whose events
// come in no fixed order.
func (r *run) sayEnd(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.end = fmt.Sprintf(format, args...)
	r.endAt = len(r.history)
	r.story = append(r.story, r.end)
}

// anyForGood reports whether a client stopped reading for good: only it
// may make Shutdown wait for its drain deadline.
func (r *run) anyForGood() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.all, func(c *client) bool { return c.forGood && !c.left })
}

func (r *run) readAgain(forGoodToo bool) {
	for _, c := range r.all {
		if !c.left && (forGoodToo || !c.forGood) {
			r.setReading(c, true)
		}
	}
}

// waitShutdown waits up to the bound (fake time in a bubble) for Shutdown.
func (r *run) waitShutdown() (error, bool) {
	select {
	case err := <-r.shutdown:
		r.shutdown <- err // for cleanup
		return err, true
	case <-time.After(r.opts.Bound):
		return nil, false
	}
}

// harnessGoroutines are this package's own, which may still run at the end.
var harnessGoroutines = []goleak.Option{
	goleak.IgnoreAnyFunction("achat/chat/chattest.(*run).readLoop"),
	goleak.IgnoreAnyFunction("achat/chat/chattest.writeLoop"),
}

// drainClients lets every client read what the server wrote before it
// stopped, and returns the clients whose connection it accepted and has not
// closed. A TCP connection that the kernel completed while the listener was
// closing may never reach Accept, and Linux may drop it without a reset: its
// client then waits for ever, but no server could have closed it.
func (r *run) drainClients() (open []string) {
	if r.opts.Transport == Pipe {
		r.waitBubble() // every client has read all it can
	}
	deadline := time.After(r.opts.SettleGuard) // TCP: wait for the ends to arrive
	for {
		open = nil
		r.mu.Lock()
		for _, c := range r.all {
			if !c.left && !c.ended && r.seen[c.key] {
				open = append(open, r.who(c))
			}
		}
		r.mu.Unlock()
		if len(open) == 0 || r.opts.Transport == Pipe {
			return open
		}
		select {
		case <-r.changed:
		case <-deadline:
			return open
		}
	}
}

// leaks says what of the server outlived Shutdown: goroutines, then the
// connections it left open.
func (r *run) leaks(open []string) string {
	opts := append([]goleak.Option{r.before}, harnessGoroutines...)
	// Over TCP, goleak retries for a while: a goroutine may be ending.
	if err := goleak.Find(opts...); err != nil {
		r.say("goroutines of the server still run after Shutdown returned")
		return summarizeLeak(err)
	}
	if len(open) > 0 {
		r.say("the connections of %s are still open after Shutdown returned", strings.Join(open, ", "))
		return "open connections: " + strings.Join(open, ", ")
	}
	return ""
}

// leakTop matches goleak's "[Goroutine 7 in state chan receive, with
// pkg.F on top of the stack:" line.
var leakTop = regexp.MustCompile(`Goroutine \d+ in state ([^\n]*?), with (\S+) on top`)

// summarizeLeak keeps the state and top function of each leaked goroutine:
// goroutine ids and addresses differ from run to run.
func summarizeLeak(err error) string {
	var tops []string
	for _, m := range leakTop.FindAllStringSubmatch(err.Error(), -1) {
		tops = append(tops, m[2]+" ("+m[1]+")")
	}
	slices.Sort(tops) // goleak lists them in no particular order
	return fmt.Sprintf("%d goroutines: %s", len(tops), strings.Join(tops, ", "))
}

// cleanup frees whatever the server left blocked: it closes every
// connection at both ends and waits, boundedly, for the harness's goroutines
// and the server's Shutdown and Serve.
func (r *run) cleanup() {
	r.exited.Store(true)
	r.mu.Lock()
	for _, conn := range r.conns {
		conn.Close()
	}
	clients := r.all
	r.mu.Unlock()
	for _, c := range clients {
		if c.conn != nil {
			c.conn.Close()
			r.setReading(c, true)
			r.closeOutbox(c)
		}
	}
	for _, c := range clients {
		c.done.Wait()
	}
	if r.cancel != nil {
		r.cancel()
	}
	done := make(chan struct{})
	go func() { r.goers.Wait(); close(done) }() // ends when Serve and Shutdown have returned
	select {
	case <-done:
	case <-time.After(r.opts.Bound): // they never will: the bubble, or goleak, reports it
	}
}

var _ net.Conn = (*serverConn)(nil)
