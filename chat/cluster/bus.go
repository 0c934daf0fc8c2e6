package cluster

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"achat/chat/protocol"
)

// This file holds what the chapter adds to chapter limits: the bus that
// makes many nodes one chat. Each node is a limits server; NATS carries
//
//   - the names: a JetStream key-value bucket holds one key per logged-in
//     name, whose value is the node that holds it. Create fails on a key that
//     exists, so two clients can never hold one name, on one node or on two.
//     A node renews its keys; the bucket's TTL frees the names of a node
//     that died without a shutdown;
//   - the messages: the node that holds a name subscribes to the subject
//     achat.user.<name>, and a message for a client of another node is
//     published there. A message follows its recipient, wherever it is
//     logged in.
//
// Every node watches the bucket, so a broker knows, without asking, whether
// a name is logged in on another node.

// bucket is the key-value bucket of the names. Its keys are the names,
// encoded (nameKey); its values the nodes that hold them.
const bucket = "achat-names"

// busTimeout bounds each call to NATS: a node whose NATS server is gone
// must still stop.
const busTimeout = 2 * time.Second

// remoteEvent is a message that a client of another node sent to a client
// of this one. The subscription's handler hands it to the broker.
type remoteEvent struct {
	from, to, text string
}

// overflowEvent says that NATS dropped messages for a client of this node:
// more came than its bounds let wait for the subscription's handler. sub
// tells a late report about a client that has left from one about the
// client that holds the name now.
type overflowEvent struct {
	name string
	sub  *nats.Subscription
}

// nameEvent is a change to the bucket, as the watcher sees it: name is now
// held by node, or, if gone, by nobody.
type nameEvent struct {
	name, node string
	gone       bool
}

// remoteName is a name that another node holds, as the broker knows it.
type remoteName struct {
	node string
	seen time.Time // its last renewal; older than the names' TTL, it is gone
}

// claim is a name that this node holds.
type claim struct {
	rev uint64             // the revision of the name's key that this node wrote last
	sub *nats.Subscription // the name's subject; nil until the broker has logged it in
}

// bus is a node's link to the others.
type bus struct {
	node    string // this node's id, the value of its keys
	nameTTL time.Duration
	nc      *nats.Conn
	kv      jetstream.KeyValue
	receive nats.MsgHandler      // for every name's subject
	pending [2]int               // what may wait for receive, per name: lines, bytes
	watcher jetstream.KeyWatcher // every change to the bucket, for the broker
	unwatch context.CancelFunc   // ends the watch, even on a closed connection
	loops   sync.WaitGroup       // the watcher's and the renewer's goroutines
	stop    chan struct{}        // closed by stopLoops, to end the renewer
	watched watchMark            // how far the watcher has told the broker

	mu   sync.Mutex       // guards held
	held map[string]claim // the names this node holds
}

// watchMark is how far the watcher has come: the bucket's revision up to
// which it has handed every change to the broker.
type watchMark struct {
	mu    sync.Mutex
	rev   uint64
	moved chan struct{} // closed, and replaced, whenever rev grows
}

func (w *watchMark) advance(rev uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if rev > w.rev {
		w.rev = rev
		close(w.moved) // wakes every wait: each checks rev again
		w.moved = make(chan struct{})
	}
}

// wait waits until the mark has reached rev, or timeout has passed, and
// reports which.
func (w *watchMark) wait(rev uint64, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		w.mu.Lock()
		reached, moved := w.rev >= rev, w.moved
		w.mu.Unlock()
		if reached {
			return true
		}
		select {
		case <-moved:
		case <-deadline:
			return false
		}
	}
}

// newNodeID returns a random id for a node.
func newNodeID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// nameKey encodes name as a key and a subject token: a name may hold
// characters that neither may ('.', '*', '>', ' ', ...), and base64url's
// alphabet is valid in both.
func nameKey(name string) string { return base64.RawURLEncoding.EncodeToString([]byte(name)) }

func keyName(key string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(key)
	return string(b), err
}

// userSubject is the subject of the messages for name.
func userSubject(name string) string { return "achat.user." + nameKey(name) }

