// Command spinreport model-checks the shutdown protocol: it runs Spin on
// model/spin/shutdown.pml for the correct model and for each bug variant,
// prints one line per check (verdict, states, depth, memory, time), then
// tells each counterexample as a story.
//
// From the repository root:
//
//	go run ./model/spin/cmd/spinreport            every variant
//	go run ./model/spin/cmd/spinreport -run notify  the variants whose name contains "notify"
//	go run ./model/spin/cmd/spinreport -bugs        the bug variants only: every story, sooner
//
// It exits 1 if any verdict is not the expected one.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"achat/model/spin"
)

// finding is a check that found an error, kept for its story.
type finding struct {
	variant spin.Variant
	mode    spin.Mode
	result  spin.Result
}

func main() {
	only := flag.String("run", "", "check only the variants whose name contains this")
	bugs := flag.Bool("bugs", false, "check only the bug variants (the correct ones tell no story)")
	flag.Parse()
	if missing := spin.Tools(); missing != "" {
		fmt.Fprintln(os.Stderr, "spinreport:", missing)
		os.Exit(2)
	}
	tmp, err := os.MkdirTemp("", "spinreport")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(tmp)

	findings, unexpected := checkAll(tmp, *only, *bugs)
	for _, f := range findings {
		tellStory(f)
	}
	if unexpected > 0 {
		fmt.Printf("\n%d verdict(s) not as expected\n", unexpected)
		os.RemoveAll(tmp)
		os.Exit(1)
	}
}

// checkAll runs every selected check, prints its line, and returns those
// that found an error and how many verdicts were not the expected ones.
func checkAll(tmp, only string, bugsOnly bool) (findings []finding, unexpected int) {
	fmt.Printf("%-20s %-13s %-7s %9s %6s %8s %7s  %s\n",
		"variant", "check", "verdict", "states", "depth", "memory", "time", "pan")
	for _, v := range spin.Variants {
		if !strings.Contains(v.Name, only) || bugsOnly && v.Bug == "" {
			continue
		}
		for _, e := range v.Expect {
			dir, err := os.MkdirTemp(tmp, v.Name)
			if err != nil {
				fail(err)
			}
			r, err := spin.Check(dir, v, e.Mode)
			if err != nil {
				fail(err)
			}
			ok, why := e.Verdict(r)
			printLine(v, e, r, ok, why)
			if !ok {
				unexpected++
			}
			if r.Errors > 0 {
				findings = append(findings, finding{v, e.Mode, r})
			}
		}
	}
	return findings, unexpected
}

func printLine(v spin.Variant, e spin.Expect, r spin.Result, ok bool, why string) {
	verdict := "PASS"
	if !r.Passed() {
		verdict = "FAIL"
	}
	note := r.Error
	if note == "" {
		note = "errors: 0"
	}
	if !ok {
		note = "UNEXPECTED: " + why
	}
	fmt.Printf("%-20s %-13s %-7s %9d %6d %6.1fMB %6.2fs  %s\n",
		v.Name, e.Mode, verdict, r.States, r.Depth, r.MemoryMB, r.Seconds, note)
}

func tellStory(f finding) {
	fmt.Printf("\n== %s (%s): %s\n", f.variant.Name, f.mode, f.variant.Bug)
	story, err := spin.Story(f.variant, f.result)
	if err != nil {
		fail(err)
	}
	for line := range strings.Lines(story) {
		fmt.Print("   ", line)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "spinreport:", err)
	os.Exit(2)
}
