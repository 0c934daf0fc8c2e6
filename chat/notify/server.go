package notify

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

	// shutdown reaches the readers registered with it when shutdown begins:
	// the seed's Arc<Notify>.
	shutdown   notifier
	events     chan event     // readers -> broker; closed by Shutdown, after the last reader
	readers    sync.WaitGroup // one per connection; Add by the accept loop
	acceptDone chan struct{}  // closed by Serve when its accept loop has returned
	brokerDone chan struct{}  // closed by the broker once every queue is closed

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
		log:        logger,
		hooks:      cfg.Hooks,
		shutdown:   notifier{waiters: make(map[chan struct{}]struct{})},
		events:     make(chan event, eventsBuffered),
		acceptDone: make(chan struct{}),
		brokerDone: make(chan struct{}),
	}
}

// Serve accepts connections on l until Shutdown is called, then returns
// ErrServerClosed. Serve may be called once; it closes l when it returns.
func (s *Server) Serve(l net.Listener) error {
	defer l.Close()
	if err := s.startServing(l); err != nil {
		return err
	}
	defer close(s.acceptDone) // Shutdown waits for this before it waits for readers
	go s.broker()             // ends when events is closed; Shutdown waits for brokerDone
	for {
		conn, err := l.Accept()
		if err != nil {
			if s.isShuttingDown() {
				return ErrServerClosed
			}
			return err
		}
		s.readers.Add(1) // before the go statement, so Shutdown's Wait cannot miss it
		go s.read(conn)  // ends when the client leaves or it is notified; Shutdown waits
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

// Shutdown is the seed's shutdown sequence, step for step:
//
//  1. stop accepting;
//  2. notify the readers (shutdown_notification.notify_waiters());
//  3. when the readers are done, close the broker's channel
//     (drop(broker_sender): Go needs the WaitGroup to know when that is);
//  4. wait for the broker (broker.await).
//
// BUG: the notification reaches only the readers registered for it at that
// instant; a reader busy with its lines, or waiting for its login line, is
// not, so Shutdown can wait forever. BUG: nothing waits for the writers, so the program can
// exit with messages still queued. Like the seed, it has no deadline: ctx is
// not used.
func (s *Server) Shutdown(ctx context.Context) error {
	first, listener := s.markShuttingDown()
	if !first {
		return nil
	}
	s.hooks.ReportShutdownBegan()
	if listener == nil {
		return nil // Serve never ran: there is nothing to stop
	}
	listener.Close()           // 1
	s.shutdown.notifyWaiters() // 2
	<-s.acceptDone             // no reader can be started after this...
	s.readers.Wait()           // ...so once these return, nobody will send on events,
	close(s.events)            // and its single owner may close it (3).
	<-s.brokerDone             // 4
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

// notifier reaches the goroutines registered at the instant notifyWaiters
// is called, whether or not they wait yet, and stores nothing for later:
// tokio's Notify::notify_waiters, which reaches every Notified future that
// exists then, polled or not, and keeps no permit. A goroutine that
// registers later waits for the next notification, which never comes.
type notifier struct {
	mu      sync.Mutex
	waiters map[chan struct{}]struct{} // one per registration not yet withdrawn
}

// register returns a channel that is closed by the next notifyWaiters, and
// the function that withdraws it.
func (n *notifier) register() (notified <-chan struct{}, unregister func()) {
	ch := make(chan struct{})
	n.mu.Lock()
	defer n.mu.Unlock()
	n.waiters[ch] = struct{}{}
	return ch, func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		delete(n.waiters, ch)
	}
}

// notifyWaiters wakes every goroutine registered now.
func (n *notifier) notifyWaiters() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for ch := range n.waiters {
		close(ch) // registered once, closed once: it is deleted here
		delete(n.waiters, ch)
	}
}
