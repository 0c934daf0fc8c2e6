package doccheck

// A counterexample drawn as a mermaid sequence diagram, from its trace.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"achat/model"
)

// A Trace is what chattest writes, as JSON lines, to the file that
// CHATTEST_TRACE names (see chat/chattest/trace.go): the failing schedule's
// history up to where Shutdown returned or the bound passed, what each
// client read, and the story's line for that end.
type Trace struct {
	History []model.Event
	Clients []TraceClient
	End     string
}

// TraceClient is a client of a trace: the name it asked for, if any, and
// every line it read.
type TraceClient struct {
	ID   int      `json:"id"`
	Name string   `json:"name"`
	Read []string `json:"read"`
}

// ReadTrace reads a trace file: each line holds an event, a client or the end.
func ReadTrace(r io.Reader) (Trace, error) {
	var tr Trace
	dec := json.NewDecoder(r)
	for {
		var line struct {
			Event  *model.Event `json:"event"`
			Client *TraceClient `json:"client"`
			End    string       `json:"end"`
		}
		err := dec.Decode(&line)
		switch {
		case errors.Is(err, io.EOF):
			return tr, nil
		case err != nil:
			return tr, err
		case line.Event != nil:
			tr.History = append(tr.History, *line.Event)
		case line.Client != nil:
			tr.Clients = append(tr.Clients, *line.Client)
		default:
			tr.End = line.End
		}
	}
}

// sequence replays a counterexample's stored draw with CHATTEST_TRACE set,
// and draws the trace. It never searches: with fresh, the counterexample
// block above it has just stored a new draw, and this draws that one.
func sequence(root string, args []string, _ bool) (string, error) {
	if len(args) != 2 {
		return "", fmt.Errorf("want: sequence CHAPTER TEST")
	}
	dir, err := os.MkdirTemp("", "doccheck-trace")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "trace.jsonl")
	if _, err := replay(root, args[0], args[1], "CHATTEST_TRACE="+path); err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("the replay wrote no trace: %v", err)
	}
	defer f.Close()
	tr, err := ReadTrace(f)
	if err != nil {
		return "", fmt.Errorf("%s: %v", path, err)
	}
	return Sequence(tr), nil
}

// Sequence draws a trace as a mermaid sequence diagram: a lane for each
// client, and lanes for the server's readers, its broker, its writers and
// Shutdown. Times are left out: the diagram tells an order.
//
// The diagram must be the same on every replay, and the history is not
// quite. The harness records its steps in the schedule's order, and lets
// the server settle after each (but a rushed step: a schedule that rushes
// may be drawn, and told, differently from run to run). In between, in a
// synctest bubble, two of the server's goroutines that do not wait for each
// other may record their hooks in either order. So the hooks recorded
// between two of the harness's events are drawn in a fixed order (see
// inFixedOrder); what the clients saw, the lines they read and the
// connections the server closed, is drawn at each settle point, client by
// client; and after the last settle point, while Shutdown finishes, only
// the harness's steps are drawn, then the lines read since, and the end.
func Sequence(tr Trace) string {
	d := newDiagram(tr.Clients)
	last := lastSettled(tr.History)
	var hooks []model.Event // the server's, since the harness's last event
	for i, ev := range tr.History {
		switch {
		case i > last && !byHarness(ev.Kind):
			// racing Shutdown's end: left out
		case isHook(ev.Kind):
			hooks = append(hooks, ev)
		case ev.Kind == model.Closed:
			d.closed[ev.Conn] = true // drawn at the settle point
		case ev.Kind == model.Settled || byHarness(ev.Kind):
			d.events(inFixedOrder(hooks))
			hooks = nil
			d.event(ev)
		}
		// Served, ServeReturned, ShutdownBegan and Ended race the events
		// around them, and say little the diagram does not: left out.
	}
	d.events(inFixedOrder(hooks))
	d.settled(nil)
	d.note(shutdownLane, tr.End)
	return d.String()
}

