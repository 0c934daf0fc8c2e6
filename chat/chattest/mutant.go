package chattest

import (
	"encoding/json"
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
	Run   string         // the tests to run, if not CheckMutants's run
}

// An Edit replaces Old, which must occur once in File, with New. File is
// relative to the package directory the test runs in.
type Edit struct{ File, Old, New string }

// Replace returns the Edit that replaces old with new in file.
func Replace(file, old, new string) Edit { return Edit{File: file, Old: old, New: new} }

// CheckMutants builds each mutant of the package the test runs in, runs the
// tests that run matches (its property test) and fails t unless each mutant
// fails with its Want property and a counterexample shrunk by rapid.
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
			if err == nil {
				t.Fatalf("the mutant passed every property:\n%s", out)
			}
			if !strings.Contains(out, "[rapid] failed") || !strings.Contains(out, string(m.Want)) {
				t.Fatalf("the mutant failed, but not with %q:\n%s", m.Want, out)
			}
			t.Logf("caught:\n%s", out)
		})
	}
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
	cmd := exec.Command("go", "test", "-overlay", overlayFile, "-count=1", "-run", run,
		"-rapid.nofailfile", ".")
	out, err := cmd.CombinedOutput()
	return string(out), err
}
