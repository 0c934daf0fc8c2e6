package bench

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config sizes one run of a workload.
type Config struct {
	Clients  int           // Pairs: clients (even); Fanout: the sender and its recipients; Idle, Silent, Worst: the clients it holds
	Messages int           // deliveries (Pairs, Fanout), lines queued (Drain), at most (Flood)
	Duration time.Duration // Flood: stop sending after this, if Messages is not reached
	Timeout  time.Duration // the whole run, logins included
	Echo     bool          // the server echoes: each client sends itself what it would receive
	Wait     time.Duration // Silent: how long to wait for the server to let the connections go
	Watch    time.Duration // Silent: how long to watch the server's RSS after they are gone
	Limits   Limits        // Worst: the bounds the server was started with
}

// Result is what one run of a workload measured.
type Result struct {
	Workload  string
	Server    string
	Delivered int           // lines received (Flood: lines the server took)
	Expected  int           // lines that should have been
	Elapsed   time.Duration // from the first send to the last receive (Drain: SIGINT to exit)
	P50, P99  time.Duration // latency of a delivery; 0 if not measured
	PeakRSSKB int64         // the server's VmHWM; 0 if unknown
	ConnRSSKB float64       // Idle, Silent: the server's VmRSS growth per connection; 0 if unknown
	Err       error

	// Silent: the server's VmRSS before the first connection, with every
	// one held, and Watch after they were gone; how long after they were
	// all held the server let the last go (Kept: it had not after
	// Config.Wait, and Released is that); how long after they were gone
	// its VmRSS had come down by half of what they added (0: not within
	// Watch).
	BeforeRSSKB, HeldRSSKB, AfterRSSKB int64
	Released                           time.Duration
	Kept                               bool
	HalfBack, Watch                    time.Duration

	// Worst: the heap the workload fills by the formula's terms, and the
	// formula's bound for the server's flags, each plus the server's RSS
	// before the workload (WorstCase); and what the kernel's TCP buffers
	// held once every client was full, on the whole machine: the server's
	// and the clients' ends (/proc/net/sockstat). UnreadKB: what the
	// clients' own sockets held, unread, at that moment (Linux only).
	FilledKB, BoundKB, TCPMemKB, UnreadKB int64
}

// Rate is deliveries per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Delivered) / r.Elapsed.Seconds()
}

// role is one client's part in a traffic workload.
type role struct {
	name   string
	prefix string // the recipients part of each line it sends: "bob: "
	send   int    // lines it sends
	recv   int    // lines it should receive
}

// pairsRoles: client 2i and 2i+1 send each other total/clients lines.
func pairsRoles(clients, total int) []role {
	roles := make([]role, clients)
	each := total / clients
	for i := range roles {
		roles[i] = role{name: fmt.Sprintf("p%d", i), prefix: fmt.Sprintf("p%d: ", i^1), send: each, recv: each}
	}
	return roles
}

// fanoutRoles: one sender, and clients-1 recipients named in every line.
func fanoutRoles(clients, total int) []role {
	var names []string
	roles := []role{{name: "sender"}}
	perLine := (total + clients - 2) / (clients - 1) // rounded up
	for i := 1; i < clients; i++ {
		names = append(names, fmt.Sprintf("r%d", i))
		roles = append(roles, role{name: names[i-1], recv: perLine})
	}
	roles[0].prefix = strings.Join(names, ", ") + ": "
	roles[0].send = perLine
	return roles
}

// echoRoles: an echo server routes nothing, so each client sends itself the
// lines it would receive from a chat server. The network carries as many
// lines to each client as the chat workload does.
func echoRoles(roles []role) []role {
	out := make([]role, len(roles))
	for i, r := range roles {
		out[i] = role{name: r.name, prefix: r.name + ": ", send: r.recv, recv: r.recv}
	}
	return out
}

// Pairs runs the pairs workload against srv.
func Pairs(srv *Server, cfg Config) Result {
	return traffic("pairs", srv, cfg, pairsRoles(cfg.Clients, cfg.Messages))
}

// Fanout runs the fanout workload against srv.
func Fanout(srv *Server, cfg Config) Result {
	return traffic("fanout", srv, cfg, fanoutRoles(cfg.Clients, cfg.Messages))
}

// traffic logs every role in, then runs every sender and receiver at once.
func traffic(workload string, srv *Server, cfg Config, roles []role) Result {
	if cfg.Echo {
		roles = echoRoles(roles)
	}
	res := Result{Workload: workload, Server: srv.Name}
	for _, r := range roles {
		res.Expected += r.recv
	}
	deadline := time.Now().Add(cfg.Timeout)
	clients, err := dialAll(srv.addrs(), roles, deadline)
	if err == nil && len(srv.Addrs) > 1 {
		err = knowEachOther(clients, roles, deadline)
	}
	if err != nil {
		res.Err = err
		return res
	}
	defer closeAll(clients)
	lat, elapsed, err := run(clients, roles)
	res.Delivered, res.Elapsed, res.Err = len(lat), elapsed, err
	res.P50, res.P99 = percentile(lat, 0.50), percentile(lat, 0.99)
	res.PeakRSSKB, _ = srv.PeakRSS()
	return res
}

// dialAll logs every role in, one after the other, role i on addrs[i %
// len(addrs)].
func dialAll(addrs []string, roles []role, deadline time.Time) ([]*client, error) {
	var clients []*client
	for i, r := range roles {
		c, err := dial(addrs[i%len(addrs)], r.name, deadline)
		if err != nil {
			closeAll(clients)
			return nil, err
		}
		clients = append(clients, c)
	}
	return clients, nil
}

func closeAll(clients []*client) {
	for _, c := range clients {
		c.close()
	}
}

