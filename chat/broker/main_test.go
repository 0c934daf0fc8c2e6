package broker

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests, except the
// broker and the writers: this chapter never stops them, which is its bug
// (TestShutdownLeavesGoroutinesRunning shows it).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("achat/chat/broker.(*Server).broker"),
		goleak.IgnoreAnyFunction("achat/chat/broker.(*Server).write"),
	)
}
