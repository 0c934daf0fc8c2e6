package limits

import (
	"slices"
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

// mutants: the shared ones (see chattest.LeavingMutants and
// ChapterMutants), chapter slow's, and this chapter's own: one for each
// bound and clock.
var mutants = append(slices.Concat(chattest.LeavingMutants, chattest.ChapterMutants),
	chattest.Mutant{
		// Eviction closes the connection at once, as a chat hub that drops a
		// slow client's channel does: what was queued for it is lost.
		Name: "an evicted client's queue thrown away",
		Edits: []chattest.Edit{chattest.Replace("broker.go", "\tp.conn.SetReadDeadline(time.Now())\n",
			"\tp.conn.SetReadDeadline(time.Now())\n\tp.conn.Close()\n")},
		Want: model.Delivery,
		// A client dropped before its clock ran out; the line that tells it
		// it was evicted is thrown away with the rest.
		Also: []model.Property{model.Timeouts, model.Errors},
		Runs: []string{"^TestProperties$/^slow_readers$", "^TestProperties$/^pipe$"},
	},
	chattest.Mutant{
		// The queue miscounts what waits in it: the broker evicts at half
		// the bound. Only a count of its own shows the model this.
		Name:  "a queue that counts twice",
		Edits: []chattest.Edit{chattest.Replace("../queue/queue.go", "\treturn len(q.items)\n}", "\treturn 2 * len(q.items)\n}")},
		Want:  model.Eviction,
		Runs:  []string{"^TestProperties$/^slow_readers$", "^TestProperties$/^pipe$"},
	},
	chattest.Mutant{
		// The bound in bytes is read as KiB: a client that does not read
		// makes the server hold a thousand times more than it should.
		Name:  "a bound in bytes read as KiB",
		Edits: []chattest.Edit{chattest.Replace("broker.go", " || unwritten > s.maxQueuedBytes {", " || unwritten > s.maxQueuedBytes<<10 {")},
		Want:  model.Eviction,
		Runs:  []string{"^TestProperties$/^slow_readers$", "^TestProperties$/^pipe$"},
	},
	chattest.Mutant{
		// The connection limit is never checked.
		Name:  "no connection limit",
		Edits: []chattest.Edit{chattest.Replace("server.go", "if len(s.conns) >= s.maxConns {", "if false {")},
		Want:  model.Connections,
	},
	chattest.Mutant{
		// One connection too many.
		Name:  "a limit off by one",
		Edits: []chattest.Edit{chattest.Replace("server.go", "if len(s.conns) >= s.maxConns {", "if len(s.conns) > s.maxConns {")},
		Want:  model.Connections,
	},
	chattest.Mutant{
		// A connection past the limit is told so without a deadline: one
		// that does not read holds the accept loop, and every connection
		// after it waits, unanswered.
		Name: "a refusal at the limit without a deadline",
		Edits: []chattest.Edit{chattest.Replace("limits.go",
			"\tconn.SetWriteDeadline(time.Now().Add(refuseTimeout))\n", "")},
		Want: model.Progress,
		// Shutdown waits for the accept loop, which is held too.
		Also: []model.Property{model.Timeouts, model.Connections, chattest.Termination},
	},
	chattest.Mutant{
		// No login timeout: a silent connection is held for ever.
		Name:  "no login timeout",
		Edits: []chattest.Edit{chattest.Replace("conn.go", "\tconn.SetReadDeadline(time.Now().Add(s.loginTimeout))\n", "")},
		Want:  model.Timeouts,
	},
	chattest.Mutant{
		// The login timeout is never cleared: a logged-in client that is
		// quiet for that long is cut off while it reads.
		Name:  "a login timeout never cleared",
		Edits: []chattest.Edit{chattest.Replace("conn.go", "\t\tconn.SetReadDeadline(time.Time{})\n", "")},
		Want:  model.Timeouts,
		Also:  []model.Property{model.Login, model.Delivery, model.Progress},
	},
	chattest.Mutant{
		// A refusal is written without a deadline: a refused client that
		// does not read holds its reader, and its connection, for ever.
		Name: "a refusal without a deadline",
		Edits: []chattest.Edit{chattest.Replace("conn.go",
			"\tconn.SetWriteDeadline(time.Now().Add(lingerTimeout))\n", "")},
		Want: model.Timeouts,
		Also: []model.Property{model.Connections},
	},
	chattest.Mutant{
		// A write has no deadline: a client that stops reading holds its
		// writer, its queue and its connection until the drain deadline.
		Name:  "no write timeout",
		Edits: []chattest.Edit{chattest.Replace("limits.go", "\t\tw.conn.SetWriteDeadline(time.Now().Add(w.timeout))\n", "")},
		Want:  model.Timeouts,
	},
	chattest.Mutant{
		// An Accept error ends Serve, as in the chapters before: the server
		// stops taking clients, and its process exits.
		Name:  "an accept error ends Serve",
		Edits: []chattest.Edit{chattest.Replace("limits.go", "if !retryable(err) || s.isShuttingDown() {", "if true {")},
		Want:  model.Serving,
	},
)
