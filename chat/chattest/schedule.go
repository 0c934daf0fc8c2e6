package chattest

import (
	"fmt"
	"slices"
	"strings"
	"time"

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
	Waits          StepKind = iota // nothing happens: what a step that does not matter shrinks to
	Connects                       // the client opens a connection
	LogsIn                         // it sends its login line (once)
	Sends                          // it sends one message
	SendsBurst                     // it sends several messages in one write, perhaps with a bad line among them
	StopsReading                   // it stops reading its connection
	ResumesReading                 // it reads again, at full speed
	NeverReads                     // it stops reading for good: the drain deadline must cut it off
	Disconnects                    // it closes its connection
	HoldsReader                    // the server's reader is held with the client's next line until Ctrl-C
	CtrlC                          // shutdown begins
	Leaves                         // it closes its sending side, and reads on
	SendsBad                       // it sends a line that is not a message
	LogsInAndSends                 // it sends its login line and a message in one write
	SendsPart                      // it sends the start of a message line; the rest comes with its next line
	HoldsLogin                     // the server's reader is held with the client's login line until Ctrl-C
	ReadsSlowly                    // it reads a little at a time, steadily
	TimePasses                     // fake time passes: the server's clocks run (in a bubble, before Ctrl-C)
	AcceptFails                    // the listener's next Accepts fail, as when the process is out of files
	ConnectsDeaf                   // a client opens a connection, and does not read it
)

var stepNames = [...]string{
	Waits: "waits", Connects: "connects", LogsIn: "logs-in", Sends: "sends", SendsBurst: "sends-burst",
	StopsReading: "stops-reading", ResumesReading: "resumes-reading", NeverReads: "never-reads",
	Disconnects: "disconnects", HoldsReader: "holds-reader", CtrlC: "ctrl-c",
	Leaves: "leaves", SendsBad: "sends-bad", LogsInAndSends: "logs-in-and-sends",
	SendsPart: "sends-part", HoldsLogin: "holds-login", ReadsSlowly: "reads-slowly",
	TimePasses: "time-passes", AcceptFails: "accept-fails", ConnectsDeaf: "connects-deaf",
}

func (k StepKind) String() string { return stepNames[k] }

// AllSteps is every kind of step, the likelier ones repeated: a kind is
// drawn as often as it appears. rapid draws the start of a list more often,
// and shrinks towards it: Waits stands first, so that a step that does not
// matter to a failure shrinks to nothing, and sending comes next.
var AllSteps = []StepKind{
	Waits, Sends, Connects, LogsIn, SendsBurst, StopsReading, ResumesReading, CtrlC,
	NeverReads, Disconnects, HoldsReader, Leaves, SendsBad, LogsInAndSends, SendsPart,
	HoldsLogin, ReadsSlowly, StopsReading, Sends, LogsIn, StopsReading, Connects, Sends,
	TimePasses, AcceptFails, ConnectsDeaf,
}

// Step is one step of a schedule.
type Step struct {
	Kind   StepKind
	Client int    // which client: see run.pick
	Name   string // LogsIn, LogsInAndSends
	// To picks the recipients, as written, repeats included: each is an
	// index into the names asked for so far, or maxPick for zed, who never
	// logs in (see run.recipients).
	To    []int
	Style int           // Sends, SendsBurst, SendsPart: how the line is spelled (see spell); SendsBad: which bad line
	Count int           // SendsBurst: messages; AcceptFails: calls
	Bad   bool          // SendsBurst: a bad line (badLines[0]) comes after the first half of the messages
	Cut   int           // SendsPart: where the line is cut
	Pause time.Duration // TimePasses
	// Races: a CtrlC that comes as soon as the server has accepted what was
	// sent before it, while it may still be routing and writing it.
	Races bool
	// hurry: this step is followed by a racing Ctrl-C (see Races).
	hurry bool
	// Rush: the next step follows at once. Otherwise the harness lets the
	// server settle after the step, so that the schedule, not the Go
	// scheduler, decides what happens before what, and a failing schedule
	// fails again when rapid replays it.
	Rush bool
}

// clientSlots is how many clients a schedule may have connected at once.
const clientSlots = 8

// loginNames are the names clients ask for: as many as slots, and drawn with
// repeats, so that some names are asked for twice.
var loginNames = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}

// unknownName never logs in; a recipient pick of maxPick names it.
const (
	unknownName = "zed"
	maxPick     = 2 * clientSlots
)

// schedule is what rapid draws: how many clients log in before the drawn
// steps, the steps, and the number of the first message, so that texts
// differ from one schedule to the next (a bug that depends on a text has
// more to find) and shrink back to m1 otherwise.
type schedule struct {
	FirstText int
	Prelude   int // clients 0..Prelude-1 log in as alice, bob, ... first
	Steps     []Step
	EndRaces  bool // the Ctrl-C at the end races the last step (see Step.Races)
}

