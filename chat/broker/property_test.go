package broker

import (
	"testing"

	"achat/chat/chattest"
	"achat/model"
)

// The known bugs of this chapter, found by the property harness (see
// chattest.ExpectCounterexample): go test -v prints the shrunk schedules.

func TestBugShutdownLeavesTheBrokerRunning(t *testing.T) {
	chattest.ExpectCounterexample(t, newServer, chattest.Options{NoRush: true}, chattest.Leak)
}

func TestBugShutdownLosesQueuedMessages(t *testing.T) {
	chattest.ExpectCounterexample(t, newServer, chattest.Options{
		NoRush: true,
		// What is queued for a client that does not read is lost when the
		// process exits: Shutdown did not wait for the writers.
		Steps:   []chattest.StepKind{chattest.Sends, chattest.Sends, chattest.CtrlC},
		Clients: 2,
		Start:   chattest.NotReading(),
	}, model.Delivery)
}
