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
