package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"achat/scenarios"
)

// serverBinary is the achat command that compare starts as "serve": this
// very program. Tests, whose program is a test binary, set it to a built
// achat.
var serverBinary = os.Executable

// compareOptions are the flags of "achat compare".
type compareOptions struct {
	chapters, scenarios []string
	format              string
	expect              string // a CHAPTERS.md, "" to find one, "none" for no check
	seed                string // the seed's binary, "" to look for it beside the CHAPTERS.md
	update, verbose     bool
	parallel            int
	patience            time.Duration
}

// runCompare runs every scenario against every chapter and prints the
// table. It exits 0 when every verdict is the one CHAPTERS.md records.
func runCompare(args []string, stdout, stderr io.Writer) int {
	opts, err := parseCompareFlags(args, stderr)
	if err != nil {
		return 2
	}
	table, expectFile, err := prepareCompare(opts)
	if err != nil {
		fmt.Fprintf(stderr, "achat compare: %v\n", err)
		return 2
	}
	seed, err := seedColumn(table, opts, expectFile, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "achat compare: %v\n", err)
		return 2
	}
	binary, err := serverBinary()
	if err != nil {
		fmt.Fprintf(stderr, "achat compare: %v\n", err)
		return 1
	}
	runner := scenarios.Runner{Binary: binary, Seed: seed, Patience: opts.patience}
	runAll(table, runner, opts.parallel, stderr)
	if opts.update {
		return updateVerdicts(table, expectFile, stdout, stderr)
	}
	writeTable(table, opts, stdout)
	return verdictStatus(table, expectFile, stdout)
}

func parseCompareFlags(args []string, stderr io.Writer) (compareOptions, error) {
	flags := flag.NewFlagSet("compare", flag.ContinueOnError)
	flags.SetOutput(stderr)
	chapterList := flags.String("chapters", "", "the chapters to run, comma-separated (default: all)")
	scenarioList := flags.String("scenarios", "", "the scenarios to run, comma-separated (default: all)")
	format := flags.String("format", "text", "text or markdown")
	expect := flags.String("expect", "", `the CHAPTERS.md whose verdicts every cell must match `+
		`(default: the nearest, from the working directory up; "none": no check)`)
	update := flags.Bool("update", false, "rewrite the verdicts of the -expect file with this run's")
	seed := flags.String("seed", "", "the seed's binary, which runs the column seed "+
		"(default: "+scenarios.SeedBinary+" beside the CHAPTERS.md, if make seed has built it)")
	verbose := flags.Bool("v", false, "print every check of every cell")
	parallel := flags.Int("parallel", 8, "how many runs at a time")
	patience := flags.Duration("patience", scenarios.DefaultPatience,
		"how long a client waits with nothing arriving before it gives up: what a hang costs")
	if err := flags.Parse(args); err != nil {
		return compareOptions{}, err
	}
	if *patience <= 0 {
		fmt.Fprintf(stderr, "achat compare: -patience %v: expected more than 0\n", *patience)
		return compareOptions{}, errors.New("bad patience")
	}
	if *parallel < 1 {
		fmt.Fprintf(stderr, "achat compare: -parallel %d: expected 1 or more\n", *parallel)
		return compareOptions{}, errors.New("bad parallel")
	}
	if *format != "text" && *format != "markdown" {
		fmt.Fprintf(stderr, "achat compare: -format %q: expected text or markdown\n", *format)
		return compareOptions{}, errors.New("bad format")
	}
	return compareOptions{
		chapters: list(*chapterList), scenarios: list(*scenarioList), format: *format,
		expect: *expect, seed: *seed, update: *update, verbose: *verbose,
		parallel: *parallel, patience: *patience,
	}, nil
}

