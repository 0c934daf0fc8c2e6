package spin

import (
	"bufio"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Story replays the trail that a failed Check left in r.Dir and returns it
// as the model's own narration (its printf lines), the error, and, for a
// deadlock or a cycle, where each unfinished process is stuck.
func Story(v Variant, r Result) (string, error) {
	args := append(append([]string{"-t"}, v.Defines...), modelFile)
	out, err := run(r.Dir, "spin", args...)
	if err != nil {
		return "", err
	}
	hung := !strings.Contains(r.Error, "assertion violated")
	return tell(out, hung), nil
}

// procRe matches spin's final list of processes, such as
// " 67:	proc  1 (read:1) shutdown.pml:162 (state 33)".
var procRe = regexp.MustCompile(`^\s*\d+:\s+proc\s+(\d+|-) \(([\w:]+):\d+\) (\S+):(\d+) \(state \d+\)(.*)$`)

// varRe matches spin's dump of the global variables, such as "		done = 1".
var varRe = regexp.MustCompile(`^\s+[\w\[\]]+ = -?\d+$`)

// emptyChanRe matches spin's dump of a channel with nothing in it, such as
// "queue 1 (events): ". A channel that holds messages is shown: they were
// sent and never received.
var emptyChanRe = regexp.MustCompile(`^\s*queue \d+ \(\w+\):\s*$`)

// tell keeps what a reader of the story needs from spin -t's output. If the
// run hung (a deadlock or a cycle), it says where each process is stuck.
func tell(out string, hung bool) string {
	var story strings.Builder
	lines := bufio.NewScanner(strings.NewReader(out))
	for lines.Scan() {
		line := lines.Text()
		switch {
		case varRe.MatchString(line), emptyChanRe.MatchString(line),
			strings.HasPrefix(line, "ltl "),
			strings.HasPrefix(line, "Never claim moves"),
			strings.HasPrefix(line, "#processes"),
			strings.HasSuffix(line, "processes created"),
			strings.HasPrefix(line, "spin: trail ends"),
			strings.HasPrefix(line, "spin: warning"): // "shutdown.pml" is newer than its trail, by a clock tick
			// bookkeeping, not the story
		case procRe.MatchString(line):
			if stuck := where(line); hung && stuck != "" {
				fmt.Fprintln(&story, stuck)
			}
		case strings.TrimSpace(line) != "":
			fmt.Fprintln(&story, strings.TrimSpace(line))
		}
	}
	return story.String()
}

// where turns an unfinished process of spin's final list into "stuck: the
// model's line", and returns "" for one that ended or may stay where it is,
// and for the never claim. Pids are fixed by init (see shutdown.pml).
func where(line string) string {
	m := procRe.FindStringSubmatch(line)
	pid, name, file, lineNo, rest := m[1], m[2], m[3], m[4], m[5]
	if strings.Contains(rest, "valid end state") || file != modelFile {
		return ""
	}
	n, _ := strconv.Atoi(lineNo)
	return fmt.Sprintf("stuck for ever: %s (pid %s) at %s:%d: %s",
		name, pid, modelFile, n, source(n))
}

// source returns line n of the model, trimmed.
func source(n int) string {
	lines := strings.Split(string(Model), "\n")
	if n < 1 || n > len(lines) {
		return "?"
	}
	return strings.TrimSpace(lines[n-1])
}
