// Package testbin builds the achat command once for a package's tests that
// run it as a user would: a real process, real TCP, real signals.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
