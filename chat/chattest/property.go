package chattest

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"pgregory.net/rapid"

	"achat/model"
)

// Transport is how the clients of a property run reach the server.
type Transport int

const (
	// Pipe connects clients with net.Pipe, one testing/synctest bubble per
	// schedule: fake time, exact settling, fast.
	Pipe Transport = iota
	// TCP connects clients over loopback, in real time.
	TCP
)

func (t Transport) String() string { return [...]string{"pipe", "tcp"}[t] }

// Options shape a property run. The zero value is usable.
type Options struct {
	Transport Transport
	// Steps are the kinds of step schedules are drawn from (default
	// AllSteps; HoldsReader does nothing over TCP).
	Steps []StepKind
	// Clients is how many client slots steps pick from (1 to 8; default 8).
	Clients int
	// MinSteps and MaxSteps bound a schedule's length (default 8 and 30,
	// or 1 and 30 when Steps is set). Steps that do not matter to a failure
	// shrink to Waits, which does nothing, so a shrunk schedule tells a
	// short story anyway.
	MinSteps, MaxSteps int
	// NoPrelude: no client logs in before the drawn steps. By default up to
	// four do (alice, bob, ...), unless Start is set.
	NoPrelude bool
	// NoRush lets the server settle after every step: no step races the
	// next, so a failing schedule fails the same way when rapid replays it.
	// A bug that needs no race is best shown this way.
	NoRush bool
	// Start runs before every drawn schedule, and is not shrunk: a setting
	// for the schedules that a test is about (see LoggedIn).
	Start []Step
	// FreesNames says that the server frees a name when its client leaves,
	// and reports it with the LoggedOut hook: over TCP the harness waits for
	// that before the next step.
	FreesNames bool
	// MaxQueued and MaxQueuedBytes are the server's bounds on the lines,
	// and the bytes, waiting for one client: a client may be evicted as too
	// slow only past them (MaxQueued 0: never).
	MaxQueued, MaxQueuedBytes int
	// The limits and clocks of chapter limits (0: the server has none):
	// connections held at once, the time a connection has to send its
	// name, and the time a write may wait for a client that does not read.
	MaxConns                   int
	LoginTimeout, WriteTimeout time.Duration
	// AcceptErrors: AcceptFails steps make the listener's Accept fail as a
	// process out of file descriptors does (otherwise they do nothing).
	AcceptErrors bool
	// Unclaimed are properties the chapter does not claim: their violations
	// are ignored, but by ExpectCounterexample. A chapter's TestBug tests
	// show it breaking them.
	Unclaimed []model.Property

	// defaultSteps: Steps was left empty, so the coverage floor applies.
	defaultSteps bool
	// focus, set by ExpectCounterexample, is the only property that fails a
	// schedule: a bug is hunted for itself, not hidden by a worse one.
	focus model.Property
	// Schedules is how many schedules to try (default: rapid's -rapid.checks,
	// 100). More than that runs rapid.Check several times.
	Schedules int
	// DrainDeadline is the context deadline given to Shutdown (default 5s).
	DrainDeadline time.Duration
	// Bound is how long Shutdown may take after Ctrl-C (default
	// DrainDeadline + 5s). In a bubble the time is fake, so a generous
	// bound costs nothing.
	Bound time.Duration
	// SettleGuard is how long, over TCP, the harness waits for the server
	// to do what it owes before it records the settle point anyway, and the
	// model reports what is missing (default 10s).
	SettleGuard time.Duration
}

// LoggedIn is a Start: client slot i connects and logs in as names[i].
func LoggedIn(names ...string) []Step {
	var steps []Step
	for i, name := range names {
		steps = append(steps, Step{Kind: Connects}, Step{Kind: LogsIn, Client: i, Name: name})
	}
	return steps
}

// NotReading is a Start: alice and bob log in, then alice stops reading, so
// that what is sent to her waits in her writer's queue.
func NotReading() []Step {
	return append(LoggedIn("alice", "bob"), Step{Kind: StopsReading})
}

