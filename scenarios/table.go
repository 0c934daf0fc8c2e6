package scenarios

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Cell names one cell of the comparison: a scenario (a row) run against a
// chapter (a column).
type Cell struct{ Scenario, Chapter string }

// Table is a comparison: a result per cell, and the verdicts it is
// expected to have, if any.
type Table struct {
	Scenarios []Scenario
	Chapters  []string
	Results   map[Cell]Result
	Expected  Verdicts // nil: nothing to compare with
}

// Verdicts are the pass (true) or FAIL (false) of each cell. A cell that is
// not in the map has no verdict.
type Verdicts map[Cell]bool

// Verdicts returns the verdicts of the results, errors left out.
func (t *Table) Verdicts() Verdicts {
	v := Verdicts{}
	for cell, res := range t.Results {
		if res.Err == nil {
			v[cell] = res.Pass
		}
	}
	return v
}

// Mismatches says, for each cell that ran, why it does not match Expected:
// a different verdict, a run that failed, or no verdict expected. A chapter
// with no verdict at all is one line, not one per scenario.
func (t *Table) Mismatches() []string {
	var out []string
	for _, ch := range t.Chapters {
		if !t.hasColumn(ch) {
			out = append(out, fmt.Sprintf("chapter %s: CHAPTERS.md has no verdicts for it", ch))
			continue
		}
		for _, sc := range t.Scenarios {
			if m := t.mismatch(Cell{sc.Name, ch}); m != "" {
				out = append(out, fmt.Sprintf("%s × %s: %s", sc.Name, ch, m))
			}
		}
	}
	return out
}

func (t *Table) hasColumn(chapter string) bool {
	for cell := range t.Expected {
		if cell.Chapter == chapter {
			return true
		}
	}
	return false
}

func (t *Table) mismatch(cell Cell) string {
	res, ran := t.Results[cell]
	want, known := t.Expected[cell]
	switch {
	case !ran:
		return ""
	case res.Err != nil:
		return res.Err.Error()
	case !known:
		return verdict(res.Pass) + ", and CHAPTERS.md has no verdict for it"
	case want != res.Pass:
		return fmt.Sprintf("%s (%s), CHAPTERS.md says %s", verdict(res.Pass), res.Figure, verdict(want))
	}
	return ""
}

func verdict(pass bool) string {
	if pass {
		return "pass"
	}
	return "FAIL"
}

// cellText is what a cell shows: "FAIL lost 251,846", and what was expected
// when that differs.
func (t *Table) cellText(cell Cell, bold bool) string {
	res, ok := t.Results[cell]
	if !ok {
		return ""
	}
	if res.Err != nil {
		return "error"
	}
	v := verdict(res.Pass)
	if bold && !res.Pass {
		v = "**FAIL**"
	}
	text := v + " " + res.Figure
	if want, known := t.Expected[cell]; t.Expected != nil && (!known || want != res.Pass) {
		text += " (expected " + expectedText(want, known) + ")"
	}
	return text
}

func expectedText(want, known bool) string {
	if !known {
		return "nothing"
	}
	return verdict(want)
}

// WriteText writes the table for a terminal: rows are scenarios, columns
// chapters; then what each scenario shows.
func (t *Table) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\t%s\n", strings.Join(t.Chapters, "\t"))
	for _, sc := range t.Scenarios {
		row := []string{sc.Name}
		for _, ch := range t.Chapters {
			row = append(row, t.cellText(Cell{sc.Name, ch}, false))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, sc := range t.Scenarios {
		fmt.Fprintf(w, "%s: %s\n", sc.Name, sc.Title)
	}
	return nil
}

// WriteMarkdown writes the table as markdown, figures included.
func (t *Table) WriteMarkdown(w io.Writer) error {
	fmt.Fprintf(w, "| scenario | %s |\n|---|%s\n", strings.Join(t.Chapters, " | "),
		strings.Repeat("---|", len(t.Chapters)))
	for _, sc := range t.Scenarios {
		row := []string{sc.Name}
		for _, ch := range t.Chapters {
			row = append(row, escape(t.cellText(Cell{sc.Name, ch}, true)))
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
	fmt.Fprintln(w)
	for _, sc := range t.Scenarios {
		fmt.Fprintf(w, "- `%s`: %s\n", sc.Name, escape(sc.Title))
	}
	return nil
}

func escape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// WriteDetails writes every check of every cell, or the step that got stuck.
func (t *Table) WriteDetails(w io.Writer) {
	for _, sc := range t.Scenarios {
		for _, ch := range t.Chapters {
			res, ok := t.Results[Cell{sc.Name, ch}]
			if !ok {
				continue
			}
			fmt.Fprintf(w, "%s × %s (%s):\n", sc.Name, ch, duration(res.Elapsed))
			writeOutcomes(w, sc.File, res)
		}
	}
}

func writeOutcomes(w io.Writer, file string, res Result) {
	switch {
	case res.Err != nil:
		fmt.Fprintf(w, "  error: %v\n", res.Err)
	case res.Stuck != nil:
		fmt.Fprintf(w, "  %s:%d: %s: %s; no expectation checked\n",
			file, res.Stuck.Line, res.Stuck.Text, res.Stuck.Figure)
	}
	for _, c := range res.Checks {
		fmt.Fprintf(w, "  %s:%d: %s %s: %s\n", file, c.Line, verdict(c.Pass), c.Text, c.Figure)
	}
}
