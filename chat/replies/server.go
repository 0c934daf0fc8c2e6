package replies

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"

	"achat/chat/chattrace"
)

// ErrServerClosed is returned by Serve once Shutdown has been called.
var ErrServerClosed = errors.New("chat: server closed")

// Config holds what a Server is built with. The zero Config is usable.
type Config struct {
	Logger *slog.Logger     // nil: log nothing
	Hooks  *chattrace.Hooks // nil: trace nothing
}

// Server is a chat server. Create it with New, run it with Serve, stop it
// with Shutdown.
type Server struct {
	log   *slog.Logger
	hooks *chattrace.Hooks

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
	conns        map[net.Conn]struct{} // open connections, for the drain deadline
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
		log:        logger,
		hooks:      cfg.Hooks,
		ctx:        ctx,
		cancelCtx:  cancel,
		events:     make(chan event, eventsBuffered),
		acceptDone: make(chan struct{}),
		brokerDone: make(chan struct{}),
		drained:    make(chan struct{}),
		conns:      make(map[net.Conn]struct{}),
	}
}

// Serve accepts connections on l until Shutdown is called, then returns
// ErrServerClosed at once, as net/http does: the drain has only begun, so the
// caller must wait for Shutdown to return before it exits. Serve may be
// called once; it closes l when it returns.
func (s *Server) Serve(l net.Listener) error {
	defer l.Close()
	if err := s.startServing(l); err != nil {
		return err
	}
	defer close(s.acceptDone) // drain waits for this before it waits for readers
	go s.broker()             // ends when events is closed; drain waits for brokerDone
	for id := connID(1); ; id++ {
		conn, err := l.Accept()
		if err != nil {
			if s.isShuttingDown() {
				return ErrServerClosed
			}
			return err
		}
		s.trackConn(conn)
		s.readers.Add(1)    // before the go statement, so drain's Wait cannot miss it
		go s.read(conn, id) // ends when the client leaves or shutdown begins; drain waits
	}
}

func (s *Server) startServing(l net.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.shuttingDown:
		return ErrServerClosed
	case s.listener != nil:
		return errors.New("chat: Serve called twice")
	}
	s.listener = l
	return nil
}

// Shutdown stops the server and delivers every message it has accepted:
//
//  1. it stops accepting connections;
//  2. it tells every reader to stop, including readers still waiting for
//     a login line, by cancelling the server's context;
//  3. once the last reader has returned, nobody sends to the broker any more,
//     so the events channel is closed;
//  4. the broker routes what is left, then closes every writer's queue;
//  5. every writer writes its queue, closes its connection and returns.
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
	s.readers.Wait() // ...so once these return, nobody will send on events,
	close(s.events)  // and its single owner may close it (3).
	s.log.Info("shutdown: every reader has stopped")
	<-s.brokerDone // (4)
	s.log.Info("shutdown: the broker has routed every message")
	s.writers.Wait() // (5)
	s.log.Info("shutdown: every writer has finished")
	close(s.drained)
}

func (s *Server) isShuttingDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shuttingDown
}

// trackConn records conn for closeConns. A connection accepted after
// closeConns ran is closed at once, so that none escapes the deadline.
func (s *Server) trackConn(conn net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.connsClosed {
		conn.Close()
	}
	s.conns[conn] = struct{}{}
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