// subjectName returns the name whose subject is subject.
func subjectName(subject string) (string, bool) {
	key, ok := strings.CutPrefix(subject, "achat.user.")
	if !ok {
		return "", false // the watch's subscription, say
	}
	name, err := keyName(key)
	return name, err == nil
}

// connectBus connects to the NATS server at url and makes sure the bucket
// of names exists. Messages for this node's names go to receive; at most
// pending (messages, bytes, headers included) wait for it per name. When
// nats.go drops what comes past that, log warns, and overflow, if not nil,
// is told the name and its subscription.
func connectBus(url, node string, nameTTL time.Duration, receive nats.MsgHandler,
	overflow func(name string, sub *nats.Subscription), pending [2]int, log *slog.Logger) (*bus, error) {
	nc, err := nats.Connect(url, nats.Name("achat node "+node), nats.DrainTimeout(busTimeout),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			log.Warn("NATS", "err", err)
			// A slow consumer: nats.go says so at the first message it drops,
			// on a goroutine of its own, and again only after a message has
			// fit once more.
			if errors.Is(err, nats.ErrSlowConsumer) && sub != nil && overflow != nil {
				if name, ok := subjectName(sub.Subject); ok {
					overflow(name, sub)
				}
			}
		}))
	if err != nil {
		return nil, fmt.Errorf("cluster: connecting to NATS at %s: %w", url, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), busTimeout)
	defer cancel()
	js, err := jetstream.New(nc)
	if err == nil {
		var kv jetstream.KeyValue
		kv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: bucket, TTL: nameTTL, Storage: jetstream.MemoryStorage,
		})
		if err == nil {
			return &bus{node: node, nameTTL: nameTTL, nc: nc, kv: kv, receive: receive, pending: pending,
				stop: make(chan struct{}), watched: watchMark{moved: make(chan struct{})},
				held: make(map[string]claim)}, nil
		}
	}
	nc.Close()
	return nil, fmt.Errorf("cluster: the names bucket on NATS at %s (is JetStream on?): %w", url, err)
}

// claim makes name this node's, unless a node, this one or another, holds it.
func (b *bus) claim(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), busTimeout)
	defer cancel()
	rev, err := b.kv.Create(ctx, nameKey(name), []byte(b.node))
	switch {
	case errors.Is(err, jetstream.ErrKeyExists):
		return protocol.NameTakenError{Name: name}
	case err != nil:
		return fmt.Errorf("cluster: claiming a name: %w", err)
	}
	b.mu.Lock()
	b.held[name] = claim{rev: rev}
	b.mu.Unlock()
	return nil
}

// knowsBefore waits until the broker has been told of every change to the
// bucket before this node's claim of name: then it knows every name that
// was claimed before. It reports whether that came within busTimeout.
func (b *bus) knowsBefore(name string) bool {
	b.mu.Lock()
	rev := b.held[name].rev
	b.mu.Unlock()
	return b.watched.wait(rev, busTimeout)
}

// listensFor reports whether sub is this node's subscription for name now.
func (b *bus) listensFor(name string, sub *nats.Subscription) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.held[name]
	return ok && c.sub == sub
}

// subscribe starts receiving the messages for name, which this node has
// claimed. The broker calls it once it has logged the name in, so that a
// message that comes finds its peer. It does not wait for NATS: see
// confirm.
func (b *bus) subscribe(name string) error {
	sub, err := b.nc.Subscribe(userSubject(name), b.receive) // nats.go calls receive in one goroutine per subscription, in order
	if err != nil {
		return err
	}
	// nats.go would hold up to 500,000 messages, 64 MiB, per subscription
	// for a busy handler: here, no more than may wait for the client.
	sub.SetPendingLimits(b.pending[0], b.pending[1])
	b.mu.Lock()
	c := b.held[name]
	c.sub = sub
	b.held[name] = c
	b.mu.Unlock()
	return nil
}

// confirm returns once the NATS server has every subscription made so far:
// a client whose login is answered after it gets every message published
// to its name from then on.
func (b *bus) confirm() error { return b.nc.FlushTimeout(busTimeout) }

