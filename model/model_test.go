package model

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// A small language for histories: each helper returns one event.
func sent(conn int, line string) Event { return Event{Kind: Sent, Conn: conn, Line: line} }
func loggedIn(conn int, name string) Event {
	return Event{Kind: LoggedIn, Conn: conn, Name: name}
}
func accepted(conn int, from string, text string, to ...string) Event {
	return Event{Kind: Accepted, Conn: conn, Name: from, To: to, Text: text}
}
func routed(from, text string) Event        { return Event{Kind: Routed, Name: from, Text: text} }
func left(conn int) Event                   { return Event{Kind: Left, Conn: conn} }
func disconnected(conn int) Event           { return Event{Kind: Disconnected, Conn: conn} }
func loggedOut(conn int, name string) Event { return Event{Kind: LoggedOut, Conn: conn, Name: name} }
func evicted(conn int, name string) Event {
	return Event{Kind: Evicted, Conn: conn, Name: name, Count: 99}
}
func closed(conn int) Event                    { return Event{Kind: Closed, Conn: conn} }
func paused(conn int) Event                    { return Event{Kind: Paused, Conn: conn} }
func connected(conn int) Event                 { return Event{Kind: Connected, Conn: conn} }
func settledRead(read map[int]int) Event       { return Event{Kind: Settled, Read: read} }
func shutdownRead(read map[int]int) Event      { return Event{Kind: ShutdownBegan, Read: read} }
func lines(l ...string) []string               { return l }
func got(by map[int][]string) map[int][]string { return by }

var (
	shutdownBegan = Event{Kind: ShutdownBegan}
	settled       = Event{Kind: Settled} // no client had read anything
)

// logins: alice (conn 0) and bob (conn 1) log in.
var logins = []Event{sent(0, "alice"), loggedIn(0, "alice"), sent(1, "bob"), loggedIn(1, "bob")}

// aliceAndBob: they log in, then alice sends m1 to bob.
var aliceAndBob = with(logins, sent(0, "bob: m1"), accepted(0, "alice", "m1", "bob"), routed("alice", "m1"))

func with(history []Event, more ...Event) []Event {
	return append(slices.Clone(history), more...)
}

var (
	both  = map[int]bool{0: true, 1: true}
	three = map[int]bool{0: true, 1: true, 2: true}
	m1    = got(map[int][]string{1: lines("from alice: m1")})
	// bobTaken: conn 2 asked for bob, and was told it is taken.
	bobTaken = got(map[int][]string{2: lines(`error: name "bob" is taken`)})
)

type checkTest struct {
	name     string
	history  []Event
	received map[int][]string
	reading  map[int]bool
	want     []Property // each property broken, once
}

func runChecks(t *testing.T, cfg Config, tests []checkTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var broken []Property
			for _, v := range Check(tt.history, tt.received, tt.reading, cfg) {
				if !slices.Contains(broken, v.Property) {
					broken = append(broken, v.Property)
				}
				t.Log(v)
			}
			assert.Equal(t, tt.want, broken)
		})
	}
}

