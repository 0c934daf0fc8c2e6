package cluster

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"achat/chat/chattrace"
)

// ErrServerClosed is returned by Serve once Shutdown has been called.
var ErrServerClosed = errors.New("chat: server closed")

// Config holds what a Server is built with. The zero Config is usable.
// Every resource a client can make the server hold has a bound, a clock, or
// both: the fields below are they.
type Config struct {
	Logger *slog.Logger     // nil: log nothing
	Hooks  *chattrace.Hooks // nil: trace nothing
	// MaxQueued is how many lines may wait for one client before it is
	// disconnected as too slow (0: DefaultMaxQueued).
	MaxQueued int
	// MaxQueuedBytes is how many bytes may wait for one client, error
	// lines included, written or not by its writer yet, before it is
	// disconnected as too slow (0: DefaultMaxQueuedBytes).
	MaxQueuedBytes int
	// MaxConns is how many connections the server holds at once; one past
	// it is told so and closed at once (0: DefaultMaxConns).
	MaxConns int
	// LoginTimeout is how long a connection may take to send its name
	// (0: DefaultLoginTimeout).
	LoginTimeout time.Duration
	// WriteTimeout is how long a write to a client may make no progress
	// before the server gives up on the client (0: DefaultWriteTimeout).
	WriteTimeout time.Duration
	// NATS is the URL of the NATS server, with JetStream, that joins the
	// nodes into one chat. Serve fails without it.
	NATS string
	// NameTTL is how long the names of a node that stopped without a
	// shutdown stay taken (0: DefaultNameTTL).
	NameTTL time.Duration
}

// The defaults of Config. With them, the most the server can hold for its
// clients is about 2 MiB a connection, 2.1 GiB in all: the formula is in
// docs/09-limits.md, and bench's TestWorstCaseTerms keeps its terms true.
const (
	DefaultMaxQueued      = 4096
	DefaultMaxQueuedBytes = 256 << 10
	DefaultMaxConns       = 1000
	DefaultLoginTimeout   = 10 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	DefaultNameTTL        = 6 * time.Second
)

// Server is a chat server. Create it with New, run it with Serve, stop it
// with Shutdown.
type Server struct {
	log            *slog.Logger
	hooks          *chattrace.Hooks
	maxQueued      int           // lines that may wait for one client
	maxQueuedBytes int64         // bytes that may wait for one client
	maxConns       int           // connections held at once
	loginTimeout   time.Duration // for a connection's first line
	writeTimeout   time.Duration // for a write that makes no progress
	natsURL        string        // the bus
	nameTTL        time.Duration // how long a dead node's names stay taken
	node           string        // this node's id on the bus
	bus            *bus          // set by Serve before its accept loop starts
	gate           sync.Mutex    // held by receive while it hands a message to the broker
	gateShut       bool          // set by leaveBus: receive drops what comes after

	// ctx is cancelled when shutdown begins. A cancelled context is a state,
	// not an event: a reader that checks it late still sees it, unlike a
	// notification that reaches only whoever is registered at that instant.
	ctx        context.Context
	cancelCtx  context.CancelFunc
	events     chan event     // readers -> broker; closed by drain, after the last reader
	readers    sync.WaitGroup // one per connection; Add by the accept loop
	writers    sync.WaitGroup // one per logged-in peer; Add by the broker
	acceptDone chan struct{}  // closed by Serve when its accept loop has returned
	brokerDone chan struct{}  // closed by the broker once every queue is closed
	drained    chan struct{}  // closed by drain once every goroutine has ended

	mu           sync.Mutex   // guards the fields below
	listener     net.Listener // set by Serve; nil until then
	shuttingDown bool
	conns        map[net.Conn]struct{} // open connections, for the limit and the drain deadline
	connsClosed  bool                  // the drain deadline has passed
}

// New returns a server configured by cfg.
func New(cfg Config) *Server {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		log:            logger,
		hooks:          cfg.Hooks,
		maxQueued:      orDefault(cfg.MaxQueued, DefaultMaxQueued),
		maxQueuedBytes: int64(orDefault(cfg.MaxQueuedBytes, DefaultMaxQueuedBytes)),
		maxConns:       orDefault(cfg.MaxConns, DefaultMaxConns),
		loginTimeout:   orDefault(cfg.LoginTimeout, DefaultLoginTimeout),
		writeTimeout:   orDefault(cfg.WriteTimeout, DefaultWriteTimeout),
		natsURL:        cfg.NATS,
		nameTTL:        orDefault(cfg.NameTTL, DefaultNameTTL),
		node:           newNodeID(),
		ctx:            ctx,
		cancelCtx:      cancel,
		events:         make(chan event, eventsBuffered),
		acceptDone:     make(chan struct{}),
		brokerDone:     make(chan struct{}),
		drained:        make(chan struct{}),
		conns:          make(map[net.Conn]struct{}),
	}
}

