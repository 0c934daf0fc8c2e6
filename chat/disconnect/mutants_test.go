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

// mutants: chattest.LeavingMutants, whose code is the same here, and this
// chapter's forms of three of chattest.ChapterMutants (its reader and broker
// take fewer arguments). The rest break code that comes in chapter replies,
// and run there.
var mutants = append([]chattest.Mutant{{
	// The broker trusts the name: a refused "alice", whose reader ends and
	// says it left, removes the real alice.
	Name:  "a peer removed by name",
	Edits: []chattest.Edit{chattest.Replace("broker.go", "if !ok || p.id != ev.id {", "if !ok {")},
	Want:  model.Delivery,
	Also:  []model.Property{model.Login},
}, {
	// The reader reads every batch and hands none of it over, nor says it
	// accepted any: the server owes nothing by its own account. Only what
	// the clients sent tells the harness what is owed.
	Name:  "a reader that takes nothing in",
	Edits: []chattest.Edit{chattest.Replace("conn.go", "\t\ts.accept(conn, name, lines.Batch())\n", "\t\t_ = lines.Batch()\n")},
	Want:  model.Progress,
}, {
	// The reader drops the last line of every batch of two or more.
	Name: "a batch's last line dropped",
	Edits: []chattest.Edit{chattest.Replace("conn.go", "\t\ts.accept(conn, name, lines.Batch())\n",
		"\t\tbatch := lines.Batch()\n\t\ts.accept(conn, name, batch[:max(1, len(batch)-1)])\n")},
	Want: model.Progress,
	// The next batch's first line is accepted where the dropped one was
	// owed: accepted out of the order it was sent.
	Also: []model.Property{model.Acceptance},
}}, chattest.LeavingMutants...)