func TestDeliveryAndWhatItExcuses(t *testing.T) {
	runChecks(t, Config{}, []checkTest{
		{"delivered", aliceAndBob, m1, both, nil},
		{"lost", aliceAndBob, nil, both, []Property{Delivery}},
		{"lost to a client that stopped reading is excused",
			aliceAndBob, nil, map[int]bool{0: true}, nil},
		{"lost to a client that disconnected is excused",
			with(aliceAndBob, disconnected(1)), nil, both, nil},
		{"accepted after shutdown began may be lost",
			with(logins, shutdownBegan, aliceAndBob[4], aliceAndBob[5]), nil, both, nil},
		{"accepted after shutdown began may be delivered",
			with(logins, shutdownBegan, aliceAndBob[4], aliceAndBob[5]), m1, both, nil},
		{"delivered twice", aliceAndBob,
			got(map[int][]string{1: lines("from alice: m1", "from alice: m1")}), both, []Property{Duplicate}},
		{"delivered to someone else", aliceAndBob,
			got(map[int][]string{0: lines("from alice: m1"), 1: lines("from alice: m1")}), both,
			[]Property{Spurious}},
		{"never sent", aliceAndBob,
			got(map[int][]string{1: lines("from alice: m1", "from alice: m9")}), both, []Property{Spurious}},
		{"sent under another name", aliceAndBob,
			got(map[int][]string{1: lines("from bob: m1")}), both, []Property{Delivery, Spurious}},
		{"out of order",
			with(aliceAndBob, sent(0, "bob: m2"), accepted(0, "alice", "m2", "bob")),
			got(map[int][]string{1: lines("from alice: m2", "from alice: m1")}), both, []Property{Order}},
		{"a peer that logs in after a message is accepted, before it is routed, gets it",
			[]Event{sent(0, "alice"), loggedIn(0, "alice"), sent(0, "bob: m1"),
				accepted(0, "alice", "m1", "bob"), sent(1, "bob"), loggedIn(1, "bob"), routed("alice", "m1")},
			m1, both, nil},
		{"and must",
			[]Event{sent(0, "alice"), loggedIn(0, "alice"), sent(0, "bob: m1"),
				accepted(0, "alice", "m1", "bob"), sent(1, "bob"), loggedIn(1, "bob"), routed("alice", "m1")},
			nil, both, []Property{Delivery}},
		{"one that logs in after it was routed does not",
			[]Event{sent(0, "alice"), loggedIn(0, "alice"), sent(0, "bob: m1"),
				accepted(0, "alice", "m1", "bob"), routed("alice", "m1"), sent(1, "bob"), loggedIn(1, "bob")},
			got(map[int][]string{0: lines("error: not logged in: bob"), 1: lines("from alice: m1")}), both,
			[]Property{Spurious}},
		{"but not once the message was settled",
			[]Event{sent(0, "alice"), loggedIn(0, "alice"), sent(0, "bob: m1"),
				accepted(0, "alice", "m1", "bob"), routed("alice", "m1"), settledRead(map[int]int{0: 1}),
				sent(1, "bob"), loggedIn(1, "bob")},
			got(map[int][]string{0: lines("error: not logged in: bob"), 1: lines("from alice: m1")}), both,
			[]Property{Spurious}},
		{"a client that left still gets what was routed before it left",
			with(aliceAndBob, settledRead(map[int]int{1: 1}), left(1)), m1, both, nil},
		{"and it must have read it, if it was reading when the server settled",
			with(aliceAndBob, settled, disconnected(1)), nil, both, []Property{Delivery}},
		{"unless it was not reading",
			with(aliceAndBob, paused(1), settled, disconnected(1)), nil, both, nil},
		{"what was not routed yet when it left may be lost",
			with(aliceAndBob, left(1)), nil, both, nil},
		{"or delivered", with(aliceAndBob, left(1)), m1, both, nil},
		{"what is accepted after it left may be delivered until it is logged out",
			with(logins, left(1), aliceAndBob[4], aliceAndBob[5]), m1, both, nil},
		{"but not after",
			with(logins, left(1), loggedOut(1, "bob"), aliceAndBob[4], aliceAndBob[5]),
			got(map[int][]string{0: lines("error: not logged in: bob"), 1: lines("from alice: m1")}), both,
			[]Property{Spurious}},
		{"a logout of a client that did not leave excuses nothing",
			with(logins, loggedOut(1, "bob"), aliceAndBob[4], aliceAndBob[5]), nil, both, []Property{Delivery}},
		{"an evicted client still gets what was routed before",
			with(aliceAndBob, settledRead(map[int]int{1: 1}), evicted(1, "bob")),
			got(map[int][]string{1: lines("from alice: m1", "error: too slow: too many messages waiting for you; disconnected")}),
			both, []Property{Eviction}}, // the bound is 0 here: see TestEviction
		{"a bad line is not accepted, and is not owed",
			with(logins, sent(0, "no colon"), aliceAndBob[4], aliceAndBob[5]),
			got(map[int][]string{0: lines(noColon), 1: lines("from alice: m1")}), both, nil},
	})
}

