package chattest

import (
	"slices"
	"testing/synctest"
	"time"

	"achat/model"
)

// settle waits until the server has nothing left to do with what it was
// given, and records it: from then on the model judges what the server owed
// (see model.Pending).
func (r *run) settle() {
	if r.opts.Transport == Pipe {
		r.settlePipe()
	} else {
		r.settleTCP()
	}
}

// settlePipe: in a bubble the server has settled when every goroutine is
// durably blocked. A slow reader asleep between two reads is durably
// blocked too, so fake time is let pass until none is.
func (r *run) settlePipe() {
	r.waitBubble()
	// A server pausing between failed Accepts (AcceptFails) is durably
	// blocked too: fake time runs until it has taken what waits for it.
	for range maxAcceptPauses {
		if r.listenerIdle() {
			break
		}
		time.Sleep(acceptPause)
		r.waitBubble()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hold.held && !r.hold.login {
		return // a held line is accepted but not routed yet: nothing is settled
	}
	r.recordLocked(model.Event{Kind: model.Settled, Read: r.readLocked()})
}

// A server that retries Accept pauses at most 1 s between two tries (net/http's
// rule), and failures in a row add up: settlePipe lets fake time run for up
// to 10 s, a step at a time.
const (
	acceptPause     = 50 * time.Millisecond
	maxAcceptPauses = 200
)

// listenerIdle reports whether no connection waits for the server to take
// it, or the server has stopped serving.
func (r *run) listenerIdle() bool {
	return r.pipes.Waiting() == 0 || len(r.served) > 0
}

// waitBubble returns once every goroutine of the bubble is durably blocked,
// and no slow reader is asleep between two reads.
func (r *run) waitBubble() {
	for synctest.Wait(); r.sleepers.Load() > 0; synctest.Wait() {
		time.Sleep(readPause)
	}
}

// settleTCP: over TCP the harness cannot see the server's goroutines, so it
// asks the model what the server still owes the clients, from what they
// sent and read, and waits until that is nothing. If Options.SettleGuard passes
// first, it records the settle point anyway: the model then reports what was
// still owed, as a failure. After Ctrl-C nothing is owed any more, and the
// harness cannot know when the server has done all it will do.
func (r *run) settleTCP() {
	if r.shutdown != nil {
		return
	}
	deadline := time.After(r.opts.SettleGuard)
	for {
		r.mu.Lock()
		received := r.receivedLocked()
		owed := r.claimed(model.Pending(r.history, received, r.modelConfig()))
		if len(owed) == 0 || deadline == nil || r.unsettled {
			r.recordLocked(model.Event{Kind: model.Settled, Read: r.readLocked()})
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		select {
		case <-r.changed:
		case <-deadline:
			r.say("the server had not settled %v after the step: %s", r.opts.SettleGuard, owed[0])
			deadline = nil
			r.unsettled = true // the schedule fails: the next settle points need not wait
		}
	}
}

// claimed drops the violations of properties the chapter does not claim.
func (r *run) claimed(violations []model.Violation) []model.Violation {
	return slices.DeleteFunc(violations, func(v model.Violation) bool {
		return slices.Contains(r.opts.Unclaimed, v.Property)
	})
}

func (r *run) modelConfig() model.Config {
	return model.Config{
		MaxQueued: r.opts.MaxQueued, MaxQueuedBytes: r.opts.MaxQueuedBytes, MaxConns: r.opts.MaxConns,
		LoginTimeout: r.opts.LoginTimeout, WriteTimeout: r.opts.WriteTimeout,
		Unbuffered: r.opts.Transport == Pipe, DrainDeadline: r.opts.DrainDeadline,
	}
}
