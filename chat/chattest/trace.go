package chattest

// The trace of a failing schedule, for the docs: internal/doccheck draws
// each stored counterexample as a sequence diagram from it (see its
// sequence.go, which reads this format).

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"

	"achat/model"
)

// trace is what a schedule did: its history, to where Shutdown returned or
// the bound passed, what each client read, and how Shutdown ended.
type trace struct {
	history []model.Event // the whole history, for CHATTEST_HISTORY
	endAt   int           // len(history) at the end: what follows is cleanup, in no fixed order
	end     string        // what the story says of the end
	clients []traceClient
}

// traceClient is one client in a trace file: the name it asked for, if
// any, and every complete line it read, in order. The history does not hold
// them: the model gets them apart (see model.Check).
type traceClient struct {
	ID   int      `json:"id"`
	Name string   `json:"name,omitempty"`
	Read []string `json:"read"`
}

// traceLine is one line of a trace file, which holds one of these, in this
// order: each event of the history up to the end, each client, then the end
// (the story's "Shutdown returned", or that it has not).
type traceLine struct {
	Event  *model.Event `json:"event,omitempty"`
	Client *traceClient `json:"client,omitempty"`
	End    string       `json:"end,omitempty"`
}

// traceLocked takes the trace of the run.
func (r *run) traceLocked() trace {
	tr := trace{history: slices.Clone(r.history), endAt: r.endAt, end: r.end}
	for _, c := range r.all {
		tr.clients = append(tr.clients, traceClient{ID: c.id, Name: c.name, Read: slices.Clone(c.lines)})
	}
	return tr
}

// writeTrace writes tr to path as JSON lines, replacing what was there:
// rapid runs a failing draw several times, and the last run is the one
// whose story it logs, so the last write is the one to keep.
func writeTrace(path string, tr trace) error {
	var out bytes.Buffer
	enc := json.NewEncoder(&out) // Encode cannot fail here: every value can be encoded
	for i := range tr.history[:tr.endAt] {
		enc.Encode(traceLine{Event: &tr.history[i]})
	}
	for i := range tr.clients {
		enc.Encode(traceLine{Client: &tr.clients[i]})
	}
	enc.Encode(traceLine{End: tr.end})
	return os.WriteFile(path, out.Bytes(), 0o644)
}
