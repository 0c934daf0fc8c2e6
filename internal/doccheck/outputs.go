package doccheck

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

// An Output produces the content of an "output" block from the directive's
// arguments. Slow outputs run a test suite, and what they print can vary from
// run to run (rapid draws at random), so they are checked only on request.
type Output struct {
	Slow bool
	Run  func(root string, args []string) (string, error)
}

// Outputs are the functions an "output" directive can name.
var Outputs = map[string]Output{
	// diff FROM TO FILE MATCH: the hunks of FILE in ./scripts/chapter-diff
	// FROM TO (what `make diff` prints) that add or remove a line containing
	// MATCH (the rest of the directive, spaces included).
	"diff": {Run: diffHunks},
	// counterexample CHAPTER TEST: the shrunk schedule that
	// `go test -count=1 -v -run '^TEST$' ./chat/CHAPTER` prints, from "the
	// schedule" to the end of the test's log, without rapid's seed.
	"counterexample": {Slow: true, Run: counterexample},
}

func run(root, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// diffs caches chapter-diff's output by root and chapters.
var diffs = map[string]string{}

func diffHunks(root string, args []string) (string, error) {
	if len(args) < 4 {
		return "", fmt.Errorf("want: diff FROM TO FILE MATCH")
	}
	key := root + " " + args[0] + " " + args[1]
	out, ok := diffs[key]
	if !ok {
		var err error
		if out, err = run(root, "./scripts/chapter-diff", args[0], args[1]); err != nil {
			return "", err
		}
		diffs[key] = out // one run per pair of chapters, not one per block
	}
	var b strings.Builder
	file := "" // the file of the current hunk
	for _, part := range regexp.MustCompile(`(?m)^(?:diff |@@ )`).Split(out, -1) {
		// Split dropped each part's first word; the first line tells which.
		if strings.HasPrefix(part, "-ruN ") {
			file = strings.Fields(part)[2] // "-ruN from/f.go to/f.go"
			continue
		}
		if strings.HasSuffix(file, "/"+args[2]) && changes(part, strings.Join(args[3:], " ")) {
			b.WriteString("@@ " + part)
		}
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("no hunk of %s changes %q", args[2], strings.Join(args[3:], " "))
	}
	return b.String(), nil
}

// changes reports whether a line that a hunk adds or removes contains s.
func changes(hunk, s string) bool {
	for _, line := range strings.Split(hunk, "\n") {
		if (strings.HasPrefix(line, "+") || strings.HasPrefix(line, "-")) && strings.Contains(line, s) {
			return true
		}
	}
	return false
}

var bubble = regexp.MustCompile(`synctest bubble \d+`)

// logPrefix is the "property.go:147: " that testing puts before a log entry.
var logPrefix = regexp.MustCompile(`^\w+\.go:\d+: `)

func counterexample(root string, args []string) (string, error) {
	if len(args) != 2 {
		return "", fmt.Errorf("want: counterexample CHAPTER TEST")
	}
	out, err := run(root, "go", "test", "-count=1", "-v", "-run", "^"+args[1]+"$", "./chat/"+args[0])
	if err != nil {
		return "", err
	}
	var b strings.Builder
	indent := "" // set at "the schedule" line: what to strip from each line
	for _, line := range strings.SplitAfter(out, "\n") {
		// A mutant's test prints the inner test's log as it came, where each
		// entry starts with its "file.go:NN: ".
		t := logPrefix.ReplaceAllString(strings.TrimLeft(line, " "), "")
		if indent == "" && strings.HasPrefix(t, "the schedule") {
			indent = line[:len(line)-len(strings.TrimLeft(line, " "))]
		}
		if indent == "" {
			continue
		}
		if !strings.HasPrefix(line, indent) { // "--- PASS": the log is over
			break
		}
		line = logPrefix.ReplaceAllString(strings.TrimPrefix(line, indent), "")
		// Bubble numbers count the schedules tried; they differ every run.
		b.WriteString(bubble.ReplaceAllString(line, "synctest bubble N"))
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("%s printed no schedule:\n%s", args[1], out)
	}
	return b.String(), nil
}
