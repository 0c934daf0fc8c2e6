package replies

import (
	"testing"

	"achat/chat/chattest"
)

// A property that no broken server fails is not a test. Each mutant breaks
// this chapter in one small way, as a reader might when they write it
// themselves, and TestProperties must catch it with the right property and a
// shrunk schedule, in its settled part and in its rushed one (see
// chattest.CheckMutants).
func TestMutantsAreCaught(t *testing.T) {
	chattest.CheckMutants(t, []string{"^TestProperties$/^settled$", "^TestProperties$/^pipe$"}, mutants)
}

// mutants: the shared ones (see chattest.ChapterMutants). The leaving ones
// (chattest.LeavingMutants) break code that is chapter disconnect's, line for
// line, and run there.
var mutants = chattest.ChapterMutants

// TestTestMutantsAreCaught: a mutant that no property of this chapter
// catches, caught by the test that sets its moment up. Termination still
// holds with it, at the drain deadline; the Timeouts property that would
// see it comes in chapter limits.
func TestTestMutantsAreCaught(t *testing.T) {
	chattest.CheckTestMutants(t, []chattest.TestMutant{{
		// The refusal is written without a deadline: over a connection that
		// buffers nothing, a refused client that never reads holds its reader,
		// its connection and Shutdown until the drain deadline.
		Name:  "a refusal without a deadline",
		Edits: []chattest.Edit{chattest.Replace("conn.go", "\tconn.SetWriteDeadline(time.Now().Add(lingerTimeout))\n", "")},
		Test:  "TestShutdownIsNotHeldUpBy",
	}})
}