func TestAcceptance(t *testing.T) {
	runChecks(t, Config{}, []checkTest{
		{"the server parsed other recipients",
			with(logins, sent(0, "bob, alice: m1"), accepted(0, "alice", "m1", "bob")),
			m1, both, []Property{Acceptance, Spurious}},
		{"the server accepted a line that was not sent",
			with(aliceAndBob, accepted(0, "alice", "m2", "bob")), m1, both, []Property{Acceptance}},
		{"the server skipped a line",
			with(logins, sent(0, "bob: m0"), aliceAndBob[4], aliceAndBob[5]), m1, both,
			[]Property{Acceptance, Spurious}},
		{"an impostor's message accepted",
			with(logins, sent(2, "alice"), sent(2, "bob: m1"), accepted(2, "alice", "m1", "bob")),
			m1, three, []Property{Impostor}},
	})
}

func TestProgress(t *testing.T) {
	runChecks(t, Config{}, []checkTest{
		{"a line of a logged-in client not accepted once the server settled",
			with(logins, sent(0, "bob: m1"), settled), nil, both, []Property{Progress}},
		{"nor once shutdown came, with no settle point between: not owed",
			with(logins, sent(0, "bob: m1"), shutdownBegan, settled), nil, both, nil},
		{"a line of a client that disconnected may never have arrived",
			with(logins, sent(0, "bob: m1"), disconnected(0), loggedOut(0, "alice"), settled), nil, both, nil},
		{"a line accepted, but not routed, once the server settled",
			with(logins, sent(0, "bob: m1"), accepted(0, "alice", "m1", "bob"), settled), m1, both,
			[]Property{Progress}},
		{"a login line not answered",
			[]Event{sent(0, "alice"), settled}, nil, both, []Property{Progress}},
		{"a name nobody else asked for, refused",
			[]Event{sent(0, "alice"), closed(0), settledRead(map[int]int{0: 1})},
			got(map[int][]string{0: lines(`error: name "alice" is taken`)}), both, []Property{Progress}},
		{"a name another asked for first may be refused",
			with(logins, sent(2, "bob"), closed(2), settledRead(map[int]int{2: 1})), bobTaken, three, nil},
		{"two asking for a name at once: either may get it",
			[]Event{sent(0, "alice"), sent(1, "alice"), loggedIn(1, "alice"), closed(0), settledRead(map[int]int{0: 1})},
			got(map[int][]string{0: lines(`error: name "alice" is taken`)}), both, nil},
		{"a reader held by the harness owes nothing yet",
			[]Event{sent(0, "alice"), {Kind: Held, Conn: 0}, settled}, nil, both, nil},
	})
}

func TestNames(t *testing.T) {
	runChecks(t, Config{}, []checkTest{
		{"logged in under another name",
			[]Event{sent(0, "alice"), loggedIn(0, "bob")}, nil, both, []Property{Names}},
		{"logged in under a name that is not one",
			[]Event{sent(0, "al:ice"), loggedIn(0, "al:ice")}, nil, both, []Property{Names}},
		{"one name, two connections",
			with(logins, sent(2, "alice"), loggedIn(2, "alice")), nil, three, []Property{Names}},
		{"one name, two connections, one after the other",
			with(logins, left(0), loggedOut(0, "alice"), sent(2, "alice"), loggedIn(2, "alice")),
			nil, three, nil},
	})
}

