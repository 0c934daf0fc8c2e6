package replies

import (
	"net"

	"achat/chat/protocol"
	"achat/chat/queue"
)

// connID tells connections apart. A name does not: once alice has left,
// another connection may log in as alice, and what the broker hears about
// the old one must never touch the new one.
type connID uint64

// event is what a reader sends the broker: a loginEvent, a messageEvent, a
// replyEvent or a leaveEvent.
type event any

// eventsBuffered is the room in the events channel. A reader that finds room
// hands its lines over and goes on reading, instead of waiting for the broker
// to take them: fewer goroutine switches, and more messages a second
// (docs/performance.md). What waits there is accepted, and not yet routed.
const eventsBuffered = 64

type loginEvent struct {
	id      connID
	name    string
	conn    net.Conn   // if the login is accepted, the broker owns writing to conn, and closing it
	verdict chan error // the broker's answer: nil, or why the name is refused
}

// messageEvent is the messages of every line a reader took at once: one
// event, and one wake-up of the broker, for all of them.
type messageEvent struct {
	id   connID
	from string
	msgs []protocol.Message // one batch of lines, in the order they were sent
}

// replyEvent is an error line for a logged-in client. It goes through the
// broker, to the client's writer, because the writer is the only goroutine
// that writes to a logged-in client's connection.
type replyEvent struct {
	id   connID
	name string
	line string
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
			ev.verdict <- s.login(peers, ev) // buffered: never blocks the broker
		case messageEvent:
			for _, msg := range ev.msgs {
				s.route(peers, ev.id, ev.from, msg)
				s.hooks.ReportRouted(ev.from, msg)
			}
		case replyEvent:
			reply(peers, ev.id, ev.name, ev.line)
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

// login gives a new peer a queue and a writer, or says why it cannot have
// them.
func (s *Server) login(peers map[string]peer, ev loginEvent) error {
	if _, taken := peers[ev.name]; taken {
		return protocol.NameTakenError{Name: ev.name}
	}
	q := queue.New[string]()
	peers[ev.name] = peer{id: ev.id, conn: ev.conn, queue: q}
	s.writers.Add(1)
	go s.write(ev.conn, ev.name, q) // ends when the broker closes q; drain waits
	s.hooks.ReportLoggedIn(ev.conn, ev.name)
	s.log.Info("logged in", "name", ev.name, "conn", ev.id)
	return nil
}

// route queues a message for each recipient that is logged in, and tells the
// sender which ones are not. A message to a peer that is gone is dropped
// here, without blocking anyone.
func (s *Server) route(peers map[string]peer, id connID, from string, msg protocol.Message) {
	// Formatted once, whatever the number of recipients.
	line := protocol.FormatDelivery(from, msg.Text)
	var unknown []string
	for _, name := range msg.To {
		if p, ok := peers[name]; ok {
			p.queue.Push(line)
		} else {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		err := protocol.UnknownRecipientsError{Names: unknown}
		reply(peers, id, from, protocol.ErrorLine(err))
	}
}

// reply queues line for connection id, logged in as name.
func reply(peers map[string]peer, id connID, name string, line string) {
	if p, ok := peers[name]; ok && p.id == id {
		p.queue.Push(line)
	}
}

// leave frees the name of a client that has left and closes its queue: its
// writer writes what is queued, then closes the connection. The name can log
// in again at once, on a new connection with a new queue.
func (s *Server) leave(peers map[string]peer, ev leaveEvent) {
	p, ok := peers[ev.name]
	// Only a logged-in reader sends leaveEvent, once, after its last message,
	// so p is its peer. The check keeps that true where it matters, here: a
	// broker that removed by name alone would remove whoever holds the name
	// now, were an old or a refused connection ever to say it left.
	if !ok || p.id != ev.id {
		return
	}
	delete(peers, ev.name)
	p.queue.Close() // the broker's last push to this queue: the writer may finish
	s.hooks.ReportLoggedOut(p.conn, ev.name)
	s.log.Info("left", "name", ev.name, "conn", ev.id)
}