func list(s string) []string {
	var items []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// prepareCompare chooses the rows and the columns, and reads the expected
// verdicts. It returns the expect file it read, "" if none.
func prepareCompare(opts compareOptions) (*scenarios.Table, string, error) {
	all, err := scenarios.All()
	if err != nil {
		return nil, "", err
	}
	table := &scenarios.Table{Scenarios: all, Chapters: chapterNames(),
		Results: map[scenarios.Cell]scenarios.Result{}}
	if len(opts.scenarios) > 0 {
		if table.Scenarios, err = scenarios.Select(all, opts.scenarios); err != nil {
			return nil, "", err
		}
	}
	if len(opts.chapters) > 0 {
		for _, name := range opts.chapters {
			if _, err := findChapter(name); err != nil && name != scenarios.SeedChapter {
				return nil, "", err
			}
		}
		table.Chapters = opts.chapters
	}
	file, err := findExpectFile(opts.expect)
	if err != nil || file == "" {
		return table, "", err
	}
	doc, err := os.ReadFile(file)
	if err != nil {
		return nil, "", err
	}
	if table.Expected, _, err = scenarios.ReadVerdicts(string(doc)); err != nil {
		return nil, "", fmt.Errorf("%s: %w", file, err)
	}
	return table, file, nil
}

// chapterNames are the columns of the comparison: the seed, then the
// chapters in reading order.
func chapterNames() []string {
	names := []string{scenarios.SeedChapter}
	for _, c := range chapters {
		names = append(names, c.name)
	}
	return names
}

// seedColumn finds the seed's binary, if the table has its column. If it is
// not built, the column is left out, with a line on stderr that says how to
// get it, unless -chapters asked for it by name: that is an error.
func seedColumn(table *scenarios.Table, opts compareOptions, expectFile string, stderr io.Writer) (string, error) {
	i := slices.Index(table.Chapters, scenarios.SeedChapter)
	if i < 0 {
		return "", nil
	}
	seed := opts.seed
	if seed == "" {
		seed = filepath.Join(filepath.Dir(expectFile), scenarios.SeedBinary) // expectFile "": the working directory
	}
	if _, err := os.Stat(seed); err == nil {
		return seed, nil
	} else if opts.seed != "" || len(opts.chapters) > 0 {
		return "", fmt.Errorf("the seed: %w (make seed builds it; it needs cargo)", err)
	}
	table.Chapters = slices.Delete(table.Chapters, i, i+1)
	fmt.Fprintf(stderr, "achat compare: no seed column: %s is not built "+
		"(make seed builds it; it needs cargo, see seed/README.md)\n", seed)
	return "", nil
}

// findExpectFile returns the file that -expect names, or the CHAPTERS.md of
// the working directory or the nearest directory above it.
func findExpectFile(flagValue string) (string, error) {
	switch flagValue {
	case "none":
		return "", nil
	case "":
	default:
		return flagValue, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		file := filepath.Join(dir, "CHAPTERS.md")
		if _, err := os.Stat(file); err == nil {
			return file, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New(`no CHAPTERS.md here or above: pass -expect FILE, or -expect none`)
		}
		dir = parent
	}
}

// runAll runs every cell, parallel at a time, and says on stderr how it
// goes. The runs are independent: a process each, on ports of their own.
// Running several at once makes the hangs cost less, as a run that waits
// out a hang uses no CPU. No verdict depends on how fast a run is, only on
// guards far longer than any run needs (see scenarios.DefaultPatience).
func runAll(table *scenarios.Table, runner scenarios.Runner, parallel int, stderr io.Writer) {
	start := time.Now()
	cells := make(chan scenarios.Cell)
	var mu sync.Mutex // guards table.Results, done and stderr
	done, total := 0, len(table.Scenarios)*len(table.Chapters)
	byName := map[string]scenarios.Scenario{}
	for _, sc := range table.Scenarios {
		byName[sc.Name] = sc
	}
	var workers sync.WaitGroup
	for range parallel {
		workers.Go(func() { // ends when cells is closed and drained
			for cell := range cells {
				res := runner.Run(byName[cell.Scenario], cell.Chapter)
				mu.Lock()
				table.Results[cell] = res
				done++
				fmt.Fprintf(stderr, "[%d/%d] %s × %s: %s (%v)\n", done, total, cell.Scenario, cell.Chapter,
					outcome(res), res.Elapsed.Round(time.Millisecond))
				mu.Unlock()
			}
		})
	}
	// Chapter by chapter, so that the runs at the same time are mostly of
	// different scenarios: heavy ones and idle ones mixed.
	for _, ch := range table.Chapters {
		for _, sc := range table.Scenarios {
			cells <- scenarios.Cell{Scenario: sc.Name, Chapter: ch}
		}
	}
	close(cells) // the only close: every cell has been handed out
	workers.Wait()
	fmt.Fprintf(stderr, "%d runs in %v\n", total, time.Since(start).Round(100*time.Millisecond))
}

func outcome(res scenarios.Result) string {
	switch {
	case res.Err != nil:
		return "error: " + res.Err.Error()
	case !res.Pass:
		return "FAIL " + res.Figure
	}
	return "pass " + res.Figure
}

func writeTable(table *scenarios.Table, opts compareOptions, stdout io.Writer) {
	if opts.format == "markdown" {
		table.WriteMarkdown(stdout)
	} else {
		table.WriteText(stdout)
	}
	if opts.verbose {
		fmt.Fprintln(stdout)
		table.WriteDetails(stdout)
	}
}

// verdictStatus says whether every verdict is the expected one: 0 if so.
func verdictStatus(table *scenarios.Table, expectFile string, stdout io.Writer) int {
	if expectFile == "" {
		for _, res := range table.Results {
			if res.Err != nil {
				return 1
			}
		}
		return 0
	}
	mismatches := table.Mismatches()
	fmt.Fprintln(stdout)
	if len(mismatches) == 0 {
		fmt.Fprintf(stdout, "Every verdict is the one %s records.\n", expectFile)
		return 0
	}
	fmt.Fprintf(stdout, "%d verdicts differ from %s:\n", len(mismatches), expectFile)
	for _, m := range mismatches {
		fmt.Fprintln(stdout, "  "+m)
	}
	fmt.Fprintln(stdout, "If the new verdicts are right, run make compare-update and commit CHAPTERS.md.")
	return 1
}

// updateVerdicts writes this run's verdicts into the expect file. The cells
// that did not run keep the verdicts they had.
func updateVerdicts(table *scenarios.Table, expectFile string, stdout, stderr io.Writer) int {
	if expectFile == "" {
		fmt.Fprintln(stderr, "achat compare -update: which file? pass -expect CHAPTERS.md")
		return 2
	}
	for _, res := range table.Results {
		if res.Err != nil {
			fmt.Fprintf(stderr, "achat compare -update: %s × %s: %v\n", res.Scenario, res.Chapter, res.Err)
			return 1
		}
	}
	doc, err := os.ReadFile(expectFile)
	if err != nil {
		fmt.Fprintf(stderr, "achat compare: %v\n", err)
		return 1
	}
	verdicts := table.Expected
	for cell, pass := range table.Verdicts() {
		verdicts[cell] = pass
	}
	all, err := scenarios.All()
	if err != nil {
		fmt.Fprintf(stderr, "achat compare: %v\n", err)
		return 1
	}
	block := scenarios.VerdictBlock(all, chapterNames(), verdicts)
	updated, err := scenarios.ReplaceVerdicts(string(doc), block)
	if err == nil {
		err = os.WriteFile(expectFile, []byte(updated), 0o644)
	}
	if err != nil {
		fmt.Fprintf(stderr, "achat compare: %s: %v\n", expectFile, err)
		return 1
	}
	table.WriteText(stdout)
	fmt.Fprintf(stdout, "\nWrote the verdicts into %s.\n", expectFile)
	return 0
}
