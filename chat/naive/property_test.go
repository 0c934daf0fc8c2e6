package naive

import (
	"testing"

	"achat/chat/chattest"
)

// The known bug of this chapter that the properties see: Shutdown leaves
// every reader running. (Its other bug, a slow client stalling every sender,
// is about liveness, which the properties leave to later chapters.)
//
// No step here stops a client from reading: a reader that waits for this
// chapter's mutex is not "durably blocked" in a synctest bubble, and one
// that holds it while writing to a client that does not read would keep the
// bubble waiting for ever.
func TestBugShutdownLeavesReadersRunning(t *testing.T) {
	chattest.ExpectCounterexample(t, newServer, chattest.Options{
		NoRush: true,
		Steps:  []chattest.StepKind{chattest.Connects, chattest.LogsIn, chattest.Sends},
	}, chattest.Leak)
}
