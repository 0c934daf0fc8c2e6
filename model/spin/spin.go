// Package spin model-checks the shutdown protocol of achat/chat/shutdown with
// the Spin model checker: shutdown.pml is the model, Variants lists the
// correct protocol (without a drain deadline, and with one and a client that
// never reads) and its bugs (those of chat/notify, a queue that reorders a
// batch, and no deadline), and Check runs one of them.
//
// The test in this package proves the verdicts; cmd/spinreport prints them
// with each counterexample told as a story. docs/model-checking.md explains
// the model and what a pass does and does not prove.
package spin

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Model is the Promela source, written into each check's directory.
//
//go:embed shutdown.pml
var Model []byte

// modelFile is the model's name in a check's directory; Spin names the trail
// after it (shutdown.pml.trail).
const modelFile = "shutdown.pml"

// Mode is what pan searches for.
type Mode string

const (
	// Safety finds assertion violations and invalid end states (deadlocks).
	Safety Mode = "safety"
	// Liveness finds acceptance cycles of the claim "<> terminated": a
	// schedule, fair or not, in which Shutdown never returns. A pass
	// covers every schedule, so it implies the pass under weak fairness.
	Liveness Mode = "liveness"
	// FairLiveness is Liveness under weak fairness (pan -f): its
	// counterexamples are schedules in which every process that can move
	// for ever does move, so no one can blame an unfair scheduler.
	FairLiveness Mode = "fair-liveness"
)

// Expect is one run of pan and its expected verdict.
type Expect struct {
	Mode Mode
	// Error is empty if the run must find no error; otherwise a substring of
	// the error pan must report, so a variant fails for its own reason.
	Error string
}

// Variant is the model compiled with some -D flags.
type Variant struct {
	Name    string
	Defines []string // passed to spin, as -DNAME or -DNAME=VALUE
	Bug     string   // what is wrong, in one line; empty for a correct variant
	Expect  []Expect
}

// The assertions a bug violates, as pan reports them.
const (
	// Shutdown returned nil, and a message routed to a peer was never
	// written to it.
	lost = "assertion violated (written[peer]==owed[peer])"
	// A client read a message while an earlier one of the same sender,
	// routed to it, was still unread.
	outOfOrder = "assertion violated (skipped==0)"
	// A client read a message it had read before.
	duplicate = "assertion violated ((got[p]&mine)==0)"
)

// Variants are the correct model, with and without the deadline, and each
// bug, with their expected verdicts.
var Variants = []Variant{
	{
		Name: "correct",
		Expect: []Expect{
			{Mode: Safety},
			{Mode: Liveness},
		},
	},
	{
		// Still the correct protocol: Shutdown's ctx has a deadline, and
		// client 1 never reads. Without the silent client, whose reader
		// only waits for a login line and returns when the context is
		// cancelled: with it, the search is 4.7 times as long, and passes.
		Name:    "nonreader-deadline",
		Defines: []string{"-DDEADLINE", "-DNONREADER=1", "-DNSILENT=0"},
		Expect: []Expect{
			{Mode: Safety},
			{Mode: Liveness},
		},
	},
	{
		Name:    "notify-waiters",
		Defines: []string{"-DNOTIFY_WAITERS"},
		Bug:     "a notification reaches only the readers registered at that instant",
		Expect: []Expect{
			{Mode: Safety, Error: "invalid end state"},
			{Mode: FairLiveness, Error: "acceptance cycle"},
		},
	},
	{
		Name:    "login-not-woken",
		Defines: []string{"-DLOGIN_NOT_WOKEN"},
		Bug:     "nothing wakes a reader blocked in the read of its login line",
		Expect:  []Expect{{Mode: Safety, Error: "invalid end state"}},
	},
	{
		Name:    "writers-not-waited",
		Defines: []string{"-DWRITERS_NOT_WAITED"},
		Bug:     "drain does not wait for the writers before the process exits",
		Expect:  []Expect{{Mode: Safety, Error: lost}},
	},
	{
		Name:    "select-stop",
		Defines: []string{"-DSELECT_STOP"},
		Bug:     "a writer selects between its reader's stop signal and its queue",
		Expect:  []Expect{{Mode: Safety, Error: lost}},
	},
	{
		Name:    "close-early",
		Defines: []string{"-DCLOSE_EARLY"},
		Bug:     "events is closed before every reader has returned",
		Expect:  []Expect{{Mode: Safety, Error: "assertion violated  !(eventsClosed)"}},
	},
	{
		Name:    "lifo",
		Defines: []string{"-DLIFO"},
		Bug:     "the queue hands a batch over newest first",
		Expect:  []Expect{{Mode: Safety, Error: outOfOrder}},
	},
	{
		Name:    "keeps-last",
		Defines: []string{"-DKEEPS_LAST"},
		Bug:     "the queue keeps the last item it hands over, and hands it over again",
		Expect:  []Expect{{Mode: Safety, Error: duplicate}},
	},
	{
		Name:    "no-deadline",
		Defines: []string{"-DNONREADER=1"},
		Bug:     "client 1 never reads, and Shutdown's ctx has no deadline",
		Expect:  []Expect{{Mode: FairLiveness, Error: "acceptance cycle"}},
	},
}

