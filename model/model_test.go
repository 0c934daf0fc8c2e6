package model

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"pgregory.net/rapid"

	"achat/chat/protocol"
)

// A small language for histories: each helper returns one event.
func sent(conn int, line string) Event { return Event{Kind: Sent, Conn: conn, Line: line} }
func loggedIn(conn int, name string) Event {
	return Event{Kind: LoggedIn, Conn: conn, Name: name}
}
func accepted(conn int, from string, text string, to ...string) Event {
	return Event{Kind: Accepted, Conn: conn, Name: from, To: to, Text: text}
}

func left(conn int) Event                   { return Event{Kind: Left, Conn: conn} }
func loggedOut(conn int, name string) Event { return Event{Kind: LoggedOut, Conn: conn, Name: name} }

var (
	shutdownBegan = Event{Kind: ShutdownBegan}
	settled       = Event{Kind: Settled}
)

// aliceAndBob is a history where alice (conn 0) and bob (conn 1) log in, then
// alice sends m1 to bob.
var aliceAndBob = []Event{
	sent(0, "alice"), loggedIn(0, "alice"),
	sent(1, "bob"), loggedIn(1, "bob"),
	sent(0, "bob: m1"), accepted(0, "alice", "m1", "bob"),
}

func with(history []Event, more ...Event) []Event {
	return append(append([]Event(nil), history...), more...)
}