// isHook reports whether the server's reader or broker records events of
// this kind (Held: the harness, in the reader's goroutine).
func isHook(kind model.Kind) bool {
	switch kind {
	case model.LoggedIn, model.Accepted, model.Routed, model.LoggedOut, model.Evicted, model.Held:
		return true
	}
	return false
}

// inFixedOrder orders hooks that the server recorded between two of the
// harness's events. A goroutine records its own in order, but a reader and
// the broker do not always wait for each other: in chapter shutdown a
// reader may accept its next line before or after the broker logs it in,
// and both orders get recorded. Such a pair is drawn in one order: a
// reader's hook after the broker's LoggedIn, or its Routed of another
// message, neither of which can have waited for it.
func inFixedOrder(hooks []model.Event) []model.Event {
	out := slices.Clone(hooks)
	for moved := true; moved; { // each move takes a reader's hook past one of the broker's: it ends
		moved = false
		for i := 0; i+1 < len(out); i++ {
			if mayFollow(out[i], out[i+1]) {
				out[i], out[i+1] = out[i+1], out[i]
				moved = true
			}
		}
	}
	return out
}

// mayFollow reports whether a, a reader's hook, may be drawn after b, the
// broker's, though recorded before it: b cannot have waited for a. (An
// eviction or a logout may have: the line a accepted can cause it.)
func mayFollow(a, b model.Event) bool {
	byReader := a.Kind == model.Accepted || a.Kind == model.Held
	return byReader && (b.Kind == model.LoggedIn || b.Kind == model.Routed && b.Text != a.Text)
}

func (d *diagram) events(evs []model.Event) {
	for _, ev := range evs {
		d.event(ev)
	}
}

// The server's lanes, in their order after the clients'.
const (
	readersLane  = "readers"
	brokerLane   = "broker"
	writersLane  = "writers"
	shutdownLane = "Shutdown"
)

// diagram is a sequence diagram being drawn.
type diagram struct {
	clients []TraceClient
	lines   []string        // the diagram's body, in order
	used    map[string]bool // the lanes the body uses: only they are declared
	read    map[int]int     // client id -> how many of its lines are drawn
	closed  map[int]bool    // the clients whose connection the server closed, not drawn yet
}

func newDiagram(clients []TraceClient) *diagram {
	return &diagram{clients: clients, used: map[string]bool{}, read: map[int]int{}, closed: map[int]bool{}}
}

// lastSettled returns the index of the last settle point, or -1.
func lastSettled(history []model.Event) int {
	for i, ev := range slices.Backward(history) {
		if ev.Kind == model.Settled {
			return i
		}
	}
	return -1
}

// byHarness reports whether the harness records events of this kind itself,
// as it runs the schedule's steps one after the other.
func byHarness(kind model.Kind) bool {
	switch kind {
	case model.Connected, model.Sent, model.Disconnected, model.Left, model.Paused, model.Resumed,
		model.Interrupted, model.Released:
		return true
	}
	return false
}

// event draws one event, if it is one the diagram shows.
func (d *diagram) event(ev model.Event) {
	c := lane(ev.Conn)
	switch ev.Kind {
	case model.Connected:
		d.arrow(c, "->>", readersLane, "connects")
	case model.Sent:
		d.arrow(c, "->>", readersLane, lineLabel(ev.Line))
	case model.Disconnected:
		d.arrow(c, "-x", readersLane, "disconnects")
	case model.Left:
		d.arrow(c, "->>", readersLane, "ends its input, reads on")
	case model.Paused:
		d.note(c, "stops reading")
	case model.Resumed:
		d.note(c, "reads again")
	case model.LoggedIn:
		d.arrow(readersLane, "->>", brokerLane, "logs in "+c+" as "+ev.Name)
	case model.Accepted:
		d.arrow(readersLane, "->>", brokerLane, "accepts "+ev.Name+" -> "+strings.Join(ev.To, ",")+": "+ev.Text)
	case model.Routed:
		d.arrow(brokerLane, "->>", writersLane, "routes "+ev.Text+" from "+ev.Name)
	case model.LoggedOut:
		d.note(brokerLane, "logs out "+ev.Name+" ("+c+")")
	case model.Evicted:
		d.note(brokerLane, fmt.Sprintf("evicts %s (%s): %d lines waiting", ev.Name, c, ev.Count))
	case model.Held:
		d.note(readersLane, "the reader of "+d.who(ev.Conn)+" is held")
	case model.Released:
		d.note(readersLane, "the held reader goes on")
	case model.Interrupted:
		d.note(shutdownLane, "Ctrl-C")
	case model.Settled:
		d.settled(ev.Read)
	}
}