// steps returns what the harness runs: opts.Start, the prelude, then the
// drawn steps, each marked if a racing Ctrl-C follows it.
func (s schedule) steps(start []Step) []Step {
	steps := slices.Concat(start, LoggedIn(loginNames[:s.Prelude]...), s.Steps)
	for i := range steps {
		next := i + 1
		steps[i].hurry = next < len(steps) && steps[next].Kind == CtrlC && steps[next].Races ||
			next == len(steps) && s.EndRaces
	}
	return steps
}

// scheduleGen draws schedules of opts.MinSteps to opts.MaxSteps steps. The
// length is drawn first: rapid's own slices average about six elements, too
// few for clients to log in, talk, and be interrupted.
func scheduleGen(opts Options) *rapid.Generator[schedule] {
	step := stepGen(opts.Steps, opts.Clients, !opts.NoRush)
	return rapid.Custom(func(t *rapid.T) schedule {
		first := rapid.IntRange(1, 1_000_000).Draw(t, "first text")
		prelude := 0
		if len(opts.Start) == 0 && !opts.NoPrelude {
			prelude = rapid.IntRange(0, min(opts.Clients, maxPrelude)).Draw(t, "logged in at the start")
		}
		n := rapid.IntRange(opts.MinSteps, opts.MaxSteps).Draw(t, "length")
		steps := rapid.SliceOfN(step, n, n).Draw(t, "steps")
		endRaces := !opts.NoRush && rapid.IntRange(0, 3).Draw(t, "Ctrl-C at the end races") > 0
		return schedule{first, prelude, steps, endRaces}
	})
}

// maxPrelude bounds the clients logged in before the drawn steps.
const maxPrelude = 4

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
			if s.Kind == CtrlC {
				s.Races = rapid.IntRange(0, 3).Draw(t, "races") > 0
			}
		}
		if s.Kind == LogsIn || s.Kind == LogsInAndSends {
			s.Name = rapid.SampledFrom(loginNames[:clients]).Draw(t, "name")
		}
		switch s.Kind {
		case Sends, SendsBurst, LogsInAndSends, SendsPart:
			s.To = rapid.SliceOfN(rapid.IntRange(0, maxPick), 1, 4).Draw(t, "to")
			s.Style = rapid.IntRange(0, len(styles)-1).Draw(t, "style")
		case SendsBad:
			s.Style = rapid.IntRange(0, len(badLines)-1).Draw(t, "bad line")
		}
		switch s.Kind {
		case SendsBurst:
			if rapid.IntRange(0, 3).Draw(t, "more than a batch") == 3 { // shrinks to false
				s.Count = rapid.IntRange(protocol.MaxBatchLines+1, 3*protocol.MaxBatchLines).Draw(t, "count")
			} else {
				s.Count = rapid.IntRange(2, 20).Draw(t, "count")
			}
			s.Bad = rapid.IntRange(0, 3).Draw(t, "bad line in it") == 3 // shrinks to false
		case SendsPart:
			s.Cut = rapid.IntRange(1, 100).Draw(t, "cut")
		case TimePasses:
			s.Pause = rapid.SampledFrom(pauses).Draw(t, "pause")
		case AcceptFails:
			s.Count = rapid.IntRange(1, 5).Draw(t, "failures")
		}
		return s
	})
}

// pauses are how long a TimePasses step lets fake time run: around the
// clocks a chapter's tests give it (seconds).
var pauses = []time.Duration{200 * time.Millisecond, time.Second, 3 * time.Second, 10 * time.Second}

// styles spell a message line in the ways a user might type it.
var styles = []func(to []string, text string) string{
	func(to []string, text string) string { return strings.Join(to, ", ") + ": " + text },
	func(to []string, text string) string { return strings.Join(to, ",") + ":" + text },
	func(to []string, text string) string { return " " + strings.Join(to, " ,, ") + " :  " + text + " \r" },
	func(to []string, text string) string { return to[0] + "," + strings.Join(to, ",") + ": " + text },
}

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
	case Sends, SendsBurst, LogsInAndSends, SendsPart:
		if s.Kind == LogsInAndSends {
			out += " " + s.Name
		}
		out += fmt.Sprintf(" to %v (style %d", s.To, s.Style)
		if s.Kind == SendsBurst {
			out += fmt.Sprintf(", %d messages", s.Count)
			if s.Bad {
				out += ", a bad line"
			}
		}
		if s.Kind == SendsPart {
			out += fmt.Sprintf(", cut %d", s.Cut)
		}
		out += ")"
	case SendsBad:
		out += fmt.Sprintf(" %d", s.Style)
	case TimePasses:
		out += " " + s.Pause.String()
	case AcceptFails:
		out += fmt.Sprintf(" %d", s.Count)
	}
	if s.Races {
		out += " as soon as what was sent is accepted"
	}
	if s.Rush {
		out += ", rushed"
	}
	return out
}
