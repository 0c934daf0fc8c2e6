package chattest

import (
	"fmt"
	"strings"

	"pgregory.net/rapid"

	"achat/chat/protocol"
)

// A schedule is what clients, and the operator, do to a server, one step at a
// time. rapid draws it as data, then the harness runs it; when a property
// fails, rapid shrinks the schedule to a shortest one that still fails, and
// the harness prints it as a story.

// StepKind is what a step does.
type StepKind int

const (
	Connects       StepKind = iota // the client opens a connection
	LogsIn                         // it sends its login line (once)
	Sends                          // it sends one message
	SendsBurst                     // it sends several messages in one write, perhaps with a bad line among them
	StopsReading                   // it stops reading its connection
	ResumesReading                 // it reads again
	NeverReads                     // it stops reading for good: the drain deadline must cut it off
	Disconnects                    // it closes its connection
	HoldsReader                    // the server's reader is held with the client's next line until Ctrl-C
	CtrlC                          // shutdown begins
	Leaves                         // it closes its sending side, and reads on
	SendsBad                       // it sends a line that is not a message
	LogsInAndSends                 // it sends its login line and a message in one write
)

var stepNames = [...]string{
	Connects: "connects", LogsIn: "logs-in", Sends: "sends", SendsBurst: "sends-burst",
	StopsReading: "stops-reading", ResumesReading: "resumes-reading", NeverReads: "never-reads",
	Disconnects: "disconnects", HoldsReader: "holds-reader", CtrlC: "ctrl-c",
	Leaves: "leaves", SendsBad: "sends-bad", LogsInAndSends: "logs-in-and-sends",
}

func (k StepKind) String() string { return stepNames[k] }

// AllSteps is every kind of step, the likelier ones repeated: a kind is
// drawn as often as it appears. rapid draws the ends of a list more often,
// and shrinks towards its start, so connecting and sending stand there.
var AllSteps = []StepKind{
	Connects, LogsIn, Sends, SendsBurst, StopsReading, ResumesReading, CtrlC,
	NeverReads, Disconnects, HoldsReader, Leaves, SendsBad, LogsInAndSends, LogsIn, Connects,
	Sends, Sends,
}

// Step is one step of a schedule.
type Step struct {
	Kind   StepKind
	Client int      // which client: see run.pick
	Name   string   // LogsIn, LogsInAndSends
	To     []string // Sends, SendsBurst, LogsInAndSends: the recipients as written, repeats and unknowns included
	Style  int      // Sends, SendsBurst: how the line is spelled (see spell); SendsBad: which bad line
	Count  int      // SendsBurst
	Bad    bool     // SendsBurst: a bad line (badLines[0]) comes after the first half of the messages
	// Rush: the next step follows at once. Otherwise the harness lets the
	// server settle after the step, so that the schedule, not the Go
	// scheduler, decides what happens before what, and a failing schedule
	// fails again when rapid replays it.
	Rush bool
}

const clientSlots = 4

var (
	loginNames     = []string{"alice", "bob", "carol"}
	recipientNames = []string{"alice", "bob", "carol", "zed"} // zed never logs in
)

// schedule is what rapid draws: the steps, and the number of the first
// message, so that texts differ from one schedule to the next (a bug that
// depends on a text has more to find) and shrink back to m1 otherwise.
type schedule struct {
	FirstText int
	Steps     []Step
}

// scheduleGen draws schedules of up to opts.MaxSteps steps. The length is
// drawn first: rapid's own slices average about six elements, too few for
// clients to log in, talk, and be interrupted.
func scheduleGen(opts Options) *rapid.Generator[schedule] {
	step := stepGen(opts.Steps, opts.Clients, !opts.NoRush)
	return rapid.Custom(func(t *rapid.T) schedule {
		first := rapid.IntRange(1, 1_000_000).Draw(t, "first text")
		n := rapid.IntRange(1, opts.MaxSteps).Draw(t, "length")
		return schedule{first, rapid.SliceOfN(step, n, n).Draw(t, "steps")}
	})
}

// stepGen draws steps of the given kinds, for the first clients slots, some
// of them rushed if rush is set.
func stepGen(kinds []StepKind, clients int, rush bool) *rapid.Generator[Step] {
	return rapid.Custom(func(t *rapid.T) Step {
		s := Step{
			Kind:   rapid.SampledFrom(kinds).Draw(t, "kind"),
			Client: rapid.IntRange(0, clients-1).Draw(t, "client"),
		}
		if rush {
			s.Rush = rapid.IntRange(0, 3).Draw(t, "rush") == 3 // shrinks to false
		}
		if s.Kind == LogsIn || s.Kind == LogsInAndSends {
			s.Name = rapid.SampledFrom(loginNames).Draw(t, "name")
		}
		switch s.Kind {
		case Sends, SendsBurst, LogsInAndSends:
			s.To = rapid.SliceOfN(rapid.SampledFrom(recipientNames), 1, 4).Draw(t, "to")
			s.Style = rapid.IntRange(0, len(styles)-1).Draw(t, "style")
			if s.Kind == SendsBurst {
				s.Count = rapid.IntRange(2, 20).Draw(t, "count")
				s.Bad = rapid.IntRange(0, 3).Draw(t, "bad line in it") == 3 // shrinks to false
			}
		case SendsBad:
			s.Style = rapid.IntRange(0, len(badLines)-1).Draw(t, "bad line")
		}
		return s
	})
}

// styles spell a message line in the ways a user might type it.
var styles = []func(to []string, text string) string{
	func(to []string, text string) string { return strings.Join(to, ", ") + ": " + text },
	func(to []string, text string) string { return strings.Join(to, ",") + ":" + text },
	func(to []string, text string) string { return " " + strings.Join(to, " ,, ") + " :  " + text + " \r" },
	func(to []string, text string) string { return to[0] + "," + strings.Join(to, ",") + ": " + text },
}

func spell(s Step, text string) string { return styles[s.Style](s.To, text) }

// badLines are lines that are not messages; the last one is too long to be
// read, and ends the server's reading of its connection.
var badLines = []string{
	"no colon here",
	" , : no recipient",
	"bob: not UTF-8 \xff",
	strings.Repeat("x", protocol.MaxLineBytes+100) + ": far too long",
}

func isTooLong(line string) bool { return len(line) > protocol.MaxLineBytes+1 }

// GoString prints a step compactly where rapid prints the drawn schedule.
func (s Step) GoString() string {
	out := fmt.Sprintf("#%d %v", s.Client, s.Kind)
	switch s.Kind {
	case LogsIn:
		out += " " + s.Name
	case Sends, SendsBurst, LogsInAndSends:
		if s.Kind == LogsInAndSends {
			out += " " + s.Name
		}
		out += fmt.Sprintf(" to %s (style %d", strings.Join(s.To, ","), s.Style)
		if s.Kind == SendsBurst {
			out += fmt.Sprintf(", %d messages", s.Count)
			if s.Bad {
				out += ", a bad line"
			}
		}
		out += ")"
	case SendsBad:
		out += fmt.Sprintf(" %d", s.Style)
	}
	if s.Rush {
		out += ", rushed"
	}
	return out
}
