package chattest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"achat/model"
)

// A Mutant is a chapter broken in one small way, as a reader might break it
// when they write it themselves.
type Mutant struct {
	Name  string
	Edits []Edit
	Want  model.Property // the property it breaks, which the docs name
	// Also: other properties the mutant breaks. A mutant can break two
	// promises at once, and which one rapid finds first depends on the
	// schedules it draws. Any property that catches it, with a shrunk
	// schedule, counts (the correct chapter breaks none); one not in Want
	// or Also is logged, for the docs to follow.
	Also []model.Property
	// Runs: the tests to run, if not CheckMutants's runs. As those, one
	// settles after every step and one rushes some: a mutant that only a
	// part of its own reaches (slow readers, leaving) runs that part and a
	// rushed one, so that it is caught where steps race the server too.
	Runs []string
}

// An Edit replaces Old, which must occur once in File, with New. File is
// relative to the package directory the test runs in.
type Edit struct{ File, Old, New string }

// Replace returns the Edit that replaces old with new in file.
func Replace(file, old, new string) Edit { return Edit{File: file, Old: old, New: new} }

// CheckMutants builds each mutant of the package the test runs in, runs the
// tests that each of runs matches (its property tests: one that settles
// after every step, one that rushes some) and fails t unless each mutant
// fails in every one with its Want property (or one of Also) and a
// counterexample shrunk by rapid. A mutant with its own Runs runs those.
//
// The mutant is built once with go test -c -overlay, which swaps a file's
// contents for one build and leaves the tree alone. A property that no
// broken server fails is not a test: this is how a chapter shows that its
// properties can fail.
func CheckMutants(t *testing.T, runs []string, mutants []Mutant) {
	if testing.Short() {
		t.Skip("builds and runs each mutant: -short skips it")
	}
	for _, m := range mutants {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			bin := buildMutant(t, m.Edits)
			tests := runs
			if m.Runs != nil {
				tests = m.Runs
			}
			if replaying() {
				tests = tests[:1] // the docs show one counterexample: the first run's
			}
			want := append([]model.Property{m.Want}, m.Also...)
			shown := false // an earlier run caught it with a shrunk counterexample of want
			for _, run := range tests {
				out := runMutant(t, bin, run)
				switch by := caughtBy(out); {
				case by == "" && shown && slices.Contains(want, caughtUnreplayed(out)):
					// Rushed steps race the server: this run caught it by
					// a property it is known to break, but scheduling, not
					// the schedule, decided the failure. The counterexample
					// to show is the earlier run's.
					t.Logf("%s: caught by %q, in failures that do not replay; the earlier run's is the counterexample:\n%s",
						run, caughtUnreplayed(out), out)
				case by == "":
					t.Fatalf("%s: the mutant was not caught: rapid shrank no failure (one that does not replay counts only after a run that shrank one):\n%s",
						run, out)
				case !slices.Contains(want, by):
					// Caught, with a shrunk counterexample, by a property the
					// mutant breaks too: the docs should list it. A later run
					// that catches it by the same property, in failures that
					// do not replay, counts, as for a listed one.
					t.Logf("%s: caught by %q, which the mutant does not list:\n%s", run, by, out)
					want, shown = append(want, by), true
				default:
					shown = true
					t.Logf("%s: caught:\n%s", run, out)
				}
			}
		})
	}
}

// replaying reports whether the docs run this test, to replay or store a
// counterexample (see internal/doccheck): rapid's fail file is theirs.
func replaying() bool {
	return os.Getenv("RAPID_FAILFILE") != "" || os.Getenv("RAPID_NOFAILFILE") != ""
}

// runMutant runs the mutant's tests that run matches, again if rapid found
// a failure that its replay did not reproduce (scheduling decided it, not
// the schedule: that catch has no shrunk counterexample to show), a few
// times, and returns the last output.
func runMutant(t *testing.T, bin, run string) string {
	out := runBinary(t, bin, run)
	for try := 1; try < mutantTries && strings.Contains(out, "[rapid] flaky test"); try++ {
		t.Logf("%s: run %d found a failure that its replay did not reproduce; running again:\n%s", run, try, out)
		out = runBinary(t, bin, run)
	}
	return out
}

// mutantTries bounds the runs of a mutant whose failures do not replay.
const mutantTries = 3

