package cluster

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
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
//     exists, so two nodes can never hold one name. A node renews its keys;
//     the bucket's TTL frees the names of a node that died without a
//     shutdown;
//   - the messages: each node subscribes to the subject achat.node.<node>;
//     a message for a client of another node is published there, once per
//     node, with the names it is for.
//
// Every watcher of the bucket learns where each name is: that is how a
// broker knows, without asking, whether a name is logged in on another node.

// bucket is the key-value bucket of the names. Its keys are the names,
// encoded (nameKey); its values the nodes that hold them.
const bucket = "achat-names"

// busTimeout bounds each call to NATS: a node whose NATS server is gone
// must still stop.
const busTimeout = 2 * time.Second

// remoteEvent is a message that a sender's node published to this node for
// some of its clients. The subscription's handler hands it to the broker.
type remoteEvent struct {
	from string
	to   []string // the recipients logged in on this node, when the sender's node routed it
	text string
}

// nameEvent is a change to the bucket, as the watcher sees it: name is now
// held by node, or, if gone, by nobody.
type nameEvent struct {
	name, node string
	gone       bool
}

// remoteName is where a name that another node holds is, for the broker.
type remoteName struct {
	node string
	seen time.Time // its last renewal; older than the names' TTL, it is gone
}

// bus is a node's link to the others.
type bus struct {
	node     string // this node's id: its subject is achat.node.<node>
	nameTTL  time.Duration
	nc       *nats.Conn
	kv       jetstream.KeyValue
	sub      *nats.Subscription   // achat.node.<node>, handled by (*Server).receive
	gate     sync.Mutex           // held by receive while it hands a message over
	gateShut bool                 // set by leaveBus: receive drops what comes after
	watcher  jetstream.KeyWatcher // every change to the bucket, for the broker
	loops    sync.WaitGroup       // the watcher's and the renewer's goroutines
	stop     chan struct{}        // closed by stopLoops, to end the renewer

	mu   sync.Mutex        // guards held
	held map[string]uint64 // the names this node holds: name -> the key's revision
}

// newNodeID returns a random id, a valid subject token.
func newNodeID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// nodeSubject is the subject that node listens on.
func nodeSubject(node string) string { return "achat.node." + node }

// nameKey encodes name as a key: a name may hold characters that a NATS
// key may not ('*', '>', ' ', ...), and base64url's alphabet is all valid.
func nameKey(name string) string { return base64.RawURLEncoding.EncodeToString([]byte(name)) }

func keyName(key string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(key)
	return string(b), err
}

// connectBus connects to the NATS server at url and makes sure the bucket
// of names exists.
func connectBus(url, node string, nameTTL time.Duration) (*bus, error) {
	nc, err := nats.Connect(url, nats.Name("achat node "+node), nats.DrainTimeout(busTimeout))
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
			return &bus{node: node, nameTTL: nameTTL, nc: nc, kv: kv,
				stop: make(chan struct{}), held: make(map[string]uint64)}, nil
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
	b.held[name] = rev
	b.mu.Unlock()
	return nil
}

// release frees name, if this node still holds it. The revision makes sure
// that it deletes this node's claim, not a later one by another node.
func (b *bus) release(name string) error {
	b.mu.Lock()
	rev, ok := b.held[name]
	delete(b.held, name)
	b.mu.Unlock()
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), busTimeout)
	defer cancel()
	return b.kv.Delete(ctx, nameKey(name), jetstream.LastRevision(rev))
}

// releaseAll frees every name this node holds.
func (b *bus) releaseAll() error {
	b.mu.Lock()
	names := make([]string, 0, len(b.held))
	for name := range b.held {
		names = append(names, name)
	}
	b.mu.Unlock()
	var errs []error
	for _, name := range names {
		errs = append(errs, b.release(name))
	}
	return errors.Join(errs...)
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
	for name, rev := range held {
		next, err := b.kv.Update(ctx, nameKey(name), []byte(b.node), rev)
		if err != nil {
			continue // released meanwhile, or lost: see renew
		}
		b.mu.Lock()
		current, held := b.held[name]
		if held && current == rev {
			b.held[name] = next
		}
		b.mu.Unlock()
		if !held { // released while it was renewed, so its delete failed: delete it now
			b.kv.Delete(ctx, nameKey(name), jetstream.LastRevision(next))
		}
	}
}

// publish sends a message from a client of this node to names, all held by
// node. Publish only buffers it: flush, at shutdown, sends what is
// buffered. One connection publishes everything, in the order the broker
// routes it, and NATS keeps the order of one connection's messages to one
// subscriber: a sender's messages arrive in the order it sent them.
func (b *bus) publish(node, from string, names []string, text string) error {
	msg := nats.NewMsg(nodeSubject(node))
	msg.Header.Set("From", from)
	msg.Header["To"] = names
	msg.Data = []byte(text)
	return b.nc.PublishMsg(msg)
}

