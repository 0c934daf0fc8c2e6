package disconnect

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

// mutants: the shared ones (see chattest.ChapterMutants).
var mutants = chattest.ChapterMutants