func (o Options) withDefaults() Options {
	if len(o.Steps) == 0 {
		o.Steps, o.defaultSteps = AllSteps, true
	}
	if o.Clients <= 0 || o.Clients > clientSlots {
		o.Clients = clientSlots
	}
	if o.MaxSteps <= 0 {
		o.MaxSteps = 30
	}
	if o.MinSteps <= 0 && o.defaultSteps {
		o.MinSteps = min(8, o.MaxSteps)
	} else if o.MinSteps <= 0 {
		o.MinSteps = 1 // a test that picks its steps shows a bug: the shorter, the better
	}
	if o.DrainDeadline <= 0 {
		o.DrainDeadline = 5 * time.Second
	}
	if o.Bound <= 0 {
		o.Bound = o.DrainDeadline + 5*time.Second
	}
	if o.SettleGuard <= 0 {
		o.SettleGuard = 10 * time.Second
	}
	return o
}

// CheckProperties runs random schedules against servers built by newServer
// and fails t with the shortest schedule it can find that breaks a property.
func CheckProperties(t *testing.T, newServer NewServer, opts Options) {
	opts = opts.withDefaults()
	var counted tally
	prop := property(t, newServer, opts, &counted)
	for range rounds(opts.Schedules) {
		rapid.Check(t, prop)
	}
	if !t.Failed() {
		counted.report(t, opts)
	}
}

// rounds is how many rapid.Check calls try the given number of schedules.
func rounds(schedules int) int {
	checks, _ := strconv.Atoi(flag.Lookup("rapid.checks").Value.String())
	return max(1, schedules/max(1, checks))
}

// property is one schedule: draw it, run it, report it.
func property(t *testing.T, newServer NewServer, opts Options, counted *tally) func(*rapid.T) {
	steps := scheduleGen(opts)
	return func(rt *rapid.T) {
		schedule := steps.Draw(rt, "schedule")
		story, violations, covered, tr := runSchedule(t, newServer, opts, schedule)
		counted.add(covered)
		if opts.focus == "" {
			violations = slices.DeleteFunc(violations, func(v model.Violation) bool {
				return slices.Contains(opts.Unclaimed, v.Property)
			})
		}
		first := firstBroken(violations)
		if opts.focus != "" && !breaks(violations, opts.focus) {
			return
		} else if opts.focus != "" {
			first = opts.focus
		}
		if first == "" {
			return
		}
		rt.Logf("the schedule, over %v:\n  %s", opts.Transport, strings.Join(story, "\n  "))
		if os.Getenv("CHATTEST_HISTORY") != "" {
			for _, ev := range tr.history {
				fmt.Fprintf(os.Stderr, "%v\n", ev)
			}
		}
		// The docs draw each stored counterexample as a sequence diagram
		// (internal/doccheck): CHATTEST_TRACE names the file that gets its
		// trace, as JSON lines (see trace.go).
		if path := os.Getenv("CHATTEST_TRACE"); path != "" {
			if err := writeTrace(path, tr); err != nil {
				fmt.Fprintf(os.Stderr, "CHATTEST_TRACE: %v\n", err) // not rt's: rapid shrinks on a fixed text
			}
		}
		if os.Getenv("CHATTEST_SHOW") != "" {
			// rapid logs only its replay, and a scheduler-dependent failure may
			// not come back when replayed: this shows every one as it happens.
			fmt.Fprintf(os.Stderr, "failing schedule:\n  %s\n%v\n", strings.Join(story, "\n  "), violations)
		}
		for _, v := range violations {
			if opts.focus == "" || v.Property == opts.focus { // a bug hunted for itself is told alone
				rt.Log(v.String())
			}
		}
		rt.Fatal(string(first)) // fixed text, so that rapid can shrink
	}
}

func firstBroken(violations []model.Violation) model.Property {
	for _, p := range priority {
		if breaks(violations, p) {
			return p
		}
	}
	return ""
}

func breaks(violations []model.Violation, p model.Property) bool {
	for _, v := range violations {
		if v.Property == p {
			return true
		}
	}
	return false
}

