package doccheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// CHAPTERS.md's table of diff sizes is what scripts/chapter-diff prints
// today: a change to a chapter that makes a row stale fails here, and the
// row is counted again.
func TestDiffSizesAreCurrent(t *testing.T) {
	root := filepath.Join("..", "..")
	chapters, err := os.ReadFile(filepath.Join(root, "CHAPTERS.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, found := strings.Cut(string(chapters), "<!-- diff sizes: scripts/chapter-diff -->\n")
	if !found {
		t.Fatal("CHAPTERS.md has no table of diff sizes")
	}
	table, _, _ = strings.Cut(table, "\n\n")
	row := regexp.MustCompile("^\\| `(\\w+)` -> `(\\w+)` \\|.*\\| (\\d+) / (\\d+) \\|$")
	rows := 0
	for line := range strings.Lines(table) {
		m := row.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue // the header
		}
		rows++
		added, removed := diffSize(t, root, m[1], m[2])
		if strconv.Itoa(added) != m[3] || strconv.Itoa(removed) != m[4] {
			t.Errorf("%s -> %s: CHAPTERS.md says %s / %s lines, scripts/chapter-diff counts %d / %d",
				m[1], m[2], m[3], m[4], added, removed)
		}
	}
	if rows == 0 {
		t.Fatal("no row in CHAPTERS.md's table of diff sizes")
	}
}

// diffSize counts the lines that scripts/chapter-diff adds and removes from
// chapter from to chapter to, the file headers left out.
func diffSize(t *testing.T, root, from, to string) (added, removed int) {
	out, err := exec.Command("bash", filepath.Join(root, "scripts", "chapter-diff"), from, to).Output()
	if err != nil {
		t.Fatalf("scripts/chapter-diff %s %s: %v", from, to, err)
	}
	for line := range strings.Lines(string(out)) {
		switch {
		case strings.HasPrefix(line, "+++ "), strings.HasPrefix(line, "--- "):
		case strings.HasPrefix(line, "+"):
			added++
		case strings.HasPrefix(line, "-"):
			removed++
		}
	}
	return added, removed
}
