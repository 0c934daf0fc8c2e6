package cluster

import (
	"testing"

	"achat/chat/chattest"
	"achat/model"
)

// A property that no broken server fails is not a test. Each mutant breaks
// what this chapter adds to limits, the bus, in one small way, as a reader
// might when they write it themselves, and TestProperties must catch it
// with the right property and a shrunk schedule, in its settled part and in
// its rushed one (see chattest.CheckMutants).
func TestMutantsAreCaught(t *testing.T) {
	chattest.CheckMutants(t, []string{"^TestProperties$/^settled$", "^TestProperties$/^rushed$"}, mutants)
}

var mutants = []chattest.Mutant{
	{
		// The name is checked in this node's map only, as in one server:
		// another node's client may hold it too.
		Name:  "a name claimed on its node only",
		Edits: []chattest.Edit{chattest.Replace("conn.go", "if err := s.bus.claim(name); err != nil {", "if err := error(nil); err != nil {")},
		Want:  model.Names,
		Also:  []model.Property{model.Errors}, // the other nodes learn of the name late: at its first renewal
	},
	{
		// A client frees its name when it leaves, but at shutdown the
		// readers stop without leaving: the node must free the names
		// itself. Without it, they stay taken until the bucket forgets
		// them, and a client that moves is refused.
		Name:  "names not freed at shutdown",
		Edits: []chattest.Edit{chattest.Replace("bus.go", "	if err := b.freeNames(); err != nil {", "	if err := error(nil); err != nil {")},
		Want:  model.Login,
	},
	{
		// The age test of a name held elsewhere, backwards: a fresh name is
		// taken for one whose node died.
		Name:  "a name held elsewhere, thought gone",
		Edits: []chattest.Edit{chattest.Replace("broker.go", "time.Since(r.seen) <= s.nameTTL", "time.Since(r.seen) > s.nameTTL")},
		Want:  model.Errors,
	},
	{
		// Publishing in a goroutine, so that NATS never holds the broker up:
		// the goroutines publish in any order, and after the flush.
		Name:  "published in a goroutine",
		Edits: []chattest.Edit{chattest.Replace("broker.go", "\t\t\t\ts.publish(ev.from, name, msg.Text)", "\t\t\t\tgo s.publish(ev.from, name, msg.Text)")},
		Want:  model.Order,
		Also:  []model.Property{model.Delivery},
	},
	{
		// A message from another node handed to the broker twice.
		Name:  "a message from another node delivered twice",
		Edits: []chattest.Edit{chattest.Replace("broker.go", "\t\ts.push(peers, ev.to, p, protocol.FormatDelivery(ev.from, ev.text))\n", "\t\ts.push(peers, ev.to, p, protocol.FormatDelivery(ev.from, ev.text))\n\t\ts.push(peers, ev.to, p, protocol.FormatDelivery(ev.from, ev.text))\n")},
		Want:  model.Duplicate,
	},
	{
		// The headers read the wrong way round: the message goes to its
		// sender, if it is a client of this node.
		Name:  "sender and recipient swapped",
		Edits: []chattest.Edit{chattest.Replace("bus.go", `from: msg.Header.Get("From"), to: msg.Header.Get("To")`, `from: msg.Header.Get("To"), to: msg.Header.Get("From")`)},
		Want:  model.Spurious,
		Also:  []model.Property{model.Delivery},
	},
}

// TestTestMutantsAreCaught: a mutant that no schedule can catch, because
// the moment it breaks is too short to hit, caught by the test that sets that
// moment up.
func TestTestMutantsAreCaught(t *testing.T) {
	chattest.CheckTestMutants(t, []chattest.TestMutant{{
		// Unsubscribe in place of Drain: what had reached the node, and waited
		// for its handler, is dropped.
		Name:  "subscriptions unsubscribed, not drained",
		Edits: []chattest.Edit{chattest.Replace("bus.go", "if c.sub != nil && c.sub.Drain() == nil {", "if c.sub != nil && c.sub.Unsubscribe() == nil {")},
		Test:  "TestTheDrainHandlesWhatHadArrived",
	}, {
		// A login answered before its node has heard of the names claimed
		// before it: a line to one of them may be refused, "not logged in".
		Name:  "a login that does not wait for the watch",
		Edits: []chattest.Edit{chattest.Replace("conn.go", "if !s.bus.knowsBefore(name) {", "if false {")},
		Test:  "TestALoginKnowsTheNamesClaimedBeforeIt",
	}, {
		// NATS's drops only logged: the client is not told, and never
		// knows what it missed.
		Name:  "a slow consumer only logged",
		Edits: []chattest.Edit{chattest.Replace("bus.go", "\t\t\t\t\toverflow(name, sub)\n", "\t\t\t\t\t_, _ = name, sub\n")},
		Test:  "TestTheBusNamesAClientWhoseMessagesNATSDropped",
	}, {
		// Any report evicts: a late one, about a client that has left,
		// evicts the one logged in under the name now.
		Name:  "a slow consumer's report taken by name alone",
		Edits: []chattest.Edit{chattest.Replace("broker.go", " && s.bus.listensFor(ev.name, ev.sub)", "")},
		Test:  "TestANodeLetsGoAClientWhoseMessagesNATSDropped",
	}})
}
