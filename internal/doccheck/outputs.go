package doccheck

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"achat/model/spin"
)

// An Output produces the content of an "output" block from the directive's
// arguments. With fresh, an output that comes from a random search searches
// anew; otherwise it replays what it stored the last time (see
// counterexample), so that every run gives the same text.
type Output func(root string, args []string, fresh bool) (string, error)

// Outputs are the functions an "output" directive can name.
var Outputs = map[string]Output{
	// diff FROM TO FILE MATCH: the hunks of FILE in ./scripts/chapter-diff
	// FROM TO (what `make diff` prints) that add or remove a line containing
	// MATCH (the rest of the directive, spaces included).
	"diff": func(root string, args []string, _ bool) (string, error) { return diffHunks(root, args) },
	// counterexample CHAPTER TEST: the shrunk schedule that
	// `go test -count=1 -v -run '^TEST$' ./chat/CHAPTER` prints, from "the
	// schedule" to the end of the test's log, without rapid's seed.
	"counterexample": counterexample,
	// sequence CHAPTER TEST: the same counterexample drawn as a mermaid
	// sequence diagram (see Sequence), from the trace that chattest writes
	// when it replays the draw that counterexample stored. Its block is a
	// ```mermaid one, which GitHub draws.
	"sequence": sequence,
	// file PATH: the content of a file that a make target stores, such as
	// docs/cluster-mutants.txt (make cluster-mutants): the page quotes the
	// run that is kept, and stays equal to it.
	"file": func(root string, args []string, _ bool) (string, error) {
		if len(args) != 1 {
			return "", fmt.Errorf("want: file PATH")
		}
		b, err := os.ReadFile(filepath.Join(root, args[0]))
		return string(b), err
	},
	// spin-stories: the counterexamples that `go run
	// ./model/spin/cmd/spinreport` tells after its table, which are the
	// same on every run (pan's search is deterministic; its table's times
	// are not, so the table is not checked). It runs the bug variants only
	// (-bugs): the correct ones tell no story, and model/spin's test checks
	// them. Skipped without spin and gcc.
	"spin-stories": spinStories,
}

// ErrUnavailable is returned by an output whose tools are not installed: its
// block is not checked.
var ErrUnavailable = errors.New("a tool it needs is not installed")

func spinStories(root string, _ []string, _ bool) (string, error) {
	if spin.Tools() != "" {
		return "", ErrUnavailable
	}
	out, err := run(root, "go", "run", "./model/spin/cmd/spinreport", "-bugs")
	if err != nil {
		return "", err
	}
	_, stories, found := strings.Cut(out, "\n== ")
	if !found {
		return "", fmt.Errorf("spinreport told no story:\n%s", out)
	}
	return "== " + stories, nil
}

func run(root, name string, args ...string) (string, error) {
	return runEnv(root, nil, name, args...)
}

