package chattest

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"achat/model"
)

// MinInFlight is the least share of schedules, in a run of the default
// steps, whose Ctrl-C lands while a delivery is in flight: a message
// accepted and not yet read by a client it is owed to. That is where a
// shutdown loses messages; a generator that drifts away from it would test
// the easy case and still pass. CheckProperties fails a run under it.
const MinInFlight = 0.20

// tally counts what the schedules of one CheckProperties call reached.
type tally struct {
	mu                                               sync.Mutex
	schedules, inFlight, midLogin, evicted, rejoined int
}

func (c *tally) add(cv model.Covered) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.schedules++
	for _, hit := range []struct {
		n   *int
		yes bool
	}{{&c.inFlight, cv.InFlight}, {&c.midLogin, cv.MidLogin}, {&c.evicted, cv.Evicted}, {&c.rejoined, cv.Rejoined}} {
		if hit.yes {
			*hit.n++
		}
	}
}

func (c *tally) share(n int) float64 { return float64(n) / float64(max(1, c.schedules)) }

// CoverageHeader heads the lines that report writes.
const CoverageHeader = "test\tschedules\tin flight at Ctrl-C\tmid-login at Ctrl-C\teviction\trejoin"

// line is the tally as a row under CoverageHeader.
func (c *tally) line(name string) string {
	pct := func(n int) string { return fmt.Sprintf("%.0f%%", 100*c.share(n)) }
	return fmt.Sprintf("%s\t%d\t%s\t%s\t%s\t%s", name, c.schedules,
		pct(c.inFlight), pct(c.midLogin), pct(c.evicted), pct(c.rejoined))
}

// report logs the tally, appends it to the file $CHATTEST_COVERAGE names,
// if any (make soak prints it as a table), and fails t if a run of the
// default steps falls under MinInFlight.
func (c *tally) report(t *testing.T, opts Options) {
	t.Helper()
	row := c.line(chapter() + " " + t.Name())
	t.Logf("coverage: %s\n%s", CoverageHeader, row)
	if path := os.Getenv("CHATTEST_COVERAGE"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		// One write each, so that the packages' test binaries, running at
		// once, do not interleave their lines.
		fmt.Fprint(f, "# "+CoverageHeader+"\n"+row+"\n")
		f.Close()
	}
	if err := c.underFloor(opts); err != nil {
		t.Error(err)
	}
}

// underFloor returns an error if a run of the default steps, with rushed
// steps, has enough schedules to judge and falls under MinInFlight.
func (c *tally) underFloor(opts Options) error {
	if !opts.defaultSteps || opts.NoRush || c.schedules < minTallied || c.share(c.inFlight) >= MinInFlight {
		return nil
	}
	return fmt.Errorf("coverage: Ctrl-C landed with a delivery in flight in %d of %d schedules, under the floor of %.0f%%: the generator no longer reaches where shutdown bugs hide",
		c.inFlight, c.schedules, 100*MinInFlight)
}

// chapter is the name of the package whose tests run: go test runs them in
// its directory.
func chapter() string {
	dir, err := os.Getwd()
	if err != nil {
		return "?"
	}
	return filepath.Base(dir)
}

// minTallied: fewer schedules than this say too little to fail a run.
const minTallied = 500
