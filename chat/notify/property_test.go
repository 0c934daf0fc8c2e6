package notify

import (
	"testing"

	"achat/chat/chattest"
	"achat/model"
)

// Each known bug of this chapter, found by the property harness: rapid must
// find a schedule that breaks the property, and shrink it. The test logs the
// shrunk schedule (go test -v) and fails only if none is found.

func TestBugAClientThatNeverLogsInHangsShutdown(t *testing.T) {
	chattest.ExpectCounterexample(t, newServer, chattest.Options{
		NoRush: true,
		Steps:  []chattest.StepKind{chattest.Connects, chattest.LogsIn, chattest.Sends},
	}, chattest.Termination)
}

func TestBugAReaderBusyWithALineMissesTheNotification(t *testing.T) {
	chattest.ExpectCounterexample(t, newServer, chattest.Options{
		NoRush: true,
		// alice logs in first, so no reader waits for its login line.
		Steps:    []chattest.StepKind{chattest.Sends, chattest.HoldsReader, chattest.CtrlC},
		Clients:  1,
		MaxSteps: 8,
		Start:    chattest.LoggedIn("alice"),
	}, chattest.Termination)
}

func TestBugShutdownDoesNotWaitForWriters(t *testing.T) {
	chattest.ExpectCounterexample(t, newServer, chattest.Options{
		NoRush:  true,
		Steps:   []chattest.StepKind{chattest.Sends, chattest.StopsReading, chattest.CtrlC},
		Clients: 2,
		Start:   chattest.NotReading(),
	}, model.Delivery)
}
