package scenarios

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// The verdicts committed in CHAPTERS.md stand between these two lines.
const (
	BeginMarker = "<!-- compare: begin (make compare-update writes this table) -->"
	EndMarker   = "<!-- compare: end -->"
)

// block returns the lines between the markers of doc, and where they start
// and end in doc.
func block(doc string) (inner string, start, end int, err error) {
	b := strings.Index(doc, BeginMarker)
	e := strings.Index(doc, EndMarker)
	if b < 0 || e < b {
		return "", 0, 0, fmt.Errorf("expected the lines %q and %q around the verdicts",
			BeginMarker, EndMarker)
	}
	start = b + len(BeginMarker)
	return doc[start:e], start, e, nil
}

var linkText = regexp.MustCompile(`^\[([^\]]+)\]\(.*\)$`)

// ReadVerdicts reads the verdict table of a CHAPTERS.md: a header
// "| scenario | what it shows | naive | ... |", then one row per scenario
// whose chapter cells are "pass" or "FAIL". It also returns the chapters of
// the header, in order.
func ReadVerdicts(doc string) (Verdicts, []string, error) {
	inner, _, _, err := block(doc)
	if err != nil {
		return nil, nil, err
	}
	var rows [][]string
	for line := range strings.Lines(inner) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "|") && !strings.HasPrefix(line, "|---") {
			rows = append(rows, splitRow(line))
		}
	}
	if len(rows) == 0 { // no table yet: no verdicts
		return Verdicts{}, nil, nil
	}
	if len(rows[0]) < 2 || rows[0][0] != "scenario" {
		return nil, nil, errors.New(`expected a table whose header starts "| scenario | what it shows |"`)
	}
	chapters := rows[0][2:]
	v := Verdicts{}
	for _, row := range rows[1:] {
		name := row[0]
		if m := linkText.FindStringSubmatch(name); m != nil {
			name = m[1]
		}
		for i, ch := range chapters {
			if 2+i >= len(row) {
				break
			}
			switch row[2+i] {
			case "pass":
				v[Cell{name, ch}] = true
			case "FAIL":
				v[Cell{name, ch}] = false
			case "":
			default:
				return nil, nil, fmt.Errorf("%s × %s: expected pass or FAIL; got %q", name, ch, row[2+i])
			}
		}
	}
	return v, chapters, nil
}

// splitRow splits "| a | b \| c |" into its trimmed cells: "a", "b | c".
func splitRow(line string) []string {
	const bar = "\x00" // stands for an escaped "|" while the row is split
	line = strings.ReplaceAll(line, `\|`, bar)
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	cells := strings.Split(line, "|")
	for i := range cells {
		cells[i] = strings.ReplaceAll(strings.TrimSpace(cells[i]), bar, "|")
	}
	return cells
}

// VerdictBlock writes the verdict table for CHAPTERS.md: pass or FAIL only,
// since the figures vary from run to run and the verdicts must not.
func VerdictBlock(scenarios []Scenario, chapters []string, v Verdicts) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n| scenario | what it shows | %s |\n|---|---|%s\n", strings.Join(chapters, " | "),
		strings.Repeat("---|", len(chapters)))
	for _, sc := range scenarios {
		fmt.Fprintf(&b, "| [%s](scenarios/%s) | %s |", sc.Name, sc.File, escape(sc.Title))
		for _, ch := range chapters {
			pass, known := v[Cell{sc.Name, ch}]
			switch {
			case !known:
				b.WriteString("  |")
			default:
				b.WriteString(" " + verdict(pass) + " |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// ReplaceVerdicts returns doc with the lines between its markers replaced
// by block.
func ReplaceVerdicts(doc, newBlock string) (string, error) {
	_, start, end, err := block(doc)
	if err != nil {
		return "", err
	}
	return doc[:start] + newBlock + doc[end:], nil
}
