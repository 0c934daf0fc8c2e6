// Package testbin builds the achat command once for a package's tests that
// run it as a user would: a real process, real TCP, real signals.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// Main is a TestMain: it builds achat (without -race: the server under test
// need not be slowed down) into a temporary directory, sets *binary to its
// path, runs the tests, fails them if a goroutine outlived them, removes the
// directory and exits.
func Main(m *testing.M, binary *string) {
	dir, err := os.MkdirTemp("", "achat-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*binary = filepath.Join(dir, "achat")
	build := exec.Command("go", "build", "-o", *binary, "achat/cmd/achat")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building achat:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := goleak.Find(); code == 0 && err != nil {
		fmt.Fprintln(os.Stderr, "goroutines outlived the tests:", err)
		code = 1
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// SeedPath is where make seed puts the seed's binary, from the repository's
// root: scenarios.SeedBinary, which this package cannot import (the tests of
// package scenarios import this one).
const SeedPath = "seed/target/release/seed"

// Seed returns the path of the seed's binary, built by make seed. If it is
// not built, the test is skipped, and failed under CI, which builds it.
func Seed(t testing.TB) string {
	t.Helper()
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("finding the module's root: %v", err)
	}
	seed := filepath.Join(strings.TrimSpace(string(root)), SeedPath)
	if _, err := os.Stat(seed); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not built: CI runs make seed before the tests", SeedPath)
		}
		t.Skipf("%s is not built: make seed builds it (it needs cargo; see seed/README.md)", SeedPath)
	}
	return seed
}
