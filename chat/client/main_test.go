package client

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: the stdin
// goroutine that Chat leaves behind must end once the test closes stdin.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
