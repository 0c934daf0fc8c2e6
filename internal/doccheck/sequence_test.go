package doccheck

import (
	"strings"
	"testing"

	"achat/model"
)

// A trace as chattest writes it: alice logs in and, in the same write,
// sends bob a message; the reader accepts it before the broker logs her in
// (chapter shutdown lets the two race); Ctrl-C; bob's connection is closed.
const smallTrace = `{"event":{"Kind":5,"Read":{}}}
{"event":{"Kind":10,"Conn":0}}
{"event":{"Kind":17,"Conn":0}}
{"event":{"Kind":5,"Read":{"0":0}}}
{"event":{"Kind":10,"Conn":1}}
{"event":{"Kind":5,"Read":{"0":0,"1":0}}}
{"event":{"Kind":0,"Conn":1,"Line":"bob"}}
{"event":{"Kind":1,"Conn":1,"Name":"bob"}}
{"event":{"Kind":5,"Read":{"0":0,"1":0}}}
{"event":{"Kind":0,"Conn":0,"Line":"alice"}}
{"event":{"Kind":0,"Conn":0,"Line":"bob: m1; #2"}}
{"event":{"Kind":2,"Conn":0,"Name":"alice","To":["bob"],"Text":"m1; #2"}}
{"event":{"Kind":1,"Conn":0,"Name":"alice"}}
{"event":{"Kind":9,"Name":"alice","Text":"m1; #2"}}
{"event":{"Kind":5,"Read":{"0":0,"1":1},"At":1000}}
{"event":{"Kind":18}}
{"event":{"Kind":4,"Read":{"0":0,"1":1}}}
{"event":{"Kind":11,"Conn":1}}
{"event":{"Kind":19}}
{"event":{"Kind":5,"Read":{"0":0,"1":1}}}
{"event":{"Kind":13,"Conn":0}}
{"event":{"Kind":11,"Conn":0}}
{"client":{"id":0,"name":"alice","read":[" late line"]}}
{"client":{"id":1,"name":"bob","read":["from alice: m1; #2"]}}
{"end":"Shutdown returned"}
`

// What Sequence draws of it: the broker's login before the reader's accept,
// whichever was recorded first; bob's delivery and his closed connection at
// the settle point; after the last one, alice's step, not the close that
// raced Shutdown's end; no ServeReturned, no times.
const smallDiagram = `sequenceDiagram
    participant c0 as alice (c0)
    participant c1 as bob (c1)
    participant readers
    participant broker
    participant writers
    participant Shutdown
    c0->>readers: connects
    c1->>readers: connects
    c1->>readers: bob
    readers->>broker: logs in c1 as bob
    c0->>readers: alice
    c0->>readers: bob: m1#59; #35;2
    readers->>broker: logs in c0 as alice
    readers->>broker: accepts alice -> bob: m1#59; #35;2
    broker->>writers: routes m1#59; #35;2 from alice
    writers->>c1: from alice: m1#59; #35;2
    Note over Shutdown: Ctrl-C
    Note over c1: the server closed the connection
    Note over c0: stops reading
    writers->>c0: " late line"
    Note over Shutdown: Shutdown returned
`

func TestSequenceDrawsASmallTrace(t *testing.T) {
	tr, err := ReadTrace(strings.NewReader(smallTrace))
	if err != nil {
		t.Fatal(err)
	}
	if got := Sequence(tr); got != smallDiagram {
		t.Errorf("got:\n%s\nwant:\n%s\n%s", got, smallDiagram, firstDiff(got, smallDiagram))
	}
}

// The reader's accept and the broker's login race: recorded the other way
// round, the trace draws the same diagram.
func TestSequenceDrawsARaceInOneOrder(t *testing.T) {
	tr, err := ReadTrace(strings.NewReader(smallTrace))
	if err != nil {
		t.Fatal(err)
	}
	i := 11 // Accepted, then LoggedIn
	if tr.History[i].Kind != model.Accepted || tr.History[i+1].Kind != model.LoggedIn {
		t.Fatalf("the trace changed: events %d and %d are %v and %v", i, i+1, tr.History[i].Kind, tr.History[i+1].Kind)
	}
	tr.History[i], tr.History[i+1] = tr.History[i+1], tr.History[i]
	if got := Sequence(tr); got != smallDiagram {
		t.Errorf("the other order draws:\n%s\n%s", got, firstDiff(got, smallDiagram))
	}
}

// An eviction may be caused by the line the reader just accepted: it is
// drawn after it, as recorded.
func TestSequenceKeepsAnAcceptBeforeItsEviction(t *testing.T) {
	hooks := []model.Event{
		{Kind: model.Accepted, Conn: 0, Name: "alice", Text: "m10"},
		{Kind: model.Evicted, Conn: 0, Name: "alice", Count: 9},
		{Kind: model.Routed, Name: "alice", Text: "m10"},
	}
	got := inFixedOrder(hooks)
	for i := range hooks {
		if got[i].Kind != hooks[i].Kind {
			t.Fatalf("reordered: %v", got)
		}
	}
}

func TestLineLabel(t *testing.T) {
	for line, want := range map[string]string{
		"alice: m1":                "alice: m1",
		`error: name "a" is taken`: `error: name "a" is taken`,
		" alice ,, bob :  m1 \r":   `" alice ,, bob :  m1 \r"`,
		"bob: not UTF-8 \xff":      `"bob: not UTF-8 \xff"`,
		strings.Repeat("x", 5000):  strings.Repeat("x", maxLabel/2) + "... (5000 bytes)",
	} {
		if got := lineLabel(line); got != want {
			t.Errorf("lineLabel(%.40q) = %q, want %q", line, got, want)
		}
	}
}
