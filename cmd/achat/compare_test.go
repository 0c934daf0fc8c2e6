package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"achat/internal/testbin"
)

// The verdicts committed in CHAPTERS.md are the ones the chapters earn: the
// whole comparison, run as make compare runs it, by the achat that TestMain
// built (without -race: the runs need not be slowed down).
func TestCompareVerdictsAreCommitted(t *testing.T) {
	if testing.Short() {
		t.Skip("the whole comparison takes about a minute and a half")
	}
	if os.Getenv("CI") != "" {
		testbin.Seed(t) // CI builds the seed: its column must be in the run
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(binary, "compare", "-expect", "../../CHAPTERS.md")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("achat compare: %v\n%s\n%s\nThe verdicts in CHAPTERS.md are stale: "+
			"if the new ones are right, run make compare-update and commit CHAPTERS.md.",
			err, stdout.String(), lastLines(stderr.String(), 5))
	}
	t.Logf("\n%s", stdout.String())
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// useBuiltAchat makes compare start the achat that TestMain built, not the
// test binary, for the length of the test.
func useBuiltAchat(t *testing.T) {
	saved := serverBinary
	serverBinary = func() (string, error) { return binary, nil }
	t.Cleanup(func() { serverBinary = saved })
}

// verdictsFile writes a CHAPTERS.md with the given verdict rows for the
// chapter shutdown, and returns its path.
func verdictsFile(t *testing.T, rows string) string {
	file := filepath.Join(t.TempDir(), "CHAPTERS.md")
	doc := "# Chapters\n\n<!-- compare: begin (make compare-update writes this table) -->\n" +
		"| scenario | what it shows | shutdown |\n|---|---|---|\n" + rows + "<!-- compare: end -->\n"
	require.NoError(t, os.WriteFile(file, []byte(doc), 0o644))
	return file
}

func compare(args ...string) (status int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	status = run(append([]string{"compare"}, args...), strings.NewReader(""), &out, &errOut)
	return status, out.String(), errOut.String()
}

func TestCompareExitsZeroOnlyWhenEveryVerdictIsExpected(t *testing.T) {
	useBuiltAchat(t)
	args := []string{"-chapters", "shutdown", "-scenarios", "never-logs-in,taken-name"}

	right := verdictsFile(t, "| never-logs-in | x | pass |\n| taken-name | x | FAIL |\n")
	status, stdout, stderr := compare(append(args, "-expect", right)...)
	assert.Equal(t, 0, status, stdout)
	assert.Contains(t, stdout, "never-logs-in  pass exit 0 in ")
	assert.Contains(t, stdout, "Every verdict is the one "+right+" records.")
	assert.Contains(t, stderr, "[2/2] ", "progress on stderr")

	wrong := verdictsFile(t, "| never-logs-in | x | FAIL |\n")
	status, stdout, _ = compare(append(args, "-expect", wrong)...)
	assert.Equal(t, 1, status)
	assert.Contains(t, stdout, "never-logs-in × shutdown: pass (exit 0 in ")
	assert.Contains(t, stdout, "CHAPTERS.md says FAIL")
	assert.Contains(t, stdout, "taken-name × shutdown: FAIL, and CHAPTERS.md has no verdict for it")
	assert.Contains(t, stdout, "run make compare-update")

	status, stdout, _ = compare(append(args, "-expect", wrong, "-update")...)
	assert.Equal(t, 0, status, stdout)
	updated, err := os.ReadFile(wrong)
	require.NoError(t, err)
	assert.Contains(t, string(updated), "| [never-logs-in](scenarios/03-never-logs-in.scenario) | "+
		"a client that never sends its name does not hold up Ctrl-C |  | ")
	assert.Regexp(t, `never-logs-in.* \| pass \|`, string(updated), "the run's verdict replaced the stale one")
	status, _, _ = compare(append(args, "-expect", wrong)...)
	assert.Equal(t, 0, status, "after -update, the run matches")
}

func TestCompareWritesMarkdown(t *testing.T) {
	useBuiltAchat(t)
	status, stdout, _ := compare("-chapters", "broker", "-scenarios", "taken-name", "-expect", "none",
		"-format", "markdown", "-v")
	assert.Equal(t, 0, status)
	assert.Contains(t, stdout, "| scenario | broker |\n|---|---|\n| taken-name | **FAIL** refused silently |\n")
	assert.Contains(t, stdout, `06-taken-name.scenario:4: FAIL expect impostor received a line starting with`)
}

func TestCompareRefusesBadFlags(t *testing.T) {
	for _, tc := range []struct{ args, err string }{
		{"-format xml", `-format "xml": expected text or markdown`},
		{"-parallel 0", "-parallel 0: expected 1 or more"},
		{"-patience 0s", "-patience 0s: expected more than 0"},
		{"-chapters nope", `unknown chapter "nope" (have naive, broker, notify, drain, shutdown, disconnect, replies`},
		{"-scenarios nope", `no scenario "nope" (have slow-reader, `},
		{"-expect /no/such/CHAPTERS.md", "no such file"},
		{"-chapters seed -seed /no/such/seed", "the seed: stat /no/such/seed: no such file or directory (make seed builds it"},
	} {
		status, _, stderr := compare(strings.Fields(tc.args)...)
		assert.Equal(t, 2, status, tc.args)
		assert.Contains(t, stderr, tc.err, tc.args)
	}
}

// Without the seed's binary beside the CHAPTERS.md, its column is left
// out, and one line says how to get it.
func TestCompareLeavesOutTheSeedWhenItIsNotBuilt(t *testing.T) {
	useBuiltAchat(t)
	status, stdout, stderr := compare("-scenarios", "taken-name", "-expect", verdictsFile(t, ""))
	assert.Equal(t, 1, status, "the file has no verdicts")
	assert.Contains(t, stderr, "achat compare: no seed column: ")
	assert.Contains(t, stderr, "seed/target/release/seed is not built (make seed builds it; it needs cargo")
	assert.Contains(t, stdout, "scenario    naive ", "the chapters, the seed left out")
}

// The seed's column: its bug 3 (a client that never logs in hangs Ctrl-C)
// and its refusal of a taken name, without a word.
func TestCompareRunsTheSeed(t *testing.T) {
	useBuiltAchat(t)
	seed := testbin.Seed(t)
	status, stdout, _ := compare("-chapters", "seed", "-scenarios", "never-logs-in,taken-name",
		"-seed", seed, "-expect", "none")
	assert.Equal(t, 0, status, stdout)
	assert.Contains(t, stdout, "never-logs-in  FAIL hung > 5s")
	assert.Contains(t, stdout, "taken-name     FAIL refused silently")
}

func TestCompareFindsCHAPTERSAbove(t *testing.T) {
	file, err := findExpectFile("")
	require.NoError(t, err)
	want, err := filepath.Abs("../../CHAPTERS.md")
	require.NoError(t, err)
	assert.Equal(t, want, file)
	file, err = findExpectFile("none")
	assert.NoError(t, err)
	assert.Empty(t, file)
}

// The sample table on README's first screen is cut from the run that make
// compare-update stored in docs/compare-run.txt: every cell of it is that
// run's, so that its figures are ones a run printed.
func TestReadmeSampleIsFromTheStoredRun(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	stored, err := os.ReadFile("../../docs/compare-run.txt")
	require.NoError(t, err)
	storedRows := map[string]string{} // scenario -> its row
	for _, row := range strings.Split(string(stored), "\n") {
		if fields := strings.Fields(row); len(fields) > 0 {
			storedRows[fields[0]] = row
		}
	}
	_, after, found := strings.Cut(string(readme), "(docs/compare-run.txt)):\n\n```\n")
	require.True(t, found, "README's sample table, after a mention of docs/compare-run.txt")
	sample, _, _ := strings.Cut(after, "```")
	rows := strings.Split(strings.TrimSpace(sample), "\n")
	require.Greater(t, len(rows), 1)
	for _, row := range rows[1:] { // the first is the header
		cells := splitCells(row)
		storedRow, ok := storedRows[cells[0]]
		if !assert.True(t, ok, "scenario %q is not in docs/compare-run.txt", cells[0]) {
			continue
		}
		for _, cell := range cells[1:] {
			assert.Contains(t, storedRow, cell, "README's cell for %s", cells[0])
		}
	}
}

// splitCells splits a row of compare's text table at runs of two spaces or
// more: a cell itself holds single spaces only.
func splitCells(row string) []string {
	var cells []string
	for _, cell := range strings.Split(row, "  ") {
		if cell = strings.TrimSpace(cell); cell != "" {
			cells = append(cells, cell)
		}
	}
	return cells
}

// CHAPTERS.md's "Measured" table copies its figures from the SIGINT run
// stored in docs/sigint-run.txt (make measure): each row's counts and times
// must be that run's, for its chapter, in the order the run logged them.
func TestMeasuredTableIsFromTheStoredRun(t *testing.T) {
	chapters, err := os.ReadFile("../../CHAPTERS.md")
	require.NoError(t, err)
	stored, err := os.ReadFile("../../docs/sigint-run.txt")
	require.NoError(t, err)
	runs := map[string][]string{} // chapter -> the figures of its runs, in order
	figures := regexp.MustCompile(`-chapter (\S+) .*?, (\d+) delivered, .*, (\d+)ms after SIGINT`)
	for _, line := range strings.Split(string(stored), "\n") {
		if m := figures.FindStringSubmatch(line); m != nil {
			delivered, _ := strconv.Atoi(m[2])
			runs[m[1]] = append(runs[m[1]], commas(delivered), m[3]+" ms")
		}
	}
	_, table, found := strings.Cut(string(chapters), "| chapter | delivered of 300,000 | exit |\n|---|---|---|\n")
	require.True(t, found, "CHAPTERS.md's Measured table")
	table, _, _ = strings.Cut(table, "\n\n")
	rows := strings.Split(table, "\n")
	require.NotEmpty(t, rows)
	for _, row := range rows {
		name := strings.Trim(strings.TrimSpace(strings.Split(row, "|")[1]), "`")
		want, ok := runs[name]
		if !assert.True(t, ok, "no run of chapter %s in docs/sigint-run.txt", name) {
			continue
		}
		rest := row
		for _, figure := range want[:2] { // the first run's count, then its time
			i := strings.Index(rest, figure)
			if !assert.GreaterOrEqual(t, i, 0, "%s's row lacks %q, from the stored run:\n%s", name, figure, row) {
				break
			}
			rest = rest[i+len(figure):]
		}
		for i := 3; i < len(want); i += 2 { // a later run's time
			assert.Contains(t, rest, want[i], "%s's row, from the stored run", name)
		}
	}
}

// commas writes n with a comma every three digits, as the pages do.
func commas(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
