package cluster

import (
	"net"
	"sync/atomic"
	"time"

	"achat/chat/protocol"
	"achat/chat/queue"
)

// connID tells connections apart. A name does not: once alice has left,
// another connection may log in as alice, and what the broker hears about
// the old one must never touch the new one.
type connID uint64

// event is what a reader sends the broker: a loginEvent, a messageEvent, a
// replyEvent or a leaveEvent; or what the bus sends it: a remoteEvent or a
// nameEvent (bus.go).
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
	id        connID
	conn      net.Conn
	queue     *queue.Queue[string] // the broker pushes, the peer's writer takes
	unwritten *atomic.Int64        // bytes pushed and not yet written: the broker adds, the writer takes off
	evicted   bool                 // too slow: nothing more is queued for it
}

// broker owns the map of peers: no other goroutine touches it, so it needs no
// lock. It runs until drain closes events, routes what is left in it, and
// then closes every peer's queue, which tells each writer to finish.
func (s *Server) broker() {
	defer close(s.brokerDone)
	peers := make(map[string]peer)
	remote := make(map[string]remoteName) // the names other nodes hold, as the watcher saw them
	for ev := range s.events {
		switch ev := ev.(type) {
		case loginEvent:
			ev.verdict <- s.login(peers, ev) // buffered: never blocks the broker
		case messageEvent:
			s.publishBatch(peers, remote, ev)
			for _, msg := range ev.msgs {
				s.route(peers, remote, ev.id, ev.from, msg)
				s.hooks.ReportRouted(ev.from, msg)
			}
		case replyEvent:
			s.reply(peers, ev.id, ev.name, ev.line)
		case leaveEvent:
			s.leave(peers, ev)
		case remoteEvent:
			s.deliverRemote(peers, ev)
		case overflowEvent:
			s.overflowed(peers, ev)
		case nameEvent:
			s.noteName(remote, ev)
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
	q, unwritten := queue.New[string](), new(atomic.Int64)
	peers[ev.name] = peer{id: ev.id, conn: ev.conn, queue: q, unwritten: unwritten}
	s.writers.Add(1)
	go s.write(ev.conn, ev.name, q, unwritten) // ends when the broker closes q; drain waits
	// After the peer is in the map, so that a message from another node
	// finds it; the reader waits until NATS has the subscription.
	if err := s.bus.subscribe(ev.name); err != nil {
		s.log.Warn("messages from other nodes will not reach this client", "name", ev.name, "err", err)
	}
	s.hooks.ReportLoggedIn(ev.conn, ev.name)
	s.log.Info("logged in", "name", ev.name, "conn", ev.id)
	return nil
}

// route queues a message for each recipient that is logged in here, and
// tells the sender which ones are logged in nowhere; publishBatch has
// published it for those logged in on another node. A message to a peer
// that is gone is dropped here, without blocking anyone.
func (s *Server) route(peers map[string]peer, remote map[string]remoteName, id connID, from string, msg protocol.Message) {
	// Formatted once, whatever the number of recipients.
	line := protocol.FormatDelivery(from, msg.Text)
	var unknown []string
	for _, name := range msg.To {
		p, here := peers[name]
		switch {
		case here && !p.evicted:
			s.push(peers, name, p, line)
		case !here && s.heldElsewhere(remote, name):
			// published by publishBatch
		default: // logged in nowhere, or on its way out (see evict)
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		err := protocol.UnknownRecipientsError{Names: unknown}
		s.reply(peers, id, from, protocol.ErrorLine(err))
	}
}

// push queues line for peer p, logged in as name, unless it is on its way
// out, and evicts it if that makes more than maxQueued lines, or more than
// maxQueuedBytes bytes, wait for it. The bytes count what its writer has
// taken and not written yet: the writer takes the whole queue at once, and
// would otherwise hold as much again.
func (s *Server) push(peers map[string]peer, name string, p peer, line string) {
	if p.evicted {
		return // dropped: see evict
	}
	p.queue.Push(line)
	unwritten := p.unwritten.Add(int64(len(line)))
	if waiting := p.queue.Len(); waiting > s.maxQueued || unwritten > s.maxQueuedBytes {
		s.evict(peers, name, p, waiting)
	}
}

// reply queues line for connection id, logged in as name. Error lines count
// against the bound too: a client that sends to nobody and never reads would
// otherwise fill its queue with them.
func (s *Server) reply(peers map[string]peer, id connID, name string, line string) {
	if p, ok := peers[name]; ok && p.id == id {
		s.push(peers, name, p, line)
	}
}

// evict disconnects a client that has fallen too far behind. Its queue is
// not thrown away: it is bounded, and the client may still read it. Nothing
// more is queued for it but an error line that says why, and its reader is
// stopped with a read deadline in the past. The reader then says it left, as
// any reader whose input ends does, and leave frees the name and closes the
// queue. The queue is not closed here: its writer would then close the
// connection while the reader might still be reading it.
func (s *Server) evict(peers map[string]peer, name string, p peer, waiting int) {
	p.evicted = true
	peers[name] = p
	tooSlow := protocol.ErrorLine(protocol.ErrTooSlow)
	p.queue.Push(tooSlow)
	p.unwritten.Add(int64(len(tooSlow)))
	p.conn.SetReadDeadline(time.Now())
	s.hooks.ReportEvicted(p.conn, name, waiting)
	s.log.Warn("too slow: disconnecting", "name", name, "conn", p.id, "waiting", waiting)
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

// publishBatch publishes the messages of a batch for the recipients that
// other nodes hold, then waits until NATS has them, before route queues a
// single line of the batch here. So a client that reads an answer to its
// line (its own copy, a message to another client of this node) knows that
// the copies for other nodes have left this node: its drain, or the drain of
// the recipient's node, cannot lose them any more. Publish only buffers:
// without the wait, the sender could see its copy while the others still
// sat in this node's buffer, and the recipient's node could stop listening
// before they left it. The wait is a round trip to NATS per batch that goes
// to another node (docs/performance.md measures its price).
func (s *Server) publishBatch(peers map[string]peer, remote map[string]remoteName, ev messageEvent) {
	published := false
	for _, msg := range ev.msgs {
		for _, name := range msg.To {
			if _, here := peers[name]; !here && s.heldElsewhere(remote, name) {
				s.publish(ev.from, name, msg.Text)
				published = true
			}
		}
	}
	if published {
		if err := s.bus.flush(); err != nil {
			s.log.Warn("messages for other nodes may be lost: NATS did not confirm them", "err", err)
		}
	}
}

// heldElsewhere reports whether another node holds name. A name whose node
// has not renewed it for the name TTL is gone: that node died without
// freeing it, and the bucket has forgotten it without a word to the
// watchers.
func (s *Server) heldElsewhere(remote map[string]remoteName, name string) bool {
	r, ok := remote[name]
	return ok && time.Since(r.seen) <= s.nameTTL
}

// publish hands a message for a client of another node to NATS.
func (s *Server) publish(from, to, text string) {
	if err := s.bus.publish(from, to, text); err != nil {
		s.log.Warn("message not delivered: NATS refused it", "from", from, "to", to, "err", err)
	}
}

// noteName records a change to the names that other nodes hold. A watch
// may skip a value that the next one replaced at once (the bucket keeps one
// per key): a client that moves from one node to another may show up as a
// put for the new node, with no delete before it.
func (s *Server) noteName(remote map[string]remoteName, ev nameEvent) {
	if ev.gone {
		delete(remote, ev.name)
		s.log.Debug("name freed elsewhere", "name", ev.name)
		return
	}
	if r, known := remote[ev.name]; !known || r.node != ev.node { // new, or moved: not a renewal
		s.log.Debug("name held elsewhere", "name", ev.name, "node", ev.node)
	}
	remote[ev.name] = remoteName{node: ev.node, seen: time.Now()}
}

// deliverRemote queues a message that another node routed to a client of
// this one, if it is still logged in here. One that left meanwhile does not
// get it, and its sender is not told: the sender's node routed it to a
// client it saw logged in, as one server would.
func (s *Server) deliverRemote(peers map[string]peer, ev remoteEvent) {
	if p, ok := peers[ev.to]; ok && !p.evicted {
		s.push(peers, ev.to, p, protocol.FormatDelivery(ev.from, ev.text))
	}
}

// overflowed evicts a client for whom NATS dropped messages: more came from
// other nodes than its bounds let wait, here, for this node to take them.
// NATS cannot slow their senders down, so the client is let go, and told,
// as one that falls behind its queue is, rather than miss messages without
// a word. A report about a subscription that is no longer the name's comes
// late, about a client that has left: the one logged in now lost nothing.
func (s *Server) overflowed(peers map[string]peer, ev overflowEvent) {
	p, ok := peers[ev.name]
	if ok && !p.evicted && s.bus.listensFor(ev.name, ev.sub) {
		s.log.Warn("messages for a client dropped by NATS: this node fell behind", "name", ev.name)
		s.evict(peers, ev.name, p, p.queue.Len())
	}
}
