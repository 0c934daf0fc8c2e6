package chattest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"achat/model"
)

// A Mutant is a chapter broken in one small way, as a reader might break it
// when they write it themselves.
type Mutant struct {
	Name  string
	Edits []Edit
	Want  model.Property // the property that must catch it
	// Also: other properties the mutant breaks. A mutant can break two
	// promises at once, and which one rapid finds first depends on the
	// schedules it draws: any of them catching it counts.
	Also []model.Property
	Run  string // the tests to run, if not CheckMutants's run
}

// An Edit replaces Old, which must occur once in File, with New. File is
// relative to the package directory the test runs in.
type Edit struct{ File, Old, New string }

// Replace returns the Edit that replaces old with new in file.
func Replace(file, old, new string) Edit { return Edit{File: file, Old: old, New: new} }

// CheckMutants builds each mutant of the package the test runs in, runs the
// tests that run matches (its property test) and fails t unless each mutant
// fails with its Want property (or one of Also) and a counterexample shrunk
// by rapid.
//
// The mutant is built with go test -overlay, which swaps a file's contents
// for one build and leaves the tree alone. A property that no broken server
// fails is not a test: this is how a chapter shows that its properties can
// fail.
func CheckMutants(t *testing.T, run string, mutants []Mutant) {
	if testing.Short() {
		t.Skip("builds and runs each mutant: -short skips it")
	}
	for _, m := range mutants {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			tests := run
			if m.Run != "" {
				tests = m.Run
			}
			out, err := runMutant(t, tests, m.Edits)
			// rapid found a failure but its replay passed: scheduling decided
			// it, not the schedule. That catch has no shrunk counterexample to
			// show, so it does not count; the mutant runs again, a few times.
			for try := 1; try < mutantTries && strings.Contains(out, "[rapid] flaky test"); try++ {
				t.Logf("run %d found a failure that its replay did not reproduce; running again:\n%s", try, out)
				out, err = runMutant(t, tests, m.Edits)
			}
			if err == nil {
				t.Fatalf("the mutant passed every property:\n%s", out)
			}
			if want := append([]model.Property{m.Want}, m.Also...); !caughtBy(out, want) {
				t.Fatalf("the mutant failed, but rapid shrank no failure of %q (a failure that does not replay does not count):\n%s",
					want, out)
			}
			t.Logf("caught:\n%s", out)
		})
	}
}

// mutantTries bounds the runs of a mutant whose failures do not replay.
const mutantTries = 3

// caughtBy reports whether rapid, in out, reports a shrunk failure of one of
// the properties in want. Its line reads "[rapid] failed after N tests: P".
func caughtBy(out string, want []model.Property) bool {
	for line := range strings.Lines(out) {
		_, failure, ok := strings.Cut(line, "[rapid] failed after ")
		if !ok {
			continue
		}
		for _, p := range want {
			if strings.Contains(failure, string(p)) {
				return true
			}
		}
	}
	return false
}

// runMutant runs the tests matching run with edits applied, through an
// overlay, and returns their output.
func runMutant(t *testing.T, run string, edits []Edit) (string, error) {
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
	args := []string{"test", "-overlay", overlayFile, "-count=1", "-run", run}
	if os.Getenv("RAPID_NOFAILFILE") == "" { // make docs sets it, to store the draw
		args = append(args, "-rapid.nofailfile") // a mutant's failure is not a regression of the chapter
	}
	cmd := exec.Command("go", append(args, ".")...)
	if os.Getenv("RAPID_CHECKS") == "" {
		cmd.Env = append(os.Environ(), fmt.Sprintf("RAPID_CHECKS=%d", mutantSchedules))
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mutantSchedules is how many schedules a mutant's property test may try
// (in one rapid.Check) before the mutant counts as not caught. The search is
// random: with the 500 of chapter disconnect's settled part, the mutant "a
// peer removed by name" went uncaught in 2 runs of 40. A caught mutant stops
// at its first failure, most of them within 100 schedules, so only a mutant
// that is not caught pays for all of them.
const mutantSchedules = 2000
