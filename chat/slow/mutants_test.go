package slow

import (
	"testing"

	"achat/chat/chattest"
	"achat/model"
)

// A property that no broken server fails is not a test. Each mutant breaks
// this chapter in one small way, as a reader might when they write it
// themselves, and TestProperties must catch it with the right property and a
// shrunk schedule, in its settled part and in its rushed one (see
// chattest.CheckMutants).
func TestMutantsAreCaught(t *testing.T) {
	chattest.CheckMutants(t, []string{"^TestProperties$/^settled$", "^TestProperties$/^pipe$"}, mutants)
}

// mutants: this chapter's own. The ones it shares with chapters disconnect,
// replies and limits (chattest.LeavingMutants, ChapterMutants) run there:
// the code they break is the same, and each costs a build and two runs.
var mutants = []chattest.Mutant{
	{
		// The bound is checked against the wrong number: a client is evicted
		// long before its queue is full.
		Name:  "evicted too early",
		Edits: []chattest.Edit{chattest.Replace("broker.go", "waiting > s.maxQueued {", "waiting > s.maxQueued/4 {")},
		Want:  model.Eviction,
		Runs:  []string{"^TestProperties$/^slow_readers$", "^TestProperties$/^pipe$"},
	},
	{
		// The bound is checked against four times itself: a client that does
		// not read makes the server hold four times what it should. Only the
		// model's own count of what waits, over a pipe, shows it.
		Name:  "evicted too late",
		Edits: []chattest.Edit{chattest.Replace("broker.go", "waiting > s.maxQueued {", "waiting > 4*s.maxQueued {")},
		Want:  model.Eviction,
		Runs:  []string{"^TestProperties$/^slow_readers$", "^TestProperties$/^pipe$"},
	},
	{
		// The queue miscounts what waits in it: the broker evicts at half
		// the bound. Only a count of its own shows the model this.
		Name:  "a queue that counts twice",
		Edits: []chattest.Edit{chattest.Replace("../queue/queue.go", "\treturn len(q.items)\n}", "\treturn 2 * len(q.items)\n}")},
		Want:  model.Eviction,
		Runs:  []string{"^TestProperties$/^slow_readers$", "^TestProperties$/^pipe$"},
	},
	{
		// Eviction closes the connection at once, as a chat hub that drops a
		// slow client's channel does: what was queued for it is lost.
		Name: "an evicted client's queue thrown away",
		Edits: []chattest.Edit{chattest.Replace("broker.go", "\tp.conn.SetReadDeadline(time.Now())\n",
			"\tp.conn.SetReadDeadline(time.Now())\n\tp.conn.Close()\n")},
		Want: model.Delivery,
		Also: []model.Property{model.Errors}, // the line that tells it it was evicted is thrown away too
		Runs: []string{"^TestProperties$/^slow_readers$", "^TestProperties$/^pipe$"},
	},
}

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