// release frees name, if this node still holds it: no more messages for it
// are received here, and another client may claim it. The revision makes sure
// that it deletes this node's claim, not a later one of another node.
func (b *bus) release(name string) error {
	b.mu.Lock()
	c, ok := b.held[name]
	delete(b.held, name)
	b.mu.Unlock()
	if !ok {
		return nil
	}
	if c.sub != nil {
		c.sub.Unsubscribe() // the client has left: what comes for it now is not its
	}
	ctx, cancel := context.WithTimeout(context.Background(), busTimeout)
	defer cancel()
	return b.kv.Delete(ctx, nameKey(name), jetstream.LastRevision(c.rev))
}

// renew keeps this node's names alive: the bucket forgets a key that has
// not been written for its TTL, so a node that dies holds its names for
// that long at most. Each renewal is an Update at the revision this node
// wrote last: if the key expired and another node took the name meanwhile,
// it fails, and the name is that node's.
func (b *bus) renew() {
	tick := time.NewTicker(b.nameTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-tick.C:
			b.renewAll()
		}
	}
}

// renewAll renews every name this node holds. The lock is not held while
// NATS answers: a login must not wait for a round of renewals.
func (b *bus) renewAll() {
	b.mu.Lock()
	held := maps.Clone(b.held)
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), busTimeout)
	defer cancel()
	for name, c := range held {
		next, err := b.kv.Update(ctx, nameKey(name), []byte(b.node), c.rev)
		if err != nil {
			continue // released meanwhile, or lost: see renew
		}
		b.mu.Lock()
		current, still := b.held[name]
		if still && current.rev == c.rev {
			current.rev = next
			b.held[name] = current
		}
		b.mu.Unlock()
		if !still { // released while it was renewed, so its delete failed: delete it now
			b.kv.Delete(ctx, nameKey(name), jetstream.LastRevision(next))
		}
	}
}

// publish sends a message from a client of this node to name, a client of
// another node. Publish only buffers it: the broker's publishBatch waits
// until NATS has it. One connection publishes everything, in the order the
// broker routes it, and NATS keeps the order of one connection's messages to
// one subscription: a sender's messages arrive in the order it sent them.
func (b *bus) publish(from, name, text string) error {
	msg := nats.NewMsg(userSubject(name))
	msg.Header.Set("From", from)
	msg.Header.Set("To", name)
	msg.Data = []byte(text)
	return b.nc.PublishMsg(msg)
}

// flush returns once the NATS server has every message published so far.
func (b *bus) flush() error { return b.nc.FlushTimeout(busTimeout) }

// freeNames deletes the keys of every name this node holds, and keeps their
// subscriptions: at shutdown, what was published to them must still arrive.
func (b *bus) freeNames() error {
	b.mu.Lock()
	held := maps.Clone(b.held)
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), busTimeout)
	defer cancel()
	var errs []error
	for name, c := range held {
		errs = append(errs, b.kv.Delete(ctx, nameKey(name), jetstream.LastRevision(c.rev)))
	}
	return errors.Join(errs...)
}

// drainSubscriptions stops this node's interest in its names' subjects, and
// returns once every message that NATS sent it before that has been handled.
func (b *bus) drainSubscriptions() error {
	b.mu.Lock()
	held := maps.Clone(b.held)
	b.mu.Unlock()
	var closed []<-chan nats.SubStatus
	for _, c := range held {
		if c.sub != nil && c.sub.Drain() == nil {
			// Closed once the drain is over. (Asked for after Drain: a
			// subscription that is already closed then has a closed channel.)
			closed = append(closed, c.sub.StatusChanged(nats.SubscriptionClosed))
		}
	}
	timeout := time.After(busTimeout)
	for _, ch := range closed {
		select {
		case <-ch:
		case <-timeout:
			return errors.New("cluster: the subscriptions' drain timed out")
		}
	}
	return nil
}

// stopLoops ends the watcher and the renewer, if they run, and waits for
// them.
func (b *bus) stopLoops() {
	close(b.stop) // the only close: the renewer returns
	if b.watcher != nil {
		b.watcher.Stop() // closes Updates: the watch loop returns
		b.unwatch()      // and nats.go's goroutine that waits on the watch's context
	}
	b.loops.Wait()
}