func TestLogin(t *testing.T) {
	runChecks(t, Config{}, []checkTest{
		{"a name freed by its client's leaving is given again",
			with(logins, left(1), loggedOut(1, "bob"), settled, sent(2, "bob"), loggedIn(2, "bob"), settled),
			nil, three, nil},
		{"a name not freed when its client left",
			with(logins, left(1), settled), nil, three, []Property{Login}},
		{"a name freed, but refused to the next client",
			with(logins, left(1), loggedOut(1, "bob"), settled, sent(2, "bob"), closed(2), settledRead(map[int]int{2: 1})),
			bobTaken, three, []Property{Login}},
		{"a taken name may be refused",
			with(logins, sent(2, "bob"), closed(2), settledRead(map[int]int{2: 1})), bobTaken, three, nil},
	})
}

const (
	noColon     = `error: no colon after the recipients; expected "name1, name2: text"`
	notUTF8     = `error: line is not valid UTF-8; expected "name1, name2: text"`
	noRecipient = `error: no recipient before the colon; expected "name1, name2: text"`
	tooSlow     = "error: too slow: too many messages waiting for you; disconnected"
)

func TestErrors(t *testing.T) {
	badThenGood := with(logins, sent(0, "no colon"), sent(0, "alice, bob: m1"),
		accepted(0, "alice", "m1", "alice", "bob"), routed("alice", "m1"))
	runChecks(t, Config{}, []checkTest{
		{"a bad line gets its error line",
			badThenGood, got(map[int][]string{0: lines(noColon, "from alice: m1"), 1: lines("from alice: m1")}),
			both, nil},
		{"in the order of the lines",
			badThenGood, got(map[int][]string{0: lines("from alice: m1", noColon), 1: lines("from alice: m1")}),
			both, []Property{Errors}},
		{"no error line",
			badThenGood, got(map[int][]string{0: lines("from alice: m1"), 1: lines("from alice: m1")}),
			both, []Property{Errors}},
		{"the wrong error line",
			badThenGood, got(map[int][]string{0: lines(notUTF8, "from alice: m1"), 1: lines("from alice: m1")}),
			both, []Property{Errors}},
		{"an error line for a good line",
			aliceAndBob, got(map[int][]string{0: lines(noRecipient), 1: lines("from alice: m1")}),
			both, []Property{Errors}},
		{"a bad line the server never read, shutdown first, may go unanswered",
			with(logins, sent(0, "no colon"), shutdownBegan), nil, both, nil},
		{"a bad line read before the server settled must be answered",
			with(logins, sent(0, "no colon"), settled), nil, both, []Property{Errors}},
		{"a recipient that is not logged in is named",
			with(logins, sent(0, "bob, zed: m1"), accepted(0, "alice", "m1", "bob", "zed"), routed("alice", "m1")),
			got(map[int][]string{0: lines("error: not logged in: zed"), 1: lines("from alice: m1")}), both, nil},
		{"and must be",
			with(logins, sent(0, "bob, zed: m1"), accepted(0, "alice", "m1", "bob", "zed"), routed("alice", "m1")),
			m1, both, []Property{Errors}},
		{"but not one that is",
			with(logins, sent(0, "bob, zed: m1"), accepted(0, "alice", "m1", "bob", "zed"), routed("alice", "m1")),
			got(map[int][]string{0: lines("error: not logged in: bob, zed"), 1: lines("from alice: m1")}), both,
			[]Property{Errors}},
		{"one that logs in after the message was routed must be named",
			[]Event{sent(0, "alice"), loggedIn(0, "alice"), sent(0, "bob: m1"),
				accepted(0, "alice", "m1", "bob"), routed("alice", "m1"), sent(1, "bob"), loggedIn(1, "bob")},
			nil, both, []Property{Errors}},
		{"one that logs in before it was routed must not be",
			[]Event{sent(0, "alice"), loggedIn(0, "alice"), sent(0, "bob: m1"),
				accepted(0, "alice", "m1", "bob"), sent(1, "bob"), loggedIn(1, "bob"), routed("alice", "m1")},
			got(map[int][]string{0: lines("error: not logged in: bob"), 1: lines("from alice: m1")}), both,
			[]Property{Errors}},
		{"a bad name is refused with its error line",
			[]Event{sent(0, "al,ice"), closed(0), settledRead(map[int]int{0: 1})},
			got(map[int][]string{0: lines(`error: name contains ",", ":", or a control or invisible character`)}),
			both, nil},
		{"a taken name, with its own",
			with(logins, sent(2, "bob"), closed(2), settledRead(map[int]int{2: 1})), bobTaken, three, nil},
		{"not with another's",
			with(logins, sent(2, "bob"), closed(2), settledRead(map[int]int{2: 1})),
			got(map[int][]string{2: lines(`error: name "alice" is taken`)}), three, []Property{Errors}},
		{"an evicted client is told why, last",
			with(aliceAndBob, evicted(1, "bob")),
			got(map[int][]string{1: lines("from alice: m1", tooSlow)}), both, []Property{Eviction}},
		{"not before what was queued for it",
			with(aliceAndBob, evicted(1, "bob")),
			got(map[int][]string{1: lines(tooSlow, "from alice: m1")}), both, []Property{Errors, Eviction}},
	})
}

