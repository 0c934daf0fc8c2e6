package drain

import (
	"net"

	"achat/chat/protocol"
	"achat/chat/queue"
)

// event is what a reader sends the broker: a loginEvent or a messageEvent.
type event any

// eventsBuffered is the room in the events channel. A reader that finds room
// hands its lines over and goes on reading, instead of waiting for the broker
// to take them: fewer goroutine switches, and more messages a second
// (docs/performance.md). What waits there is accepted, and not yet routed.
const eventsBuffered = 64

type loginEvent struct {
	name string
	conn net.Conn // from now on the broker owns writing to conn, and closing it
}

// messageEvent is the messages of every line a reader took at once: one
// event, and one wake-up of the broker, for all of them.
type messageEvent struct {
	from string
	msgs []protocol.Message // one batch of lines, in the order they were sent
}

// broker owns the map of peers: no other goroutine touches it, so it needs no
// lock. It runs until drain closes events, routes what is left in it, and
// then closes every peer's queue, which tells each writer to finish.
func (s *Server) broker() {
	defer close(s.brokerDone)
	peers := make(map[string]*queue.Queue[string])
	for ev := range s.events {
		switch ev := ev.(type) {
		case loginEvent:
			s.login(peers, ev)
		case messageEvent:
			for _, msg := range ev.msgs {
				route(peers, ev.from, msg)
				s.hooks.ReportRouted(ev.from, msg)
			}
		}
	}
	// events is closed and empty: no message will be routed again. The broker
	// is each queue's only pusher, so it is the one to close it.
	for _, q := range peers {
		q.Close()
	}
}

// login gives a new peer a queue and a writer. A taken name is refused by
// closing the connection.
func (s *Server) login(peers map[string]*queue.Queue[string], ev loginEvent) {
	if _, taken := peers[ev.name]; taken {
		s.log.Info("name taken: closing the connection", "name", ev.name)
		ev.conn.Close()
		return
	}
	q := queue.New[string]()
	peers[ev.name] = q
	s.writers.Add(1)
	go s.write(ev.conn, ev.name, q) // ends when the broker closes q; drain waits
	s.hooks.ReportLoggedIn(ev.conn, ev.name)
}

// route queues msg for each recipient that is logged in.
func route(peers map[string]*queue.Queue[string], from string, msg protocol.Message) {
	// Formatted once, whatever the number of recipients.
	line := protocol.FormatDelivery(from, msg.Text)
	for _, name := range msg.To {
		if q, ok := peers[name]; ok {
			q.Push(line)
		}
	}
}