var both = map[int]bool{0: true, 1: true}

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		history  []Event
		received map[int][]string
		reading  map[int]bool
		want     []Property
	}{
		{"delivered", aliceAndBob, map[int][]string{1: {"from alice: m1"}}, both, nil},
		{"lost", aliceAndBob, nil, both, []Property{Delivery}},
		{"lost to a client that stopped reading is excused",
			aliceAndBob, nil, map[int]bool{0: true}, nil},
		{"lost to a client that disconnected is excused",
			with(aliceAndBob, Event{Kind: Disconnected, Conn: 1}), nil, both, nil},
		{"accepted after shutdown began may be lost",
			with(aliceAndBob[:4], shutdownBegan, aliceAndBob[4], aliceAndBob[5]), nil, both, nil},
		{"accepted after shutdown began may be delivered",
			with(aliceAndBob[:4], shutdownBegan, aliceAndBob[4], aliceAndBob[5]),
			map[int][]string{1: {"from alice: m1"}}, both, nil},
		{"delivered twice", aliceAndBob,
			map[int][]string{1: {"from alice: m1", "from alice: m1"}}, both, []Property{Duplicate}},
		{"delivered to someone else", aliceAndBob,
			map[int][]string{0: {"from alice: m1"}, 1: {"from alice: m1"}}, both, []Property{Spurious}},
		{"never sent", aliceAndBob,
			map[int][]string{1: {"from alice: m1", "from alice: m9"}}, both, []Property{Spurious}},
		{"sent under another name", aliceAndBob,
			map[int][]string{1: {"from bob: m1"}}, both, []Property{Delivery, Spurious}},
		{"out of order",
			with(aliceAndBob, sent(0, "bob: m2"), accepted(0, "alice", "m2", "bob")),
			map[int][]string{1: {"from alice: m2", "from alice: m1"}}, both, []Property{Order}},
		{"a peer that logs in while a message is routed may get it",
			[]Event{sent(0, "alice"), loggedIn(0, "alice"), sent(0, "bob: m1"),
				accepted(0, "alice", "m1", "bob"), sent(1, "bob"), loggedIn(1, "bob")},
			map[int][]string{1: {"from alice: m1"}}, both, nil},
		{"or may not",
			[]Event{sent(0, "alice"), loggedIn(0, "alice"), sent(0, "bob: m1"),
				accepted(0, "alice", "m1", "bob"), sent(1, "bob"), loggedIn(1, "bob")},
			nil, both, nil},
		{"but not once the message was settled",
			[]Event{sent(0, "alice"), loggedIn(0, "alice"), sent(0, "bob: m1"),
				accepted(0, "alice", "m1", "bob"), settled, sent(1, "bob"), loggedIn(1, "bob")},
			map[int][]string{1: {"from alice: m1"}}, both, []Property{Spurious}},
		{"the server parsed other recipients",
			with(aliceAndBob[:4], sent(0, "bob, alice: m1"), accepted(0, "alice", "m1", "bob")),
			map[int][]string{1: {"from alice: m1"}}, both, []Property{Acceptance, Spurious}},
		{"the server accepted a line that was not sent",
			with(aliceAndBob, accepted(0, "alice", "m2", "bob")),
			map[int][]string{1: {"from alice: m1"}}, both, []Property{Acceptance}},
		{"the server skipped a line",
			with(aliceAndBob[:4], sent(0, "bob: m0"), aliceAndBob[4], aliceAndBob[5]),
			map[int][]string{1: {"from alice: m1"}}, both, []Property{Acceptance, Spurious}},
		{"a client that left still gets what was routed before it left",
			with(aliceAndBob, settled, left(1)), nil, both, []Property{Delivery}},
		{"but what was not routed yet may be lost",
			with(aliceAndBob, left(1)), nil, both, nil},
		{"or delivered",
			with(aliceAndBob, left(1)), map[int][]string{1: {"from alice: m1"}}, both, nil},
		{"what is accepted after it left may be delivered until it is logged out",
			with(aliceAndBob[:4], left(1), aliceAndBob[4], aliceAndBob[5]),
			map[int][]string{1: {"from alice: m1"}}, both, nil},
		{"but not after",
			with(aliceAndBob[:4], left(1), loggedOut(1, "bob"), aliceAndBob[4], aliceAndBob[5]),
			map[int][]string{1: {"from alice: m1"}}, both, []Property{Spurious}},
		{"a logout of a client that did not leave excuses nothing",
			with(aliceAndBob[:4], loggedOut(1, "bob"), aliceAndBob[4], aliceAndBob[5]),
			nil, both, []Property{Delivery}},
		{"a name freed by its client's leaving is given again",
			with(aliceAndBob[:4], left(1), settled, sent(2, "bob"), loggedIn(2, "bob"), settled),
			nil, map[int]bool{0: true, 1: true, 2: true}, nil},
		{"a name not freed when its client left",
			with(aliceAndBob[:4], left(1), settled, sent(2, "bob"), settled),
			nil, map[int]bool{0: true, 1: true, 2: true}, []Property{Login}},
		{"a taken name may be refused",
			with(aliceAndBob[:4], sent(2, "bob"), settled),
			nil, map[int]bool{0: true, 1: true, 2: true}, nil},
		{"two asking for a name at once: either may get it",
			[]Event{sent(0, "alice"), sent(1, "alice"), loggedIn(1, "alice"), settled}, nil, both, nil},
		{"an impostor's message accepted",
			with(aliceAndBob[:4], sent(2, "alice"), sent(2, "bob: m1"), accepted(2, "alice", "m1", "bob")),
			map[int][]string{1: {"from alice: m1"}}, map[int]bool{0: true, 1: true, 2: true},
			[]Property{Impostor}},
		{"an evicted client still gets what was routed before",
			with(aliceAndBob, settled, Event{Kind: Evicted, Conn: 1, Name: "bob", Count: 9}),
			nil, both, []Property{Delivery}},
		{"but nothing after",
			with(aliceAndBob[:4], Event{Kind: Evicted, Conn: 1, Name: "bob", Count: 9},
				aliceAndBob[4], aliceAndBob[5]),
			map[int][]string{1: {"from alice: m1"}}, both, []Property{Spurious}},
		{"a bad line is not accepted, and is not owed",
			with(aliceAndBob[:4], sent(0, "no colon"), aliceAndBob[4], aliceAndBob[5]),
			map[int][]string{1: {"from alice: m1"}}, both, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Property
			for _, v := range Check(tt.history, tt.received, tt.reading) {
				got = append(got, v.Property)
				t.Log(v)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// readMessage is how a server reads line: with protocol's scanner, then its
// parser.
func readMessage(line string) (protocol.Message, error) {
	sc := protocol.NewScanner(strings.NewReader(line + "\n"))
	if !sc.Scan() {
		return protocol.Message{}, sc.Err()
	}
	return protocol.ParseMessage(sc.Text())
}

// TestModelReadsTheWireLikeProtocol pins the model's parsing to package
// protocol's, on lines made of the characters that matter.
func TestModelReadsTheWireLikeProtocol(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		line := rapid.StringOfN(rapid.SampledFrom([]rune("ab ,:\r\t")), 0, 12, -1).Draw(t, "line")
		if rapid.IntRange(0, 9).Draw(t, "bad byte") == 9 {
			line += "\xff"
		}
		if rapid.IntRange(0, 9).Draw(t, "long") == 9 { // about the limit, where the scanner stops
			line += strings.Repeat("x", protocol.MaxLineBytes-len(line)+rapid.IntRange(-2, 2).Draw(t, "over"))
		}
		want, err := readMessage(line)
		got, ok := parseMessage(line)
		if ok != (err == nil) {
			t.Fatalf("%q: model ok=%v, protocol err=%v", line, ok, err)
		}
		if ok && (!assert.ObjectsAreEqual(want.To, got.to) || want.Text != got.text) {
			t.Fatalf("%q: model %v %q, protocol %v %q", line, got.to, got.text, want.To, want.Text)
		}
		from, text, ok := parseDelivery(strings.TrimSuffix(protocol.FormatDelivery("al", line), "\n"))
		if !ok || from != "al" || text != line {
			t.Fatalf("%q: FormatDelivery does not read back: %q %q", line, from, text)
		}
	})
}
