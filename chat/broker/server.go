package broker

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

	events chan event // readers -> broker; never closed

	mu           sync.Mutex   // guards the fields below
	listener     net.Listener // set by Serve; nil until then
	shuttingDown bool
}

// New returns a server configured by cfg.
func New(cfg Config) *Server {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{
		log:    logger,
		hooks:  cfg.Hooks,
		events: make(chan event, eventsBuffered),
	}
}

// Serve accepts connections on l until Shutdown is called, then returns
// ErrServerClosed. Serve may be called once; it closes l when it returns.
func (s *Server) Serve(l net.Listener) error {
	defer l.Close()
	if err := s.startServing(l); err != nil {
		return err
	}
	go s.broker() // BUG: never ends, and nobody waits for it
	for {
		conn, err := l.Accept()
		if err != nil {
			if s.isShuttingDown() {
				return ErrServerClosed
			}
			return err
		}
		go s.read(conn) // ends when the client leaves; nobody waits for it
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

// Shutdown stops accepting connections and returns. BUG: it waits for
// nothing. Readers keep reading, and what sits in the broker's channel and
// the writers' queues is lost when the program exits. ctx is not used.
func (s *Server) Shutdown(ctx context.Context) error {
	first, listener := s.markShuttingDown()
	if !first {
		return nil
	}
	s.hooks.ReportShutdownBegan()
	if listener != nil {
		listener.Close() // Serve's Accept fails, and Serve returns
	}
	return nil
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

func (s *Server) isShuttingDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shuttingDown
}