// runEnv runs a command in root, with env added to the environment.
func runEnv(root string, env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
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

// counterexample runs a test that must find, and shrink, a counterexample.
// rapid's search is random, and shrinking under load need not end in the same
// place, so the shrunk draw is stored in a rapid fail file,
// docs/counterexamples/CHAPTER-TEST.fail. Without fresh the test replays that
// file: rapid runs a fail file before it searches, and a draw that still
// fails is reported as it is, unshrunk. The replay fails in the same way, and
// tells the same story, for as long as the chapter, the harness and rapid
// do. When one of them changes, the block and the story differ, and make docs
// searches anew and stores the new draw.
func counterexample(root string, args []string, fresh bool) (string, error) {
	if len(args) != 2 {
		return "", fmt.Errorf("want: counterexample CHAPTER TEST")
	}
	if !fresh {
		out, err := replay(root, args[0], args[1])
		if err != nil {
			return "", err
		}
		return story(out, args[1])
	}
	// rapid writes the shrunk draw: kept below.
	out, err := runTest(root, []string{"RAPID_NOFAILFILE=false"}, args[0], args[1])
	pkgDir := filepath.Join(root, "chat", args[0])
	if err != nil {
		removeFailFiles(failFiles(pkgDir, out)) // rapid would replay them on every later run
		return "", err
	}
	if err := keepFailFile(pkgDir, out, storedDraw(root, args[0], args[1])); err != nil {
		return "", err
	}
	return story(out, args[1])
}

// replay runs a chapter's test on its stored draw, with env added, and
// returns the test's output. It fails unless rapid replayed the draw.
func replay(root, chapter, test string, env ...string) (string, error) {
	stored := storedDraw(root, chapter, test)
	if _, err := os.Stat(stored); err != nil {
		return "", fmt.Errorf("no stored draw to replay (make docs stores one): %v", err)
	}
	env = append(env, "RAPID_FAILFILE="+stored, "RAPID_NOFAILFILE=true")
	out, err := runTest(root, env, chapter, test)
	if err != nil {
		return "", err
	}
	if !replayed(out, stored) {
		// rapid ignored the file (another rapid version, or the draw no
		// longer fails) and searched anew: what it found is not the story
		// stored, even if it happens to read the same.
		return "", fmt.Errorf("the stored draw %s did not replay; make docs searches anew and stores a new one:\n%s",
			filepath.Base(stored), out)
	}
	return out, nil
}

// runTest runs one test of a chapter, verbose, with env added.
func runTest(root string, env []string, chapter, test string) (string, error) {
	return runEnv(root, env, "go", "test", "-count=1", "-v", "-run", "^"+test+"$", "./chat/"+chapter)
}

// storedDraw is the path of the fail file that holds a test's draw.
func storedDraw(root, chapter, test string) string {
	return filepath.Join(root, "docs", "counterexamples", storedName(chapter, test))
}

// replayed reports whether rapid's report in out is the replay of the fail
// file stored: rapid then fails at once, and names the file.
func replayed(out, stored string) bool {
	return strings.Contains(out, "[rapid] failed after 0 tests") &&
		strings.Contains(out, fmt.Sprintf("-rapid.failfile=%q", stored)) &&
		!strings.Contains(out, "[rapid] flaky test")
}

// storedName is the fail file's name for a chapter's test: the test's name
// with every character that a file name might not like replaced.
func storedName(chapter, test string) string {
	safe := regexp.MustCompile(`[^A-Za-z0-9_-]`).ReplaceAllString(test, "_")
	return chapter + "-" + safe + ".fail"
}

// failFile matches where rapid says it wrote a fail file.
var failFile = regexp.MustCompile(`-rapid\.failfile="([^"]+)"`)

// keepFailFile moves the last fail file that out names, the draw of the
// counterexample the test printed, to stored, and deletes the others (of
// runs whose failure did not replay). A fail file left under a package's
// testdata/rapid would be replayed by every later run of its tests.
func keepFailFile(pkgDir, out, stored string) error {
	paths := failFiles(pkgDir, out)
	if len(paths) == 0 {
		return fmt.Errorf("the test wrote no fail file:\n%s", out)
	}
	last := paths[len(paths)-1]
	removeFailFiles(paths[:len(paths)-1])
	if err := os.MkdirAll(filepath.Dir(stored), 0o755); err != nil {
		return err
	}
	if err := os.Rename(last, stored); err != nil {
		return err
	}
	removeEmptyDirs(last)
	return nil
}

// failFiles returns the paths of the fail files that out names, in order.
func failFiles(pkgDir, out string) []string {
	var paths []string
	for _, m := range failFile.FindAllStringSubmatch(out, -1) {
		path := m[1]
		if !filepath.IsAbs(path) {
			path = filepath.Join(pkgDir, path) // rapid names it from the package's directory
		}
		paths = append(paths, path)
	}
	return paths
}

// removeFailFiles deletes fail files, and the directories they leave empty.
func removeFailFiles(paths []string) {
	for _, path := range paths {
		os.Remove(path)
		removeEmptyDirs(path)
	}
}

// removeEmptyDirs removes testdata/rapid/TEST, testdata/rapid and testdata
// above a fail file's path, each if it is empty.
func removeEmptyDirs(failFile string) {
	dir := filepath.Dir(failFile)
	for range 3 {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// story cuts, from a test's verbose output, the schedule the test logged
// and the violations after it.
func story(out, test string) (string, error) {
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
		return "", fmt.Errorf("%s printed no schedule:\n%s", test, out)
	}
	return b.String(), nil
}
