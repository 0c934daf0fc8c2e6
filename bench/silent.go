package bench

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// silentBuffer is what each silent connection reads into: it reads at most
// one short error line, then EOF.
const silentBuffer = 64

// rssSample is how often Silent reads the server's VmRSS after the
// connections are gone.
const rssSample = 50 * time.Millisecond

// Silent opens cfg.Clients connections, one after the other, that never
// send a name and keep reading, and waits until the server holds them all
// (its open descriptors, for a process of its own). It reports the server's
// VmRSS before the first (BeforeRSSKB) and with all of them held
// (HeldRSSKB), the growth per connection (ConnRSSKB), how long after that
// the server let the last one go (Released: each connection's read sees EOF,
// and the client closes it), or that it still held them after cfg.Wait
// (Kept: then the client closes them), and then, sampled every 50 ms for
// cfg.Watch, how the VmRSS comes down: the time until it had given back
// half of what the connections added (HalfBack, 0 if not within
// cfg.Watch) and its value at the end (AfterRSSKB). Delivered counts the
// connections held; Elapsed is the time it took to open them.
func Silent(srv *Server, cfg Config) Result {
	res := Result{Workload: "silent", Server: srv.Name, Expected: cfg.Clients, Watch: cfg.Watch}
	before, err := srv.RSS()
	if err != nil {
		res.Err = err
		return res
	}
	files, err := srv.OpenFiles()
	if err != nil {
		res.Err = err
		return res
	}
	res.BeforeRSSKB = before
	start := time.Now()
	deadline := start.Add(cfg.Timeout)
	var ended atomic.Int64 // connections whose read has ended: the server let them go
	var readers sync.WaitGroup
	conns, err := dialSilent(srv.Addr, cfg.Clients, deadline, &ended, &readers)
	defer closeConns(conns)
	if err == nil {
		err = srv.awaitOpenFiles(files+len(conns), &ended, deadline)
	}
	res.Delivered, res.Elapsed, res.Err = len(conns)-int(ended.Load()), time.Since(start), err
	if res.Err != nil {
		return res
	}
	held := time.Now()
	res.HeldRSSKB, res.Err = srv.RSS()
	if before > 0 && len(conns) > 0 {
		res.ConnRSSKB = float64(res.HeldRSSKB-before) / float64(len(conns))
	}
	released := make(chan struct{})
	go func() { readers.Wait(); close(released) }() // ends when every read has: the client closes them all at worst
	select {
	case <-released:
		res.Released = time.Since(held)
	case <-time.After(cfg.Wait):
		res.Released, res.Kept = cfg.Wait, true
		closeConns(conns) // the server has not let them go: the client does
		<-released
	}
	res.HalfBack, res.AfterRSSKB = srv.watchRSS(before, res.HeldRSSKB, cfg.Watch)
	res.PeakRSSKB, _ = srv.PeakRSS()
	return res
}

// dialSilent opens n connections and starts a reader on each, which reads
// until EOF or an error, then closes its connection, adds one to ended and
// is done with readers. On an error it returns the connections opened so far
// with the error; the caller closes them.
func dialSilent(addr string, n int, deadline time.Time, ended *atomic.Int64, readers *sync.WaitGroup) ([]net.Conn, error) {
	conns := make([]net.Conn, 0, n)
	for i := range n {
		conn, err := net.DialTimeout("tcp", addr, time.Until(deadline))
		if err != nil {
			return conns, fmt.Errorf("silent connection %d of %d: %w", i+1, n, err)
		}
		conns = append(conns, conn)
		readers.Add(1)
		// Ends when the server closes its side, or when the connection is
		// closed by closeConns; Silent waits for it (released).
		go func() {
			defer readers.Done()
			buf := make([]byte, silentBuffer)
			for {
				if _, err := conn.Read(buf); err != nil {
					break
				}
			}
			conn.Close()
			ended.Add(1)
		}()
	}
	return conns, nil
}

func closeConns(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}

// awaitOpenFiles waits until the server holds want descriptors, less those
// of connections it has let go already (ended). A server that is not a
// process of its own cannot be asked: it returns at once.
func (s *Server) awaitOpenFiles(want int, ended *atomic.Int64, deadline time.Time) error {
	if s.PID == 0 {
		return nil
	}
	for {
		n, err := s.OpenFiles()
		if err != nil {
			return err
		}
		if n >= want-int(ended.Load()) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s holds %d descriptors, not %d", s.Name, n, want)
		}
		time.Sleep(10 * time.Millisecond) // polling a process we cannot ask
	}
}

// watchRSS samples the server's VmRSS every rssSample for watch, and returns
// how long it took to come down to before + half of (held - before), 0 if
// it did not, and its last value. Without a process of its own, both are 0.
func (s *Server) watchRSS(before, held int64, watch time.Duration) (halfBack time.Duration, last int64) {
	if s.PID == 0 {
		return 0, 0
	}
	half := before + (held-before)/2
	start := time.Now()
	for time.Since(start) < watch {
		time.Sleep(rssSample)
		rss, err := s.RSS()
		if err != nil {
			return halfBack, last
		}
		last = rss
		if halfBack == 0 && rss <= half {
			halfBack = time.Since(start)
		}
	}
	return halfBack, last
}
