package disconnect

import (
	"testing"

	"achat/chat/chattest"
	"achat/model"
)

// A property that no broken server fails is not a test. Each mutant below
// breaks this chapter in one small way, as a reader might when they write it
// themselves, and TestProperties/settled must catch it with the right
// property and a shrunk schedule (see chattest.CheckMutants).
func TestMutantsAreCaught(t *testing.T) {
	chattest.CheckMutants(t, "^TestProperties$/^settled$", mutants)
}

var mutants = []chattest.Mutant{
	{
		// Two ways out of the map, and the broker trusts the name: a refused
		// "alice" says it left, and the real alice is removed.
		Name: "a peer removed by name",
		Edits: []chattest.Edit{
			chattest.Replace("broker.go", "if !ok || p.id != ev.id {", "if !ok {"),
			chattest.Replace("conn.go", "\t\ts.refuse(conn, err)\n\t\treturn\n",
				"\t\ts.refuse(conn, err)\n\t\tif name != \"\" {\n\t\t\ts.events <- leaveEvent{id: id, name: name}\n\t\t}\n\t\treturn\n"),
		},
		Want: model.Delivery,
	},
	{
		// The reader closes the connection when its client leaves: what was
		// queued for the client is never written.
		Name: "the connection closed when the reader ends",
		Edits: []chattest.Edit{
			chattest.Replace("conn.go", "\ts.events <- leaveEvent{id: id, name: name}\n}",
				"\ts.closeConn(conn)\n\ts.events <- leaveEvent{id: id, name: name}\n}"),
		},
		Want: model.Delivery,
		Run:  "^TestProperties$/^leaving$",
	},
	{
		// The reader forgets to say that its client left: the name is never
		// freed.
		Name: "a name never freed",
		Edits: []chattest.Edit{chattest.Replace("conn.go",
			"\ts.events <- leaveEvent{id: id, name: name}\n}", "}")},
		Want: model.Login,
	},
	{
		// The broker forgets to remove the peer that left: its name stays
		// taken, and its writer keeps writing what others send to the name.
		// Either property may be the first that rapid finds broken.
		Name: "a peer kept after it left",
		Edits: []chattest.Edit{chattest.Replace("broker.go",
			"\tdelete(peers, ev.name)\n\tp.queue.Close() // the broker's last push to this queue: the writer may finish\n",
			"")},
		Want: model.Login,
		Also: []model.Property{model.Spurious},
	},
	{
		// The reader does not wait for the broker's verdict on its name, and
		// the broker closes a refused connection, as in chapter shutdown.
		Name: "a login not waited for",
		Edits: []chattest.Edit{
			chattest.Replace("conn.go", "\treturn <-verdict\n", "\treturn nil\n"),
			chattest.Replace("broker.go", "\t\t\tev.verdict <- s.login(peers, ev) // buffered: never blocks the broker\n",
				"\t\t\tif s.login(peers, ev) != nil {\n\t\t\t\ts.closeConn(ev.conn)\n\t\t\t}\n"),
		},
		Want: model.Impostor,
	},
	{
		// A bad line in a batch drops the messages before it: the reader
		// forgets to hand them over before the error line.
		Name: "a batch cut at a bad line",
		Edits: []chattest.Edit{chattest.Replace("conn.go",
			"\t\t\ts.handOver(id, name, msgs)\n", "")},
		Want: model.Delivery,
	},
}