// settled draws, client by client, the lines it read up to read[id] (all
// of them, if read is nil), then that the server closed its connection.
func (d *diagram) settled(read map[int]int) {
	for _, c := range d.clients {
		upTo := len(c.Read)
		if read != nil {
			upTo = min(read[c.ID], upTo)
		}
		for _, line := range c.Read[min(d.read[c.ID], upTo):upTo] {
			d.arrow(writersLane, "->>", lane(c.ID), lineLabel(line))
		}
		d.read[c.ID] = max(d.read[c.ID], upTo)
		if d.closed[c.ID] {
			d.note(lane(c.ID), "the server closed the connection")
			delete(d.closed, c.ID)
		}
	}
}

func (d *diagram) arrow(from, arrow, to, text string) {
	d.used[from], d.used[to] = true, true
	d.lines = append(d.lines, from+arrow+to+": "+escape(text))
}

func (d *diagram) note(over, text string) {
	d.used[over] = true
	d.lines = append(d.lines, "Note over "+over+": "+escape(text))
}

// String is the diagram: the lanes it uses, then its body.
func (d *diagram) String() string {
	var b strings.Builder
	b.WriteString("sequenceDiagram\n")
	for _, c := range d.clients {
		if d.used[lane(c.ID)] {
			fmt.Fprintf(&b, "    participant %s\n", aliased(lane(c.ID), d.who(c.ID)))
		}
	}
	for _, l := range []string{readersLane, brokerLane, writersLane, shutdownLane} {
		if d.used[l] {
			fmt.Fprintf(&b, "    participant %s\n", l)
		}
	}
	for _, line := range d.lines {
		b.WriteString("    " + line + "\n")
	}
	return b.String()
}

// aliased declares a lane by its id, shown as who if that differs.
func aliased(id, who string) string {
	if who == id {
		return id
	}
	return id + " as " + escape(who)
}

// lane is a client's lane: c0, c1, ...
func lane(id int) string { return "c" + strconv.Itoa(id) }

// who names a client as the story does: "alice (c0)", or "c0" before it
// asked for a name.
func (d *diagram) who(id int) string {
	for _, c := range d.clients {
		if c.ID == id && c.Name != "" {
			return c.Name + " (" + lane(id) + ")"
		}
	}
	return lane(id)
}

// maxLabel bounds a line shown whole: a line too long to be read is
// thousands of bytes.
const maxLabel = 60

// lineLabel shows a line as sent or read: quoted if spaces at its ends, or
// bytes that do not print, would not show otherwise; cut if it is long.
func lineLabel(line string) string {
	if len(line) > maxLabel {
		start := strings.ToValidUTF8(line[:maxLabel/2], "") // not half a rune
		return fmt.Sprintf("%s... (%d bytes)", lineLabel(start), len(line))
	}
	hidden := func(r rune) bool { return !unicode.IsPrint(r) || r == utf8.RuneError }
	if strings.TrimSpace(line) != line || strings.ContainsFunc(line, hidden) {
		return strconv.Quote(line)
	}
	return line
}

// escape writes, as mermaid's entity codes, the characters that end a
// message's text in mermaid (# and ;), and the < that could start HTML.
func escape(text string) string {
	return strings.NewReplacer("#", "#35;", ";", "#59;", "<", "#60;").Replace(text)
}