// flush returns once the NATS server has every message published so far.
func (b *bus) flush() error { return b.nc.FlushTimeout(busTimeout) }

// drainSubscription stops this node's interest in its subject, and returns
// once every message that NATS sent it before that has been handled.
func (b *bus) drainSubscription() error {
	closed := b.sub.StatusChanged(nats.SubscriptionClosed) // closed when the drain is over
	if err := b.sub.Drain(); err != nil {
		return err
	}
	select {
	case <-closed:
		return nil
	case <-time.After(busTimeout):
		return errors.New("cluster: the subscription's drain timed out")
	}
}

// stopLoops ends the watcher and the renewer, if they run, and waits for
// them.
func (b *bus) stopLoops() {
	close(b.stop) // the only close: the renewer returns
	if b.watcher != nil {
		b.watcher.Stop() // closes Updates: the watch loop returns
	}
	b.loops.Wait()
}

// close drains the NATS connection: what is still buffered goes out, then
// it closes. It returns when it is closed.
func (b *bus) close() {
	closed := make(chan struct{})
	b.nc.SetClosedHandler(func(*nats.Conn) { close(closed) }) // called once, when closed
	if b.nc.Drain() != nil {
		b.nc.Close()
	}
	<-closed
}

// decodeRemote reads what publish wrote.
func decodeRemote(msg *nats.Msg) remoteEvent {
	return remoteEvent{from: msg.Header.Get("From"), to: msg.Header.Values("To"), text: string(msg.Data)}
}

// decodeName reads a change to the bucket, as nameEvent.
func decodeName(e jetstream.KeyValueEntry) (nameEvent, bool) {
	name, err := keyName(e.Key())
	if err != nil {
		return nameEvent{}, false // not a key this program wrote
	}
	gone := e.Operation() != jetstream.KeyValuePut
	return nameEvent{name: name, node: strings.Clone(string(e.Value())), gone: gone}, true
}

// listen subscribes this node to its subject and watches the bucket, in
// goroutines of their own that hand what they get to the broker. If either
// fails, Serve returns the error, and the drain stops what did start.
func (s *Server) listen() error {
	b := s.bus
	sub, err := b.nc.Subscribe(nodeSubject(s.node), s.receive) // nats.go calls receive in one goroutine, in order
	if err != nil {
		return fmt.Errorf("cluster: subscribing: %w", err)
	}
	b.sub = sub
	watcher, err := b.kv.WatchAll(context.Background())
	if err != nil {
		return fmt.Errorf("cluster: watching the names: %w", err)
	}
	b.watcher = watcher
	b.loops.Go(func() { s.watchNames(watcher) }) // ends when stopLoops stops the watcher
	b.loops.Go(b.renew)                          // ends when stopLoops closes stop
	return nil
}

// receive hands a message that another node published for clients of this
// node to the broker. The gate makes sure that none is handed over once the
// broker's events are closed, even if NATS failed during the drain.
func (s *Server) receive(msg *nats.Msg) {
	b := s.bus
	b.gate.Lock()
	defer b.gate.Unlock()
	if b.gateShut {
		s.log.Warn("message not delivered: it came after this node's drain", "from", msg.Header.Get("From"))
		return
	}
	s.events <- decodeRemote(msg)
}

// watchNames tells the broker of every change to the bucket but this
// node's own, which the broker knows first.
func (s *Server) watchNames(watcher jetstream.KeyWatcher) {
	for entry := range watcher.Updates() {
		if entry == nil {
			continue // the end of the values the bucket had when the watch began
		}
		if ev, ok := decodeName(entry); ok && ev.node != s.node {
			s.events <- ev
		}
	}
}

// leaveBus takes this node out of the cluster, at shutdown, once its readers
// have stopped: no name will be claimed here again. It frees the names, so
// that the other nodes stop routing here and a client that moves can log in
// elsewhere at once; then it lets the messages published here before that
// arrive; last, it makes sure that nothing more is handed to the broker.
// What the broker publishes is flushed later, by drain.
func (s *Server) leaveBus() {
	b := s.bus
	b.stopLoops()
	if err := b.releaseAll(); err != nil {
		s.log.Warn("names not freed: they come free within the name TTL", "err", err, "ttl", s.nameTTL)
	}
	if b.sub != nil {
		if err := b.drainSubscription(); err != nil {
			s.log.Warn("subscription not drained", "err", err)
		}
	}
	b.gate.Lock()
	b.gateShut = true
	b.gate.Unlock()
}