// Result is what one run of pan reported.
type Result struct {
	Errors    int     // pan's "errors: N"
	Error     string  // pan's first error line, such as "pan:1: invalid end state (at depth 66)"
	States    int     // states stored
	Depth     int     // depth reached
	MemoryMB  float64 // total actual memory usage
	Seconds   float64 // pan's elapsed time (not counting spin and gcc)
	Truncated bool    // the search hit -m: a pass would prove nothing
	Output    string  // everything pan printed
	Dir       string  // where the trail is, if any
}

// Passed reports whether pan searched everything and found no error.
func (r Result) Passed() bool { return r.Errors == 0 && !r.Truncated }

// Verdict says whether r is what e expects, and if not, why.
func (e Expect) Verdict(r Result) (ok bool, why string) {
	switch {
	case r.Truncated:
		return false, "search truncated: raise -m"
	case e.Error == "" && r.Errors > 0:
		return false, "expected no error, got " + r.Error
	case e.Error != "" && r.Errors == 0:
		return false, "expected " + e.Error + ", got none"
	case e.Error != "" && !strings.Contains(r.Error, e.Error):
		return false, "expected " + e.Error + ", got " + r.Error
	}
	return true, ""
}

// Tools reports what is missing to run Spin, as an apt-get hint, or "".
func Tools() string {
	for _, tool := range []string{"spin", "gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " not installed: apt-get install " + tool
		}
	}
	return ""
}

// Check writes the model into dir, which must be empty and is left holding
// pan.c, pan and any trail, and runs spin, gcc and pan for v in mode m.
func Check(dir string, v Variant, m Mode) (Result, error) {
	if err := os.WriteFile(filepath.Join(dir, modelFile), Model, 0o644); err != nil {
		return Result{}, err
	}
	spinArgs := append(append([]string{"-a"}, v.Defines...), modelFile)
	if _, err := run(dir, "spin", spinArgs...); err != nil {
		return Result{}, err
	}
	ccArgs := append(panFlags(m), optimization(v), "-w", "-o", "pan", "pan.c")
	if _, err := run(dir, "gcc", ccArgs...); err != nil {
		return Result{}, err
	}
	out, err := run(dir, "./pan", panArgs(m)...)
	if err != nil {
		return Result{}, err
	}
	r := parse(out)
	r.Dir = dir
	return r, nil
}

// panFlags are how pan is compiled for mode m.
func panFlags(m Mode) []string {
	switch m {
	case Safety:
		// No claim: with one, pan does not look for invalid end states.
		return []string{"-DNOCLAIM", "-DSAFETY"}
	case FairLiveness:
		// Weak fairness needs room for the 12 processes (pan's limit is
		// 4*NFAIR-2: 14 with NFAIR=4), and cannot be combined with
		// partial-order reduction over rendezvous.
		return []string{"-DNOREDUCE", "-DNFAIR=4"}
	}
	return nil
}

// optimization is gcc's -O flag for v. A correct variant's search visits
// every state, and pan compiled with -O2 does it about 1.5 times as fast; a
// bug's search stops at its first counterexample (after 277,230 states at
// most, for login-not-woken), and gcc compiles pan about 4 times as fast with
// -O0 (0.7 s instead of 2 to 3 s).
func optimization(v Variant) string {
	if v.Bug == "" {
		return "-O2"
	}
	return "-O0"
}

// panArgs are how pan is run for mode m. The deepest path of every variant
// is under 400 steps; -m leaves room, and a search that hits it is reported.
func panArgs(m Mode) []string {
	switch m {
	case Liveness:
		return []string{"-a", "-m10000"}
	case FairLiveness:
		return []string{"-a", "-f", "-m10000"}
	}
	return []string{"-m10000"}
}

// run runs name in dir and returns its output; pan exits 0 even when it
// finds an error, so a non-zero exit is a failure of the tools.
func run(dir, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

var (
	errorsRe = regexp.MustCompile(`errors: (\d+)`)
	depthRe  = regexp.MustCompile(`depth reached (\d+)`)
	statesRe = regexp.MustCompile(`(\d+) states, stored`)
	memoryRe = regexp.MustCompile(`([\d.]+)\s+total actual memory usage`)
	timeRe   = regexp.MustCompile(`pan: elapsed time ([\d.e+]+) seconds`)
	firstRe  = regexp.MustCompile(`(?m)^pan:1: .*$`)
)

// parse reads pan's summary. A field pan did not print stays zero.
func parse(out string) Result {
	r := Result{Output: out}
	r.Errors = atoi(errorsRe, out)
	r.Depth = atoi(depthRe, out)
	r.States = atoi(statesRe, out)
	r.MemoryMB = atof(memoryRe, out)
	r.Seconds = atof(timeRe, out)
	r.Error = firstRe.FindString(out)
	r.Truncated = strings.Contains(out, "max search depth too small")
	if r.Errors == 0 && !errorsRe.MatchString(out) {
		r.Errors = -1 // no summary at all: never a pass
		r.Error = "pan printed no summary"
	}
	return r
}

func atoi(re *regexp.Regexp, s string) int {
	m := re.FindStringSubmatch(s)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func atof(re *regexp.Regexp, s string) float64 {
	m := re.FindStringSubmatch(s)
	if m == nil {
		return 0
	}
	f, _ := strconv.ParseFloat(m[1], 64)
	return f
}