// caughtBy returns the property of which rapid, in out, reports a shrunk
// failure, or "". Its line reads "[rapid] failed after N tests: P".
func caughtBy(out string) model.Property {
	for line := range strings.Lines(out) {
		if _, failure, ok := strings.Cut(line, "[rapid] failed after "); ok {
			_, p, _ := strings.Cut(strings.TrimSpace(failure), ": ")
			return model.Property(p)
		}
	}
	return ""
}

// caughtUnreplayed returns the property of a failure that rapid, in out,
// found and could not replay, or "". Its line reads "Original traceback
// (P):".
func caughtUnreplayed(out string) model.Property {
	for line := range strings.Lines(out) {
		if _, rest, ok := strings.Cut(line, "Original traceback ("); ok {
			p, _, _ := strings.Cut(strings.TrimSpace(rest), "):")
			return model.Property(p)
		}
	}
	return ""
}

// buildMutant builds the package's test binary with edits applied, through
// an overlay, and returns its path.
func buildMutant(t *testing.T, edits []Edit) string {
	dir := t.TempDir()
	replace := map[string]string{}
	for _, e := range edits {
		path, err := filepath.Abs(e.File)
		if err != nil {
			t.Fatal(err)
		}
		src, ok := replace[path]
		if !ok {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			src = string(b)
		}
		if strings.Count(src, e.Old) != 1 {
			t.Fatalf("%s: the text to mutate is not there once; update the mutant:\n%s", e.File, e.Old)
		}
		replace[path] = strings.Replace(src, e.Old, e.New, 1)
	}
	overlay := map[string]map[string]string{"Replace": {}}
	for path, src := range replace {
		mutated := filepath.Join(dir, filepath.Base(path))
		if err := os.WriteFile(mutated, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		overlay["Replace"][path] = mutated
	}
	b, err := json.Marshal(overlay)
	if err != nil {
		t.Fatal(err)
	}
	overlayFile := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "mutant.test")
	if out, err := exec.Command("go", "test", "-c", "-overlay", overlayFile, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("the mutant does not build: %v\n%s", err, out)
	}
	return bin
}

// runBinary runs the tests of a mutant's test binary that run matches, in
// the package directory, and returns their output.
func runBinary(t *testing.T, bin, run string) string {
	args := []string{"-test.count=1", "-test.run", run}
	if !replaying() {
		args = append(args,
			"-rapid.nofailfile",    // a mutant's failure is not a regression of the chapter
			"-rapid.shrinktime=1s") // shrunk enough to be shown; the docs shrink for rapid's 30s
	}
	cmd := exec.Command(bin, args...)
	if os.Getenv("RAPID_CHECKS") == "" {
		cmd.Env = append(os.Environ(), fmt.Sprintf("RAPID_CHECKS=%d", mutantSchedules))
	}
	out, err := cmd.CombinedOutput()
	if err == nil {
		return string(out) + "\n(the mutant passed every property)"
	}
	return string(out)
}

// mutantSchedules is how many schedules a mutant's property test may try
// (in one rapid.Check) before the mutant counts as not caught. The search is
// random: with the 500 of chapter disconnect's settled part, the mutant "a
// peer removed by name" went uncaught in 2 runs of 40. A caught mutant stops
// at its first failure, most of them within 100 schedules, so only a mutant
// that is not caught pays for all of them.
const mutantSchedules = 2000

// A TestMutant is a chapter broken in one small way that a plain test
// catches, not a property: the mechanism it breaks shows only at an instant
// that no schedule can time, and the test sets that instant up.
type TestMutant struct {
	Name  string
	Edits []Edit
	Test  string // the test that must fail
}

// CheckTestMutants builds each mutant, as CheckMutants does, runs its test,
// and fails t unless the test fails.
func CheckTestMutants(t *testing.T, mutants []TestMutant) {
	if testing.Short() {
		t.Skip("builds and runs each mutant: -short skips it")
	}
	for _, m := range mutants {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			out := runBinary(t, buildMutant(t, m.Edits), "^"+m.Test+"$")
			if !strings.Contains(out, "--- FAIL: "+m.Test) {
				t.Fatalf("the mutant was not caught: %s passed:\n%s", m.Test, out)
			}
			t.Logf("caught:\n%s", out)
		})
	}
}