// runSchedule runs one schedule against a new server, in a bubble of its own
// for the Pipe transport, and returns its story and what it broke.
func runSchedule(t *testing.T, newServer NewServer, opts Options, s schedule) (story []string, violations []model.Violation, covered model.Covered, tr trace) {
	finished := false
	body := func() {
		r := newRun(opts, newServer)
		r.texts = s.FirstText - 1
		if err := r.start(); err != nil {
			story = []string{"cannot listen: " + err.Error()}
			violations = []model.Violation{{Property: Termination, Detail: err.Error()}}
			finished = true
			return
		}
		r.settle() // Serve is accepting before the first step, Ctrl-C included
		for _, step := range s.steps(opts.Start) {
			r.do(step)
		}
		violations = r.finish(s.EndRaces)
		r.cleanup()
		r.mu.Lock() // a goroutine the server leaked may still record
		story, covered, tr, finished = slices.Clone(r.story), r.covered, r.traceLocked(), true
		r.mu.Unlock()
	}
	if opts.Transport == TCP {
		body()
		return story, violations, covered, tr
	}
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if !finished || !strings.Contains(fmt.Sprint(p), "blocked goroutines remain") {
			panic(p)
		}
		// The bubble ended with goroutines blocked for ever: a leak, even if
		// they got past goleak's look at the time.
		if firstBroken(violations) != Leak && firstBroken(violations) != Termination {
			violations = append(violations, model.Violation{Property: Leak, Detail: "goroutines blocked for ever"})
		}
	}()
	synctest.Test(t, func(*testing.T) { body() })
	return story, violations, covered, tr
}

// ExpectCounterexample runs CheckProperties where a property must break: the
// test passes when rapid finds, and shrinks, a schedule that breaks want,
// and it logs that schedule. It fails when every schedule passes: a property
// that no broken server fails is not a test.
func ExpectCounterexample(t *testing.T, newServer NewServer, opts Options, want model.Property) {
	opts = opts.withDefaults()
	opts.focus = want
	if !flagSetByUser("rapid.nofailfile", "RAPID_NOFAILFILE") { // make docs sets it, to store the draw
		defer setFlag(t, "rapid.nofailfile", "true")() // a counterexample here is the point, not a regression
	}
	if !flagSetByUser("rapid.shrinktime", "RAPID_SHRINKTIME") {
		defer setFlag(t, "rapid.shrinktime", "10s")() // a demonstration, not a hunt: 30s is rapid's default
	}
	rec := &recorder{name: t.Name()}
	done := make(chan struct{})
	go func() { // ends when rapid.Check returns, or at its FailNow (runtime.Goexit)
		defer close(done)
		prop := property(t, newServer, opts, &tally{})
		for range rounds(opts.Schedules) {
			rapid.Check(rec, prop)
		}
	}()
	<-done
	out := rec.output()
	switch {
	case !rec.Failed():
		t.Fatalf("no schedule broke %q: the bug is not caught\n%s", want, out)
	case !strings.Contains(out, "[rapid] failed") || !strings.Contains(out, string(want)):
		t.Fatalf("the counterexample does not break %q:\n%s", want, out)
	}
	t.Logf("rapid's shrunk counterexample:\n%s", out)
}

// flagSetByUser reports whether rapid's flag name was given, on the command
// line or in its environment variable env.
func flagSetByUser(name, env string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set || os.Getenv(env) != ""
}

func setFlag(t *testing.T, name, value string) (restore func()) {
	f := flag.Lookup(name)
	old := f.Value.String()
	if err := f.Value.Set(value); err != nil {
		t.Fatal(err)
	}
	return func() { f.Value.Set(old) }
}

// recorder is a rapid.TB that records instead of failing a test.
type recorder struct {
	name   string
	mu     sync.Mutex
	lines  []string
	failed bool
}

func (r *recorder) Helper()      {}
func (r *recorder) Name() string { return r.name }
func (r *recorder) Log(args ...any) {
	r.add(strings.TrimSuffix(fmt.Sprintln(args...), "\n"))
}
func (r *recorder) Logf(format string, args ...any) { r.add(fmt.Sprintf(format, args...)) }
func (r *recorder) Error(args ...any)               { r.Log(args...); r.Fail() }
func (r *recorder) Errorf(format string, args ...any) {
	r.Logf(format, args...)
	r.Fail()
}
func (r *recorder) Fatal(args ...any)                 { r.Error(args...); r.FailNow() }
func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...); r.FailNow() }
func (r *recorder) Skip(args ...any)                  { r.Log(args...); r.SkipNow() }
func (r *recorder) Skipf(format string, args ...any)  { r.Logf(format, args...); r.SkipNow() }
func (r *recorder) SkipNow()                          { runtime.Goexit() }
func (r *recorder) FailNow()                          { r.Fail(); runtime.Goexit() }

func (r *recorder) Fail() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *recorder) add(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, line)
}

func (r *recorder) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}