func TestEviction(t *testing.T) {
	// bob does not read; alice sends him three messages; the bound is 2.
	three := with(logins, sent(0, "bob: m1"), accepted(0, "alice", "m1", "bob"), routed("alice", "m1"),
		sent(0, "bob: m2"), accepted(0, "alice", "m2", "bob"), routed("alice", "m2"))
	got := got(map[int][]string{1: lines("from alice: m1", "from alice: m2", tooSlow)})
	runChecks(t, Config{MaxQueued: 2}, []checkTest{
		{"two waiting: not yet", with(three, evicted(1, "bob")), got, both, []Property{Eviction}},
		{"three waiting: fair",
			with(three, sent(0, "bob: m3"), accepted(0, "alice", "m3", "bob"), evicted(1, "bob")),
			got, both, nil},
		{"an error line counts too",
			with(three, sent(1, "no colon"), evicted(1, "bob")), got, both, nil},
		// Over TCP, the writer may not have taken what bob read off its
		// count yet at the settle point where he had read it.
		{"three routed, but one was read at the last settle point: over TCP, its writer may still count it",
			with(three, paused(1), settledRead(map[int]int{1: 1}), sent(0, "bob: m3"), accepted(0, "alice", "m3", "bob"),
				evicted(1, "bob")), got, both, nil},
		{"three routed, but one was read two settle points ago",
			with(three, paused(1), settledRead(map[int]int{1: 1}), settledRead(map[int]int{1: 1}), sent(0, "bob: m3"),
				accepted(0, "alice", "m3", "bob"), evicted(1, "bob")), got, both, []Property{Eviction}},
	})
	// In a bubble, the settle point comes after every writer is done.
	runChecks(t, Config{MaxQueued: 2, Unbuffered: true}, []checkTest{
		{"in a bubble: three routed, but one was read at the last settle point",
			with(three, paused(1), settledRead(map[int]int{1: 1}), sent(0, "bob: m3"), accepted(0, "alice", "m3", "bob"),
				evicted(1, "bob")), got, both, []Property{Eviction}},
	})
	// Kept with more: in a bubble, what bob has not read waits in his queue
	// or in his writer's batch, the bound's worth each at most.
	unread := func(n int) []Event {
		history := with(logins, paused(1))
		for i := 1; i <= n; i++ {
			text := fmt.Sprintf("m%d", i)
			history = with(history, sent(0, "bob: "+text), accepted(0, "alice", text, "bob"), routed("alice", text))
		}
		return with(history, settledRead(map[int]int{}))
	}
	readLater := func(n int) map[int][]string { // bob reads them all after Ctrl-C
		var read []string
		for i := 1; i <= n; i++ {
			read = append(read, fmt.Sprintf("from alice: m%d", i))
		}
		return map[int][]string{1: read}
	}
	runChecks(t, Config{MaxQueued: 1, Unbuffered: true}, []checkTest{
		{"in a bubble: two waiting, one in the queue and one being written, is within the bound",
			unread(2), readLater(2), both, nil},
		{"three waiting, and not evicted: kept with more", unread(3), readLater(3), both, []Property{Eviction}},
	})
	runChecks(t, Config{MaxQueued: 1}, []checkTest{
		{"over TCP, the sockets hold some of them", unread(3), readLater(3), both, nil},
	})
	runChecks(t, Config{MaxQueued: 100, MaxQueuedBytes: 15, Unbuffered: true}, []checkTest{
		{"in a bubble: 30 bytes waiting, and not evicted: kept with more", unread(2), readLater(2), both, []Property{Eviction}},
	})
	// Two error lines of 68 bytes for alice, over a bound of 120: she read
	// the first two settle points before the second was queued. Over TCP
	// her writer may still count it (it takes bytes off only after its
	// write returns, and nothing she sees follows that); in a bubble it has
	// taken them off.
	twoAnswers := with(logins, sent(0, "no colon"), settledRead(map[int]int{0: 1}), settledRead(map[int]int{0: 1}),
		sent(0, "no colon"), evicted(0, "alice"))
	answered := map[int][]string{0: lines(noColon, noColon, tooSlow)}
	runChecks(t, Config{MaxQueued: 8, MaxQueuedBytes: 120}, []checkTest{
		{"over TCP, bytes read are not taken off: the writer may count them still", twoAnswers, answered, both, nil},
	})
	runChecks(t, Config{MaxQueued: 8, MaxQueuedBytes: 120, Unbuffered: true}, []checkTest{
		{"in a bubble, they are", twoAnswers, answered, both, []Property{Eviction}},
	})
}

