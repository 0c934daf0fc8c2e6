package chattest

// Running a step: which client it acts on, and what it does.

import (
	"fmt"
	"strings"
	"time"

	"achat/model"
)

// setReading starts or stops client c's reading. To stop, it closes the gate
// and sets a read deadline in the past, which ends a Read in progress: the
// client stops at once, not after one more line.
func (r *run) setReading(c *client, reading bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case reading && c.paused:
		c.conn.SetReadDeadline(time.Time{})
		close(c.gate)
		r.recordLocked(model.Event{Kind: model.Resumed, Conn: c.id})
	case !reading && !c.paused:
		c.gate = make(chan struct{})
		c.conn.SetReadDeadline(time.Now())
		r.recordLocked(model.Event{Kind: model.Paused, Conn: c.id})
	}
	c.paused = !reading
}

func (r *run) who(c *client) string {
	if c.name != "" {
		return fmt.Sprintf("%s (c%d)", c.name, c.id)
	}
	return fmt.Sprintf("c%d", c.id)
}

// do runs one step. Its Client picks, among the clients for which the step
// makes sense now, the one it acts on (see pick); a step that makes sense for
// none (a message when nobody is logged in) does nothing, and is left out of
// the story.
func (r *run) do(s Step) {
	c := r.pick(s)
	switch {
	case s.Kind == Connects && r.freeSlot() >= 0:
		r.connect(r.freeSlot(), false)
	case s.Kind == ConnectsDeaf && r.freeSlot() >= 0:
		r.connect(r.freeSlot(), true)
	case s.Kind == TimePasses && r.opts.Transport == Pipe && r.shutdown == nil:
		time.Sleep(s.Pause) // in the bubble: every timer of the server due meanwhile fires
		r.say("%v pass", s.Pause)
	case s.Kind == AcceptFails && r.opts.AcceptErrors && r.shutdown == nil:
		r.mu.Lock()
		r.failures = s.Count
		r.mu.Unlock()
		r.say("the next %d calls of Accept fail: %v", s.Count, errTooManyFiles.Err)
	case c == nil && s.Kind != CtrlC:
		return
	case s.Kind == LogsIn:
		r.send(c, s.Name)
		r.say("c%d logs in as %s", c.id, s.Name)
	case s.Kind == LogsInAndSends:
		to, text := r.recipients(s), r.nextText()
		r.send(c, s.Name, spell(s, to, text))
		r.say("c%d logs in as %s and, in the same write, -> %s: %s", c.id, s.Name, strings.Join(to, ","), text)
	case s.Kind == Sends:
		to, text := r.recipients(s), r.nextText()
		r.send(c, spell(s, to, text))
		r.say("%s -> %s: %s", r.who(c), strings.Join(to, ","), text)
	case s.Kind == SendsBurst:
		r.sendBurst(c, s)
	case s.Kind == SendsPart:
		r.sendPart(c, s)
	case s.Kind == StopsReading:
		r.setReading(c, false)
		r.say("%s stops reading", r.who(c))
	case s.Kind == ResumesReading:
		r.setPace(c, false)
		r.setReading(c, true)
		r.say("%s reads again, at full speed", r.who(c))
	case s.Kind == ReadsSlowly:
		r.setPace(c, true)
		r.say("%s reads slowly: %d bytes every %v", r.who(c), slowReadBytes, readPause)
	case s.Kind == NeverReads:
		r.setReading(c, false)
		c.forGood = true
		r.say("%s stops reading for good", r.who(c))
	case s.Kind == Disconnects:
		r.disconnect(c)
		r.say("%s disconnects", r.who(c))
	case s.Kind == Leaves:
		r.leave(c)
		r.say("%s leaves: it closes its sending side, and reads on", r.who(c))
	case s.Kind == SendsBad:
		r.sendBad(c, badLines[s.Style])
	case s.Kind == HoldsReader, s.Kind == HoldsLogin:
		r.mu.Lock()
		r.hold = holdState{id: c.id, login: s.Kind == HoldsLogin, armed: true, release: make(chan struct{})}
		r.mu.Unlock()
		what := "its next line"
		if s.Kind == HoldsLogin {
			what = "its login line"
		}
		r.say("the server's reader of %s will be held with %s until Ctrl-C", r.who(c), what)
	case s.Kind == CtrlC && r.shutdown == nil && s.Races:
		r.ctrlCRacing("Ctrl-C")
	case s.Kind == CtrlC && r.shutdown == nil:
		r.ctrlC("Ctrl-C")
	default:
		return // nothing happened: nothing to settle
	}
	switch {
	case s.Rush || s.hurry: // a racing Ctrl-C follows: see ctrlCRacing
		r.mu.Lock()
		r.story[len(r.story)-1] += ", and at once:"
		r.mu.Unlock()
	default:
		r.settle()
	}
}

// pick returns the client step s acts on: of the clients for which s makes
// sense now, in slot order, the one at s.Client modulo their number. So
// nearly every drawn step does something, and shrinking a schedule keeps
// its steps meaningful.
func (r *run) pick(s Step) *client {
	var fit []*client
	for _, c := range r.clients[:r.opts.Clients] {
		if c != nil && !c.left && r.fits(s.Kind, c) {
			fit = append(fit, c)
		}
	}
	if len(fit) == 0 {
		return nil
	}
	return fit[s.Client%len(fit)]
}

func (r *run) fits(kind StepKind, c *client) bool {
	r.mu.Lock()
	talks := !c.quiet && !c.ended // it can send, and the server may still read
	r.mu.Unlock()
	switch kind {
	case LogsIn, LogsInAndSends:
		return !c.loginSent && talks
	case Sends, SendsBurst, SendsBad, SendsPart:
		return c.loginSent && talks
	case Leaves:
		return !c.quiet
	case StopsReading:
		return !c.paused
	case ResumesReading:
		return c.paused && !c.forGood || c.slow
	case ReadsSlowly:
		return !c.paused && !c.slow
	case NeverReads:
		return !c.forGood
	case Disconnects:
		return true
	case HoldsReader, HoldsLogin: // one hold at a time, before Ctrl-C, in a bubble
		ok := talks && r.opts.Transport == Pipe && r.shutdown == nil && r.hold.release == nil
		return ok && c.loginSent == (kind == HoldsReader)
	}
	return false
}

// freeSlot returns a slot with no client, or whose client has left.
func (r *run) freeSlot() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	for slot, c := range r.clients[:r.opts.Clients] {
		if c == nil || c.left || c.quiet || c.ended {
			return slot
		}
	}
	return -1
}

// recipients returns the names a step writes to: each of s.To picks one
// of the names asked for so far, but the largest pick, zed, who never logs in.
func (r *run) recipients(s Step) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	to := make([]string, len(s.To))
	for i, pick := range s.To {
		if pick == maxPick || len(r.asked) == 0 {
			to[i] = unknownName
		} else {
			to[i] = r.asked[pick%len(r.asked)]
		}
	}
	return to
}

func (r *run) nextText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.texts++
	return fmt.Sprintf("m%d", r.texts)
}

func spell(s Step, to []string, text string) string { return styles[s.Style](to, text) }
