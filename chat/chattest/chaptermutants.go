package chattest

import "achat/model"

// ChapterMutants break, each in one small way, the code that every chapter
// from replies on shares (conn.go's reader, broker.go's broker, and the
// packages protocol and queue), as a reader might when they write it
// themselves. The TestMutantsAreCaught of chapters replies and limits runs
// them (chapter slow's code is theirs here), with LeavingMutants in limits.
var ChapterMutants = []Mutant{
	{
		// Two ways out of the map, and the broker trusts the name: a refused
		// "alice" says it left, and the real alice is removed.
		Name: "a peer removed by name",
		Edits: []Edit{
			Replace("broker.go", "if !ok || p.id != ev.id {", "if !ok {"),
			Replace("conn.go", "\t\ts.refuse(conn, err)\n\t\treturn\n",
				"\t\ts.refuse(conn, err)\n\t\tif name != \"\" {\n\t\t\ts.events <- leaveEvent{id: id, name: name}\n\t\t}\n\t\treturn\n"),
		},
		Want: model.Delivery,
		Also: []model.Property{model.Errors, model.Login},
	},
	{
		// The reader does not wait for the broker's verdict on its name, and
		// the broker closes a refused connection, as in chapter disconnect.
		Name: "a login not waited for",
		Edits: []Edit{
			Replace("conn.go", "\treturn <-verdict\n", "\treturn nil\n"),
			Replace("broker.go", "\t\t\tev.verdict <- s.login(peers, ev) // buffered: never blocks the broker\n",
				"\t\t\tif s.login(peers, ev) != nil {\n\t\t\t\ts.closeConn(ev.conn)\n\t\t\t}\n"),
		},
		Want: model.Impostor,
		Also: []model.Property{model.Errors},
	},
	{
		// A bad line in a batch drops the messages before it: the reader
		// accepts them, and forgets to hand them over before the error line.
		Name:  "a batch cut at a bad line",
		Edits: []Edit{Replace("conn.go", "\t\t\ts.handOver(id, name, msgs)\n", "")},
		Want:  model.Progress,
		Also:  []model.Property{model.Delivery, model.Errors},
	},
	{
		// The reader reads every batch and hands none of it over, nor says it
		// accepted any: the server owes nothing by its own account.
		Name:  "a reader that takes nothing in",
		Edits: []Edit{Replace("conn.go", "\t\ts.accept(conn, id, name, lines.Batch())\n", "\t\t_ = lines.Batch()\n")},
		Want:  model.Progress,
		Also:  []model.Property{model.Errors}, // a bad line it read is not answered either
	},
	{
		// The reader drops the last line of every batch of two or more: a
		// burst, or lines that came together.
		Name: "a batch's last line dropped",
		Edits: []Edit{Replace("conn.go", "\t\ts.accept(conn, id, name, lines.Batch())\n",
			"\t\tbatch := lines.Batch()\n\t\ts.accept(conn, id, name, batch[:max(1, len(batch)-1)])\n")},
		Want: model.Progress,
		// The next batch's first line is accepted where the dropped one
		// was owed: accepted out of the order it was sent.
		Also: []model.Property{model.Acceptance},
	},
	{
		// The newest login under a name wins: the broker drops the peer that
		// held it (its writer finishes) and gives the name to the new one.
		Name: "the newest login wins",
		Edits: []Edit{Replace("broker.go",
			"\tif _, taken := peers[ev.name]; taken {\n\t\treturn protocol.NameTakenError{Name: ev.name}\n\t}\n",
			"\tif old, taken := peers[ev.name]; taken {\n\t\told.queue.Close()\n\t}\n")},
		Want: model.Names,
	},
	{
		// A message to someone not logged in goes to the others, and its
		// sender is never told.
		Name:  "no error line for a recipient not logged in",
		Edits: []Edit{Replace("broker.go", "\tif len(unknown) > 0 {\n", "\tif false {\n")},
		Want:  model.Errors,
	},
	{
		// The parser keeps the spaces around a text: "bob:  hi " is
		// accepted as "  hi ", not as the "hi" the wire format says.
		Name:  "a text not trimmed",
		Edits: []Edit{Replace("../protocol/protocol.go", "\ttext = strings.TrimSpace(text)\n", "")},
		Want:  model.Acceptance,
	},
	{
		// The scanner takes the start of a line that a read deadline cut
		// short, at Ctrl-C, for a whole line.
		Name: "half a line taken for a line at Ctrl-C",
		Edits: []Edit{Replace("../protocol/scanner.go",
			"return 0, nil, s.reads.err // the half line is not a line",
			"return len(data), data, nil")},
		Want: model.Errors,
		Also: []model.Property{model.Acceptance},
	},
}

// LeavingMutants break what chapter disconnect adds, the way a client
// leaves, in code that every chapter from disconnect on shares: chapters
// disconnect and limits run them.
var LeavingMutants = []Mutant{
	{
		// The reader closes the connection when its client leaves: what was
		// queued for the client is never written.
		Name: "the connection closed when the reader ends",
		Edits: []Edit{
			Replace("conn.go", "\ts.events <- leaveEvent{id: id, name: name}\n}",
				"\ts.closeConn(conn)\n\ts.events <- leaveEvent{id: id, name: name}\n}"),
		},
		Want: model.Delivery,
		// Chapter limits: a client dropped before its clock ran out. And the
		// answers queued for it are lost with its messages (seen in CI, in
		// the rushed part, where a client that left sent itself a burst).
		Also: []model.Property{model.Timeouts, model.Errors},
		Runs: []string{"^TestProperties$/^leaving$", "^TestProperties$/^pipe$"},
	},
	{
		// The reader forgets to say that its client left: the name is never
		// freed.
		Name:  "a name never freed",
		Edits: []Edit{Replace("conn.go", "\ts.events <- leaveEvent{id: id, name: name}\n}", "}")},
		Want:  model.Login,
	},
	{
		// The broker forgets to remove the peer that left (but says it did):
		// its name stays taken, and what others send to it is queued for a
		// client that is gone, with no error line.
		Name: "a peer kept after it left",
		Edits: []Edit{Replace("broker.go",
			"\tdelete(peers, ev.name)\n\tp.queue.Close() // the broker's last push to this queue: the writer may finish\n",
			"")},
		Want: model.Login,
		Also: []model.Property{model.Spurious, model.Errors},
	},
}