func TestPending(t *testing.T) {
	history := with(logins, sent(0, "bob: m1"))
	assert.NotEmpty(t, Pending(history, nil, Config{}), "m1 is not accepted yet")
	history = with(history, accepted(0, "alice", "m1", "bob"))
	assert.NotEmpty(t, Pending(history, nil, Config{}), "m1 is not routed yet")
	history = with(history, routed("alice", "m1"))
	assert.NotEmpty(t, Pending(history, nil, Config{}), "bob has not read m1 yet")
	assert.Empty(t, Pending(history, m1, Config{}))
}

func TestCover(t *testing.T) {
	assert.Equal(t, Covered{InFlight: true}, Cover(with(aliceAndBob, shutdownBegan), nil))
	assert.Equal(t, Covered{}, Cover(with(aliceAndBob, shutdownRead(map[int]int{1: 1})), m1))
	assert.Equal(t, Covered{MidLogin: true},
		Cover(with(logins, connected(2), sent(2, "carol"), shutdownBegan), nil))
	assert.Equal(t, Covered{Evicted: true}, Cover(with(logins, evicted(1, "bob")), nil))
	assert.Equal(t, Covered{Rejoined: true},
		Cover(with(logins, left(1), loggedOut(1, "bob"), sent(2, "bob"), loggedIn(2, "bob")), nil))
}

// at returns ev as it happened at d.
func at(d time.Duration, ev Event) Event { ev.At = d; return ev }

func served(conn int) Event { return Event{Kind: Served, Conn: conn} }

