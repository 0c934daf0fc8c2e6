package spin

import (
	"strings"
	"testing"
)

// TestVariants runs pan on the correct model and on each bug, and checks
// that the correct model passes every check and each bug fails its own.
// Each pan run is independent and stays under 400 MB, so two run at once.
func TestVariants(t *testing.T) {
	if missing := Tools(); missing != "" {
		t.Skip(missing)
	}
	for _, v := range Variants {
		for _, e := range v.Expect {
			t.Run(v.Name+"/"+string(e.Mode), func(t *testing.T) {
				t.Parallel()
				checkVariant(t, v, e)
			})
		}
	}
}

// TestVariantsAreConsistent checks that a variant with no bug expects every
// check to pass, and that a bug expects each of its checks to fail: Check
// compiles pan for a full search, or for a short one, by v.Bug.
func TestVariantsAreConsistent(t *testing.T) {
	for _, v := range Variants {
		for _, e := range v.Expect {
			if (v.Bug == "") != (e.Error == "") {
				t.Errorf("%s %s: bug %q, but expected error %q", v.Name, e.Mode, v.Bug, e.Error)
			}
		}
	}
}

func checkVariant(t *testing.T, v Variant, e Expect) {
	r, err := Check(t.TempDir(), v, e.Mode)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d states, depth %d, %.1f MB, %.2f s: %s",
		r.States, r.Depth, r.MemoryMB, r.Seconds, orPass(r.Error))
	if ok, why := e.Verdict(r); !ok {
		t.Errorf("%s %s: %s\n%s", v.Name, e.Mode, why, r.Output)
		return
	}
	if r.Errors > 0 {
		story, err := Story(v, r)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("counterexample:\n%s", story)
	}
}

func orPass(firstError string) string {
	if firstError == "" {
		return "no error"
	}
	return firstError
}

// TestParse checks the reading of pan's summary on outputs pan printed.
func TestParse(t *testing.T) {
	pass := parse(`State-vector 108 byte, depth reached 128, errors: 0
   157212 states, stored
  146.720	total actual memory usage
pan: elapsed time 0.43 seconds`)
	if !pass.Passed() || pass.States != 157212 || pass.Depth != 128 || pass.Seconds != 0.43 {
		t.Errorf("parse(a pass) = %+v", pass)
	}
	fail := parse(`pan:1: invalid end state (at depth 66)
State-vector 120 byte, depth reached 72, errors: 1`)
	if fail.Passed() || fail.Error != "pan:1: invalid end state (at depth 66)" {
		t.Errorf("parse(a failure) = %+v", fail)
	}
	if parse("gcc: error").Passed() {
		t.Error("an output with no summary passed")
	}
	truncated := parse("error: max search depth too small\nerrors: 0")
	if truncated.Passed() || !strings.Contains(truncated.Output, "too small") {
		t.Error("a truncated search passed")
	}
}