// run starts a sender and a receiver per client and waits for all of them.
// It returns every latency measured, and the time until the last receive.
func run(clients []*client, roles []role) ([]time.Duration, time.Duration, error) {
	var wg sync.WaitGroup
	errs := make([]error, 2*len(clients))
	lats := make([][]time.Duration, len(clients))
	start := time.Now()
	for i, c := range clients {
		r := roles[i]
		lats[i] = make([]time.Duration, r.recv)
		wg.Add(2)
		// Sender: ends after its last line, or at the connection's deadline;
		// run waits for it.
		go func() {
			defer wg.Done()
			_, errs[2*i] = c.send(r.prefix, r.send, nil)
		}()
		// Receiver: ends after its last line, or at the connection's
		// deadline; run waits for it.
		go func() {
			defer wg.Done()
			var n int
			n, errs[2*i+1] = c.receive(lats[i])
			lats[i] = lats[i][:n]
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	return slices.Concat(lats...), elapsed, firstError(errs)
}

func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// percentile sorts lat and returns its p-quantile (0 if lat is empty).
func percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	return lat[int(p*float64(len(lat)-1))]
}

// Drain queues cfg.Messages lines to a client that is not reading, has the
// server take them all, interrupts the server, and then reads. It measures
// the time from the interrupt until the server has stopped, and counts the
// lines delivered: a clean drain delivers all of them.
func Drain(srv *Server, cfg Config) Result {
	res := Result{Workload: "drain", Server: srv.Name, Expected: cfg.Messages}
	deadline := time.Now().Add(cfg.Timeout)
	reader, sender, err := readerAndSender(srv.Addr, deadline)
	if err != nil {
		res.Err = err
		return res
	}
	defer reader.close()
	defer sender.close()
	if _, err := sender.send("reader: ", cfg.Messages, nil); err != nil {
		res.Err = err
		return res
	}
	if err := sender.sync(); err != nil { // every line is now in reader's queue
		res.Err = fmt.Errorf("waiting for the server to take every line: %w", err)
		return res
	}
	res.PeakRSSKB, _ = srv.PeakRSS() // before the process is gone
	start := time.Now()
	if err := srv.Interrupt(); err != nil {
		res.Err = err
		return res
	}
	res.Delivered, res.Err = reader.drainAll()
	if err := srv.Wait(time.Until(deadline)); err != nil && res.Err == nil {
		res.Err = err
	}
	res.Elapsed = time.Since(start)
	return res
}

// readerAndSender logs in the two clients of Drain and Flood.
func readerAndSender(addr string, deadline time.Time) (reader, sender *client, err error) {
	reader, err = dial(addr, "reader", deadline)
	if err != nil {
		return nil, nil, err
	}
	sender, err = dial(addr, "sender", deadline)
	if err != nil {
		reader.close()
		return nil, nil, err
	}
	return reader, sender, nil
}

// Flood sends lines to a client that never reads, until cfg.Messages or
// cfg.Duration, has the server take them all, and reads the server's peak
// resident memory. Delivered counts the lines the server took.
func Flood(srv *Server, cfg Config) Result {
	res := Result{Workload: "flood", Server: srv.Name, Expected: cfg.Messages}
	reader, sender, err := readerAndSender(srv.Addr, time.Now().Add(cfg.Timeout))
	if err != nil {
		res.Err = err
		return res
	}
	defer reader.close()
	defer sender.close()
	// The sender reads while it floods, as a client does. A server that
	// bounds its memory (chapter slow) disconnects the reader, and answers
	// each later line with an error line: the flood is over, and the sender
	// stops. The reading goroutine ends at the sync line, or when the
	// connection does; Flood waits for it.
	var refused atomic.Bool
	readDone := make(chan error, 1) // the reading goroutine's one result
	go func() { readDone <- sender.awaitSync(func() { refused.Store(true) }) }()
	start := time.Now()
	stop := func() bool { return refused.Load() || time.Since(start) > cfg.Duration }
	res.Delivered, res.Err = sender.send("reader: ", cfg.Messages, stop)
	if res.Err == nil {
		res.Err = sender.askSync()
	}
	if res.Err != nil {
		sender.close() // no sync line will come: end the read
	}
	if err := <-readDone; res.Err == nil {
		res.Err = err // nil: every line sent is now queued for reader, or refused
	}
	if refused.Load() && res.Err != nil {
		// The server also disconnected the sender, whose refusals it could
		// not write as fast as they came: it bounds its memory that way too.
		res.Err = nil
	}
	res.Elapsed = time.Since(start)
	res.PeakRSSKB, _ = srv.PeakRSS()
	return res
}

// addrs is where a traffic workload's clients go.
func (s *Server) addrs() []string {
	if len(s.Addrs) > 0 {
		return s.Addrs
	}
	return []string{s.Addr}
}

// knowEachOther returns once each client's node knows the clients it sends
// to, which log in on other nodes: a node learns that from its watch of
// NATS, a moment after the login. Each client sends its recipients a sync
// line until no "error: not logged in" comes back. Receivers skip sync lines.
func knowEachOther(clients []*client, roles []role, deadline time.Time) error {
	for i, c := range clients {
		if roles[i].prefix == "" {
			continue
		}
		to := strings.TrimSuffix(roles[i].prefix, ": ")
		for unknown := true; unknown; {
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: its node never learnt of %s", c.name, to)
			}
			unknown = false
			fmt.Fprintf(c.w, "%s, %s: %s\n", to, c.name, syncText)
			if err := c.w.Flush(); err != nil {
				return err
			}
			if err := c.awaitSync(func() { unknown = true }); err != nil {
				return err
			}
		}
	}
	return nil
}
