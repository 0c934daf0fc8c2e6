package chattest

// Ctrl-C, and the holds: a reader of the server held where a goroutine can be
// descheduled at the worst moment, until Ctrl-C has done what it can.

import (
	"context"
	"fmt"
	"net"
	"slices"
	"testing/synctest"
	"time"

	"achat/chat/protocol"
	"achat/model"
)

// holdState is the HoldsReader and HoldsLogin steps: the server's reader of
// client id is held, with a line, until release is closed.
type holdState struct {
	id      int
	login   bool          // held in its Read of the login line, not in the Accepted hook
	armed   bool          // the next line from id is held
	held    bool          // a line is held now
	release chan struct{} // closed to let it go
}

// accepted records the message, then holds the reader if a HoldsReader step
// asked for it. Holding a goroutine here is a schedule the server must
// survive anyway: a reader can be descheduled at this very point.
func (r *run) accepted(conn net.Conn, from string, msg protocol.Message) {
	id := r.idOf(conn)
	r.record(model.Event{Kind: model.Accepted, Conn: id, Name: from, To: msg.To, Text: msg.Text})
	r.holdIfArmed(id, false)
	r.interruptIfArmed(msg.Text)
}

// interrupt is a racing Ctrl-C (Step.Races) waiting for the server to
// accept a line.
type interrupt struct {
	taken    bool
	text     string        // what was accepted
	accepted chan struct{} // a token once a line is accepted
	resume   chan struct{} // closed once shutdown has begun
}

// interruptIfArmed holds the reader that just accepted text until shutdown
// has begun, if a racing Ctrl-C waits for it: Ctrl-C lands while the
// message is accepted and not yet handed over, routed or written.
func (r *run) interruptIfArmed(text string) {
	r.mu.Lock()
	ic := r.interrupt
	if ic == nil || ic.taken {
		r.mu.Unlock()
		return
	}
	ic.taken, ic.text = true, text
	r.mu.Unlock()
	ic.accepted <- struct{}{} // buffered: the only send
	<-ic.resume
}

// ctrlCRacing is a Ctrl-C that comes as soon as the server accepts a line
// that was sent before it, while the reader that accepted it is held:
// nothing of that line is routed or written yet. In a bubble the rest of the
// server settles first, so that the race is the same when rapid replays it.
// With no line on its way, it is a Ctrl-C after the server settled.
func (r *run) ctrlCRacing(what string) {
	ic := &interrupt{accepted: make(chan struct{}, 1), resume: make(chan struct{})}
	r.mu.Lock()
	onItsWay := !r.acceptedAllLocked()
	if onItsWay {
		r.interrupt = ic
	}
	r.mu.Unlock()
	if !onItsWay {
		r.settle()
		r.ctrlC(what)
		return
	}
	if r.opts.Transport == Pipe {
		// The line is accepted, and its reader held, or it never will be
		// without time passing: a timer here would let the server's clocks
		// run.
		r.waitBubble()
	} else {
		select {
		case <-ic.accepted:
		case <-time.After(acceptGuard):
		}
	}
	r.mu.Lock()
	r.interrupt = nil
	text := ic.text
	r.mu.Unlock()
	if text != "" {
		what += fmt.Sprintf(", as the server accepts %s", text)
	}
	r.ctrlC(what)
	if r.opts.Transport == Pipe {
		synctest.Wait() // Shutdown has begun: it is blocked, waiting for the held reader
	} else {
		r.waitFor(model.ShutdownBegan)
	}
	close(ic.resume) // the only close: the held reader, if any, goes on
}

// acceptGuard bounds the wait of a racing Ctrl-C for a line to be accepted.
const acceptGuard = time.Second

// waitFor waits, for acceptGuard at most, until an event of kind is recorded.
func (r *run) waitFor(kind model.Kind) {
	guard := time.After(acceptGuard)
	for {
		r.mu.Lock()
		found := slices.ContainsFunc(r.history, func(ev model.Event) bool { return ev.Kind == kind })
		r.mu.Unlock()
		if found {
			return
		}
		select {
		case <-r.changed:
		case <-guard:
			return
		}
	}
}

// acceptedAllLocked reports whether every message line sent by a client the
// server logged in, and still reads, has been accepted.
func (r *run) acceptedAllLocked() bool {
	loggedIn, owed := map[int]bool{}, map[int]int{}
	for _, ev := range r.history {
		switch ev.Kind {
		case model.LoggedIn:
			loggedIn[ev.Conn] = true
		case model.Evicted, model.Closed, model.Disconnected: // its reader stops where it is
			loggedIn[ev.Conn] = false
		case model.Sent:
			if _, err := protocol.ParseMessage(ev.Line); err == nil && !isTooLong(ev.Line) {
				owed[ev.Conn]++
			}
		case model.Accepted:
			owed[ev.Conn]--
		}
	}
	for conn, n := range owed {
		if loggedIn[conn] && n > 0 {
			return false
		}
	}
	return true
}

// holdIfArmed holds the calling goroutine, a reader of the server, if a hold
// of this kind is armed for client id, until Ctrl-C releases it.
func (r *run) holdIfArmed(id int, login bool) {
	r.mu.Lock()
	hold := r.hold.armed && r.hold.id == id && r.hold.login == login
	if hold {
		r.hold.armed, r.hold.held = false, true
		r.recordLocked(model.Event{Kind: model.Held, Conn: id})
	}
	release := r.hold.release
	r.mu.Unlock()
	if hold {
		<-release
	}
}

// ctrlC starts Shutdown with the drain deadline, as main does at SIGINT. If a
// reader is held, it is let go once Shutdown has got as far as it can.
func (r *run) ctrlC(what string) {
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.DrainDeadline)
	r.cancel = cancel
	r.shutdown = make(chan error, 1)
	r.record(model.Event{Kind: model.Interrupted})
	r.goers.Go(func() { // ends when Shutdown returns
		err := r.srv.Shutdown(ctx)
		r.exited.Store(true) // main returns: the process exits
		r.shutdown <- err
	})
	r.say("%s", what)
	r.mu.Lock()
	held := r.hold.held || r.hold.armed
	r.mu.Unlock()
	if held {
		r.releaseHold()
	}
}

func (r *run) releaseHold() {
	if r.opts.Transport == Pipe {
		synctest.Wait() // Shutdown has done all it can without the held reader
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hold.release != nil && (r.hold.held || r.hold.armed) {
		close(r.hold.release)
		if r.hold.held {
			r.recordLocked(model.Event{Kind: model.Released, Conn: r.hold.id})
			r.story = append(r.story, "the held reader goes on")
		}
	}
	r.hold = holdState{}
}