// close drains the NATS connection: what is still buffered goes out, then
// it closes. It returns when it is closed, or when the drain's own bounds
// have passed (DrainTimeout for the subscriptions, then up to 5 s for
// nats.go's last flush): a node whose NATS server is gone must still stop.
func (b *bus) close() {
	closed := make(chan struct{})
	b.nc.SetClosedHandler(func(*nats.Conn) { close(closed) }) // called once, when the drain closes it
	if b.nc.Drain() != nil {
		b.nc.Close() // closed already (nats.go gave up reconnecting): no handler will run
		return
	}
	select {
	case <-closed:
	case <-time.After(busTimeout + 5*time.Second):
		b.nc.Close()
	}
}

// decodeName reads a change to the bucket, as nameEvent.
func decodeName(e jetstream.KeyValueEntry) (nameEvent, bool) {
	name, err := keyName(e.Key())
	if err != nil {
		return nameEvent{}, false // not a key this program wrote
	}
	gone := e.Operation() != jetstream.KeyValuePut
	return nameEvent{name: name, node: string(e.Value()), gone: gone}, true
}

// listen watches the bucket, and renews this node's names, in goroutines of
// their own. If the watch fails, Serve returns the error, and the drain
// stops what did start.
func (s *Server) listen() error {
	b := s.bus
	ctx, unwatch := context.WithCancel(context.Background())
	watcher, err := b.kv.WatchAll(ctx)
	if err != nil {
		unwatch()
		return fmt.Errorf("cluster: watching the names: %w", err)
	}
	b.watcher, b.unwatch = watcher, unwatch
	b.loops.Go(func() { s.watchNames(watcher) }) // ends when stopLoops stops the watcher
	b.loops.Go(b.renew)                          // ends when stopLoops closes stop
	return nil
}

// receive hands a message that a client of another node sent to a client of
// this one to the broker. The gate makes sure that none is handed over once
// the broker's events are closed, even if NATS failed during the drain.
func (s *Server) receive(msg *nats.Msg) {
	s.gate.Lock()
	defer s.gate.Unlock()
	if s.gateShut {
		s.log.Warn("message not delivered: it came after this node's drain", "from", msg.Header.Get("From"))
		return
	}
	s.events <- remoteEvent{from: msg.Header.Get("From"), to: msg.Header.Get("To"), text: string(msg.Data)}
}

// overflow hands the broker the name of a client for whom NATS dropped
// messages, behind the same gate as receive.
func (s *Server) overflow(name string, sub *nats.Subscription) {
	s.gate.Lock()
	defer s.gate.Unlock()
	if !s.gateShut {
		s.events <- overflowEvent{name: name, sub: sub}
	}
}

// watchNames tells the broker of every change to the bucket but this
// node's own, which the broker knows first, and marks how far it has come.
func (s *Server) watchNames(watcher jetstream.KeyWatcher) {
	for entry := range watcher.Updates() {
		if entry == nil {
			continue // the end of the values the bucket had when the watch began
		}
		if ev, ok := decodeName(entry); ok && ev.node != s.node {
			s.events <- ev
		}
		s.bus.watched.advance(entry.Revision())
	}
}

// leaveBus takes this node out of the cluster, at shutdown, once its readers
// have stopped: no name will be claimed here again. It stops the watcher
// and the renewer (the watcher sends to the broker, and a renewal would move
// a key's revision); it frees the names, so that the other nodes stop
// routing here and a client that moves can log in elsewhere at once; it
// drains the subscriptions, so that every message that reached this node
// before it stopped listening is handled; last, it makes sure that nothing
// more is handed to the broker. What the broker publishes after that, it
// flushes as it goes (publishBatch).
func (s *Server) leaveBus() {
	b := s.bus
	b.stopLoops()
	if err := b.freeNames(); err != nil {
		s.log.Warn("names not freed: they come free within the name TTL", "err", err, "ttl", s.nameTTL)
	}
	if err := b.drainSubscriptions(); err != nil {
		s.log.Warn("messages for this node's clients may be lost", "err", err)
	}
	s.gate.Lock()
	s.gateShut = true
	s.gate.Unlock()
}
