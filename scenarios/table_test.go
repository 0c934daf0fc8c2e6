package scenarios

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func exampleTable() *Table {
	return &Table{
		Scenarios: []Scenario{
			{Name: "slow-reader", File: "01-slow-reader.scenario", Title: "a slow reader | gets all"},
			{Name: "taken-name", File: "06-taken-name.scenario", Title: "told why"},
		},
		Chapters: []string{"broker", "shutdown"},
		Results: map[Cell]Result{
			{"slow-reader", "broker"}:   {Figure: "lost 251,846"},
			{"slow-reader", "shutdown"}: {Pass: true, Figure: "300,000 in order"},
			{"taken-name", "broker"}:    {Figure: "refused silently"},
			{"taken-name", "shutdown"}:  {Figure: "refused silently"},
		},
	}
}

const doc = "# Chapters\n\n## Verdicts\n\n" + BeginMarker + "\n" + EndMarker + "\n\nAfter.\n"

func TestVerdictsRoundTripThroughCHAPTERS(t *testing.T) {
	table := exampleTable()
	updated, err := ReplaceVerdicts(doc, VerdictBlock(table.Scenarios, table.Chapters, table.Verdicts()))
	require.NoError(t, err)
	assert.Equal(t, "# Chapters\n\n## Verdicts\n\n"+BeginMarker+`
| scenario | what it shows | broker | shutdown |
|---|---|---|---|
| [slow-reader](scenarios/01-slow-reader.scenario) | a slow reader \| gets all | FAIL | pass |
| [taken-name](scenarios/06-taken-name.scenario) | told why | FAIL | FAIL |
`+EndMarker+"\n\nAfter.\n", updated)
	v, chapters, err := ReadVerdicts(updated)
	require.NoError(t, err)
	assert.Equal(t, []string{"broker", "shutdown"}, chapters)
	assert.Equal(t, table.Verdicts(), v)
	again, err := ReplaceVerdicts(updated, VerdictBlock(table.Scenarios, table.Chapters, v))
	require.NoError(t, err)
	assert.Equal(t, updated, again, "rewriting the same verdicts changes nothing")
}

func TestReadVerdictsRejectsWhatItCannotRead(t *testing.T) {
	_, _, err := ReadVerdicts("no markers")
	assert.ErrorContains(t, err, "expected the lines")
	_, _, err = ReadVerdicts(BeginMarker + "\n| a | b |\n" + EndMarker)
	assert.ErrorContains(t, err, `expected a table whose header starts "| scenario | what it shows |"`)
	_, _, err = ReadVerdicts(BeginMarker + "\n| scenario | what | naive |\n|---|---|---|\n| x | y | ok |\n" + EndMarker)
	assert.ErrorContains(t, err, `x × naive: expected pass or FAIL; got "ok"`)
	v, _, err := ReadVerdicts(doc)
	require.NoError(t, err)
	assert.Empty(t, v, "an empty block: no verdicts yet")
}

func TestMismatchesNameEveryDifference(t *testing.T) {
	table := exampleTable()
	table.Expected = table.Verdicts()
	assert.Empty(t, table.Mismatches())

	table.Expected[Cell{"slow-reader", "shutdown"}] = false
	delete(table.Expected, Cell{"taken-name", "broker"})
	table.Chapters = append(table.Chapters, "disconnect")
	table.Results[Cell{"slow-reader", "disconnect"}] = Result{Pass: true, Figure: "300,000 in order"}
	assert.Equal(t, []string{
		"taken-name × broker: FAIL, and CHAPTERS.md has no verdict for it",
		"slow-reader × shutdown: pass (300,000 in order), CHAPTERS.md says FAIL",
		"chapter disconnect: CHAPTERS.md has no verdicts for it",
	}, table.Mismatches())
}

func TestTheTableShowsVerdictsFiguresAndSurprises(t *testing.T) {
	table := exampleTable()
	table.Expected = table.Verdicts()
	table.Expected[Cell{"taken-name", "shutdown"}] = true
	var text strings.Builder
	require.NoError(t, table.WriteText(&text))
	assert.Equal(t, `scenario     broker                 shutdown
slow-reader  FAIL lost 251,846      pass 300,000 in order
taken-name   FAIL refused silently  FAIL refused silently (expected pass)

slow-reader: a slow reader | gets all
taken-name: told why
`, text.String())
	var md strings.Builder
	require.NoError(t, table.WriteMarkdown(&md))
	assert.Equal(t, `| scenario | broker | shutdown |
|---|---|---|
| slow-reader | **FAIL** lost 251,846 | pass 300,000 in order |
| taken-name | **FAIL** refused silently | **FAIL** refused silently (expected pass) |

- `+"`slow-reader`"+`: a slow reader \| gets all
- `+"`taken-name`"+`: told why
`, md.String())
}