// orDefault returns v, or def if v is not positive.
func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Serve accepts connections on l until Shutdown is called, then returns
// ErrServerClosed at once, as net/http does: the drain has only begun, so the
// caller must wait for Shutdown to return before it exits. Serve may be
// called once; it closes l when it returns.
func (s *Server) Serve(l net.Listener) error {
	defer l.Close()
	b, err := connectBus(s.natsURL, s.node, s.nameTTL, s.receive, s.overflow,
		[2]int{s.maxQueued, int(s.maxQueuedBytes)}, s.log)
	if err != nil {
		return err
	}
	if err := s.startServing(l, b); err != nil {
		b.nc.Close()
		return err
	}
	defer close(s.acceptDone) // drain waits for this before it waits for readers
	go s.broker()             // ends when events is closed; drain waits for brokerDone
	if err := s.listen(); err != nil {
		return err // Shutdown still drains: see listen
	}
	s.log.Info("joined the cluster", "node", s.node, "nats", s.natsURL)
	var full fullEpisode
	for id := connID(1); ; id++ {
		conn, err := s.acceptRetrying(l)
		if err != nil {
			if s.isShuttingDown() {
				return ErrServerClosed
			}
			return err
		}
		if !s.trackConn(conn) {
			full.refuse(s, conn)
			continue
		}
		full.end(s)
		s.readers.Add(1)    // before the go statement, so drain's Wait cannot miss it
		go s.read(conn, id) // ends when the client leaves or shutdown begins; drain waits
	}
}

func (s *Server) startServing(l net.Listener, b *bus) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.shuttingDown:
		return ErrServerClosed
	case s.listener != nil:
		return errors.New("chat: Serve called twice")
	}
	s.listener, s.bus = l, b
	return nil
}

// Shutdown stops the server and delivers every message it has accepted:
//
//  1. it stops accepting connections;
//  2. it tells every reader to stop, including readers still waiting for
//     a login line, by cancelling the server's context;
//  3. once the last reader has returned, it frees the node's names and lets
//     what other nodes sent here arrive (leaveBus); then nobody sends to the
//     broker any more, so the events channel is closed;
//  4. the broker routes what is left (NATS has each batch for other nodes
//     before it goes on), then closes every writer's queue;
//  5. every writer writes its queue, closes its connection and returns; then
//     the NATS connection is drained and closed.
//
// Shutdown returns nil once all of that is done. If ctx ends first, it closes
// every connection (each writer logs how many messages it could not deliver),
// waits for the goroutines, which now end at once, and returns ctx.Err().
// Shutdown may be called more than once; every call waits for the same drain.
func (s *Server) Shutdown(ctx context.Context) error {
	s.beginShutdown()
	select {
	case <-s.drained:
		return nil
	case <-ctx.Done():
		// select picks at random among ready cases: a drain that is over
		// must win over a deadline that passed at the same time.
		select {
		case <-s.drained:
			return nil
		default:
		}
		s.log.Warn("drain deadline passed: closing every connection")
		s.closeConns()
		<-s.drained // every blocked Read and Write now fails, so this is short
		return ctx.Err()
	}
}

// beginShutdown does steps 1 and 2 and starts the drain, on the first call.
func (s *Server) beginShutdown() {
	first, listener := s.markShuttingDown()
	if !first {
		return
	}
	s.hooks.ReportShutdownBegan()
	if listener == nil {
		close(s.drained) // Serve never ran: there is nothing to drain
		return
	}
	listener.Close() // 1. Serve's Accept fails, and Serve returns
	s.cancelCtx()    // 2. every reader stops before its next batch of lines
	s.log.Info("shutdown: stopped accepting, told every reader to stop")
	go s.drain() // ends when every goroutine of the server has; Shutdown waits
}

// markShuttingDown reports whether this is the first call, and the listener
// that Serve is using, if any.
func (s *Server) markShuttingDown() (first bool, listener net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shuttingDown {
		return false, nil
	}
	s.shuttingDown = true
	return true, s.listener
}

// drain waits for each stage of the pipeline in the order data flows through
// it, and closes the channel between two stages once the first has ended.
func (s *Server) drain() {
	<-s.acceptDone   // no reader can be started after this...
	s.readers.Wait() // ...so once these return, and
	s.leaveBus()     // the bus hands over nothing more, nobody will send on events,
	close(s.events)  // and its single owner may close it (3).
	s.log.Info("shutdown: every reader has stopped, and the bus has delivered what was sent here")
	<-s.brokerDone // (4); NATS has what it published: see publishBatch
	s.log.Info("shutdown: the broker has routed every message; NATS has those for other nodes")
	s.writers.Wait() // (5)
	s.log.Info("shutdown: every writer has finished")
	s.bus.close()
	close(s.drained)
}

func (s *Server) isShuttingDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shuttingDown
}

// trackConn records conn for closeConns, and reports false, recording
// nothing, if the server already holds maxConns connections. A connection
// accepted after closeConns ran is closed at once, so that none escapes the
// deadline.
func (s *Server) trackConn(conn net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) >= s.maxConns {
		return false
	}
	if s.connsClosed {
		conn.Close()
	}
	s.conns[conn] = struct{}{}
	return true
}

// closeConn closes conn; it is called by whichever goroutine used conn last.
func (s *Server) closeConn(conn net.Conn) {
	s.mu.Lock()
	delete(s.conns, conn)
	s.mu.Unlock()
	conn.Close()
}

// closeConns closes every connection, to end the drain at its deadline.
// Closing a net.Conn twice is harmless, so its owner may close it again.
func (s *Server) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.connsClosed = true
	for conn := range s.conns {
		conn.Close()
	}
}
