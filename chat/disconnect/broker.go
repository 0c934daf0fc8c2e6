package disconnect

import (
	"net"

	"achat/chat/protocol"
	"achat/chat/queue"
)

// connID tells connections apart. A name does not: once alice has left,
// another connection may log in as alice, and what the broker hears about
// the old one must never touch the new one.
type connID uint64

// event is what a reader sends the broker: a loginEvent, a messageEvent or
// a leaveEvent.
type event any

// eventsBuffered is the room in the events channel. A reader that finds room
// hands its lines over and goes on reading, instead of waiting for the broker
// to take them: fewer goroutine switches, and more messages a second
// (docs/performance.md). What waits there is accepted, and not yet routed.
const eventsBuffered = 64

type loginEvent struct {
	id   connID
	name string
	conn net.Conn // from now on the broker owns writing to conn, and closing it
}

// messageEvent is the messages of every line a reader took at once: one
// event, and one wake-up of the broker, for all of them.
type messageEvent struct {
	from string
	msgs []protocol.Message // one batch of lines, in the order they were sent
}

// leaveEvent says that a logged-in client's input has ended.
type leaveEvent struct {
	id   connID
	name string
}

// peer is a logged-in connection, as the broker knows it.
type peer struct {
	id    connID
	conn  net.Conn
	queue *queue.Queue[string] // the broker pushes, the peer's writer takes
}

// broker owns the map of peers: no other goroutine touches it, so it needs no
// lock. It runs until drain closes events, routes what is left in it, and
// then closes every peer's queue, which tells each writer to finish.
func (s *Server) broker() {
	defer close(s.brokerDone)
	peers := make(map[string]peer)
	for ev := range s.events {
		switch ev := ev.(type) {
		case loginEvent:
			s.login(peers, ev)
		case messageEvent:
			for _, msg := range ev.msgs {
				route(peers, ev.from, msg)
				s.hooks.ReportRouted(ev.from, msg)
			}
		case leaveEvent:
			s.leave(peers, ev)
		}
	}
	// events is closed and empty: no message will be routed again. The broker
	// is each queue's only pusher, so it is the one to close it.
	for _, p := range peers {
		p.queue.Close()
	}
}

// login gives a new peer a queue and a writer. A taken name is refused by
// closing the connection.
func (s *Server) login(peers map[string]peer, ev loginEvent) {
	if _, taken := peers[ev.name]; taken {
		s.log.Info("name taken: closing the connection", "name", ev.name)
		s.closeConn(ev.conn)
		return
	}
	q := queue.New[string]()
	peers[ev.name] = peer{id: ev.id, conn: ev.conn, queue: q}
	s.writers.Add(1)
	go s.write(ev.conn, ev.name, q) // ends when the broker closes q; drain waits
	s.hooks.ReportLoggedIn(ev.conn, ev.name)
	s.log.Info("logged in", "name", ev.name, "conn", ev.id)
}

// route queues msg for each recipient that is logged in. A message to a
// peer that is gone is dropped here, without blocking anyone.
func route(peers map[string]peer, from string, msg protocol.Message) {
	// Formatted once, whatever the number of recipients.
	line := protocol.FormatDelivery(from, msg.Text)
	for _, name := range msg.To {
		if p, ok := peers[name]; ok {
			p.queue.Push(line)
		}
	}
}

// leave frees the name of a client that has left and closes its queue: its
// writer writes what is queued, then closes the connection. The name can log
// in again at once, on a new connection with a new queue.
func (s *Server) leave(peers map[string]peer, ev leaveEvent) {
	p, ok := peers[ev.name]
	// A refused connection's reader says it left too, under the name it was
	// refused: the id tells it from the connection that holds the name.
	if !ok || p.id != ev.id {
		return
	}
	delete(peers, ev.name)
	p.queue.Close() // the broker's last push to this queue: the writer may finish
	s.hooks.ReportLoggedOut(p.conn, ev.name)
	s.log.Info("left", "name", ev.name, "conn", ev.id)
}
