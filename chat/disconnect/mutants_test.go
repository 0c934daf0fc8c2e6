package disconnect

import (
	"testing"

	"achat/chat/chattest"
	"achat/model"
)

// A property that no broken server fails is not a test. Each mutant breaks
// this chapter's lesson, leaving, in one small way, as a reader might when
// they write it themselves, and TestProperties must catch it with the right
// property and a shrunk schedule, in its settled part and in its rushed one
// (see chattest.CheckMutants).
func TestMutantsAreCaught(t *testing.T) {
	chattest.CheckMutants(t, []string{"^TestProperties$/^settled$", "^TestProperties$/^pipe$"}, mutants)
}

// mutants: the leaving ones of chattest.ChapterMutants, whose code is the
// same here, and this chapter's form of "a peer removed by name". The rest
// break code that comes in chapter replies, and run there.
var mutants = append([]chattest.Mutant{{
	// The broker trusts the name: a refused "alice", whose reader ends and
	// says it left, removes the real alice.
	Name:  "a peer removed by name",
	Edits: []chattest.Edit{chattest.Replace("broker.go", "if !ok || p.id != ev.id {", "if !ok {")},
	Want:  model.Delivery,
	Also:  []model.Property{model.Login},
}}, chattest.LeavingMutants...)