func TestLimits(t *testing.T) {
	cfg := Config{MaxConns: 2, LoginTimeout: time.Second, WriteTimeout: time.Second, Unbuffered: true}
	two := []Event{connected(0), served(0), sent(0, "alice"), loggedIn(0, "alice"),
		connected(1), served(1), sent(1, "bob"), loggedIn(1, "bob")}
	const tooMany = "error: too many connections: try again later"
	const late = "error: no name in time: the first line must be your name"
	runChecks(t, cfg, []checkTest{
		{"two connections, the limit", with(two, settled), nil, both, nil},
		{"a third refused at once", with(two, connected(2), served(2), closed(2), settledRead(map[int]int{2: 1})),
			got(map[int][]string{2: lines(tooMany)}), three, nil},
		{"a third held", with(two, connected(2), served(2), settled), nil, three, []Property{Connections}},
		{"a third not accepted: left in the backlog", with(two, connected(2), settled), nil, three,
			[]Property{Progress}},
		{"refused for the limit under it",
			[]Event{connected(0), served(0), closed(0), settledRead(map[int]int{0: 1})},
			got(map[int][]string{0: lines(tooMany)}), both, []Property{Errors}},
		{"a silent connection closed at its login timeout",
			[]Event{connected(0), served(0), at(time.Second, closed(0)), at(2*time.Second, settledRead(map[int]int{0: 1}))},
			got(map[int][]string{0: lines(late)}), both, nil},
		{"a silent connection held past it",
			[]Event{connected(0), served(0), at(3*time.Second, settled)}, nil, both, []Property{Timeouts}},
		{"told it was late when it was not",
			[]Event{connected(0), served(0), sent(0, "alice"), at(time.Second/2, closed(0)),
				at(time.Second, settledRead(map[int]int{0: 1}))},
			got(map[int][]string{0: lines(late)}), both, []Property{Errors, Progress}},
		{"dropped a second after it stopped reading, with a message waiting",
			with(two, paused(1), sent(0, "bob: m1"), accepted(0, "alice", "m1", "bob"), routed("alice", "m1"),
				at(time.Second, closed(1))), nil, both, nil},
		{"dropped while it read",
			with(two, at(time.Second, closed(1))), nil, both, []Property{Timeouts}},
		// bob's write clock ran out at the instant alice's line came: the
		// server dropped him first, unseen, and told alice he is gone.
		{"told a recipient is gone when its write clock had run out, unseen",
			with(two, paused(1), at(time.Second, sent(0, "bob: m1")), at(time.Second, accepted(0, "alice", "m1", "bob")),
				at(time.Second, routed("alice", "m1")), at(time.Second, settledRead(map[int]int{0: 1}))),
			got(map[int][]string{0: lines("error: not logged in: bob")}), both, nil},
		{"told a recipient is gone after the server closed its connection",
			with(two, paused(1), at(time.Second, closed(1)), at(5*time.Second, sent(0, "bob: m1")),
				at(5*time.Second, accepted(0, "alice", "m1", "bob")), at(5*time.Second, routed("alice", "m1")),
				at(5*time.Second, settledRead(map[int]int{0: 1}))),
			got(map[int][]string{0: lines("error: not logged in: bob")}), both, nil},
		{"told a recipient is gone before its write clock ran out",
			with(two, paused(1), at(time.Second/2, sent(0, "bob: m1")), at(time.Second/2, accepted(0, "alice", "m1", "bob")),
				at(time.Second/2, routed("alice", "m1")), at(time.Second/2, settledRead(map[int]int{0: 1}))),
			got(map[int][]string{0: lines("error: not logged in: bob")}), both, []Property{Delivery, Errors}},
		{"dropped too soon after it stopped",
			with(two, paused(1), sent(0, "bob: m1"), accepted(0, "alice", "m1", "bob"), routed("alice", "m1"),
				at(time.Second/2, closed(1))), nil, both, []Property{Timeouts}},
		// The server's clock runs per piece of a write: bob read a little of
		// a piece after a long pause, and stopped again at once.
		{"dropped half a second after it stopped again, having read a little of a pending write",
			with(two, paused(1), sent(0, "bob: m1"), accepted(0, "alice", "m1", "bob"), routed("alice", "m1"),
				at(3*time.Second, Event{Kind: Resumed, Conn: 1}), at(3*time.Second, paused(1)),
				at(3*time.Second+time.Second/2, closed(1))), nil, both, nil},
		{"dropped too soon after it stopped again, once a settle point saw it read",
			with(two, paused(1), sent(0, "bob: m1"), accepted(0, "alice", "m1", "bob"), routed("alice", "m1"),
				at(3*time.Second, Event{Kind: Resumed, Conn: 1}), at(3*time.Second, settledRead(map[int]int{1: 1})),
				at(3*time.Second, sent(0, "bob: m2")), at(3*time.Second, accepted(0, "alice", "m2", "bob")),
				at(3*time.Second, routed("alice", "m2")), at(3*time.Second, paused(1)),
				at(3*time.Second+time.Second/2, closed(1))), m1, both, []Property{Timeouts}},
		// In a bubble, the write's clock can run out at the very instant the
		// client begins to read again: the close may have come first.
		{"dropped at its write timeout, at the instant it read again",
			with(two, paused(1), sent(0, "bob: m1"), accepted(0, "alice", "m1", "bob"), routed("alice", "m1"),
				at(time.Second, Event{Kind: Resumed, Conn: 1}), at(time.Second, closed(1))), nil, both, nil},
		{"dropped before its write timeout, at the instant it read again",
			with(two, paused(1), sent(0, "bob: m1"), accepted(0, "alice", "m1", "bob"), routed("alice", "m1"),
				at(time.Second/2, Event{Kind: Resumed, Conn: 1}), at(time.Second/2, closed(1))), nil, both, []Property{Delivery, Timeouts}},
		// A refusal waits on a client that does not read, with a deadline:
		// lost once it passes, though the close comes only after the client
		// reads again and the linger ends.
		{"a taken name's refusal lost to a client that did not read",
			with(two, connected(2), served(2), paused(2), sent(2, "alice"), settled,
				at(time.Second, Event{Kind: Resumed, Conn: 2}), at(3*time.Second/2, closed(2)), at(3*time.Second/2, settled)),
			nil, both, nil},
		{"a taken name's refusal missing for a client that read",
			with(two, connected(2), served(2), sent(2, "alice"), at(time.Second, closed(2)), at(time.Second, settled)),
			nil, both, []Property{Errors}},
		{"closed as it did not read, with nothing waiting: its linger ran out",
			with(two, paused(1), at(time.Second/2, closed(1))), nil, both, nil},
		{"held too long with a message waiting",
			with(two, paused(1), sent(0, "bob: m1"), accepted(0, "alice", "m1", "bob"), routed("alice", "m1"),
				at(3*time.Second, settled)),
			m1, both, []Property{Timeouts}},
		{"with nothing waiting, it may stop reading for ever",
			with(two, paused(1), at(3*time.Second, settled)), nil, both, nil},
		{"Serve returned before Ctrl-C", with(two, Event{Kind: ServeReturned}), nil, both, []Property{Serving}},
		{"Serve returned after Ctrl-C", with(two, Event{Kind: Interrupted}, Event{Kind: ServeReturned}, shutdownBegan), nil, both, nil},
	})
}

func TestEvictionInBytes(t *testing.T) {
	// bob does not read; alice sends him messages of 15 bytes ("from
	// alice: m1\n"); the bound is 15 bytes.
	history := with(logins, paused(1), sent(0, "bob: m1"), accepted(0, "alice", "m1", "bob"))
	runChecks(t, Config{MaxQueued: 100, MaxQueuedBytes: 15}, []checkTest{
		{"15 bytes: not yet", with(history, evicted(1, "bob")),
			got(map[int][]string{1: lines("from alice: m1", tooSlow)}), both, []Property{Eviction}},
		{"30 bytes: fair", with(history, sent(0, "bob: m2"), accepted(0, "alice", "m2", "bob"), evicted(1, "bob")),
			got(map[int][]string{1: lines("from alice: m1", "from alice: m2", tooSlow)}), both, nil},
	})
}
