package bench

import (
	"fmt"
	"time"
)

// idleBuffer is each idle client's read and write buffer, in bytes: it reads
// and writes one short sync line, and 10,000 clients of dial's 80 kB would
// cost the load generator 800 MB.
const idleBuffer = 256

// Idle logs in cfg.Clients clients, one after the other, each confirmed by
// its sync line, and leaves them idle. It reads the server's VmRSS before
// the first connects and once the last is logged in, and reports the growth
// per connection (ConnRSSKB) and the peak (VmHWM). Delivered counts the
// clients logged in, Elapsed is the time it took them. Every client is
// closed before Idle returns.
func Idle(srv *Server, cfg Config) Result {
	res := Result{Workload: "idle", Server: srv.Name, Expected: cfg.Clients}
	before, err := srv.RSS()
	if err != nil {
		res.Err = err
		return res
	}
	start := time.Now()
	clients, err := dialIdle(srv.Addr, cfg.Clients, start.Add(cfg.Timeout))
	defer closeAll(clients)
	res.Delivered, res.Elapsed, res.Err = len(clients), time.Since(start), err
	after, rssErr := srv.RSS()
	res.PeakRSSKB, _ = srv.PeakRSS()
	if res.Err == nil {
		res.Err = rssErr
	}
	if before > 0 && len(clients) > 0 {
		res.ConnRSSKB = float64(after-before) / float64(len(clients))
	}
	return res
}

// dialIdle logs in n clients, i0 to i<n-1>, one after the other. On an error
// it returns the clients logged in so far with the error; the caller closes
// them.
func dialIdle(addr string, n int, deadline time.Time) ([]*client, error) {
	clients := make([]*client, 0, n)
	for i := range n {
		c, err := dialSized(addr, fmt.Sprintf("i%d", i), deadline, idleBuffer, idleBuffer)
		if err != nil {
			return clients, fmt.Errorf("idle client %d of %d: %w", i+1, n, err)
		}
		clients = append(clients, c)
	}
	return clients, nil
}
