package bench

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// NATSPairs is pairs without achat: each client is a nats.go connection to
// srv.NATS that subscribes to a subject of its own and publishes to its
// partner's, the same number of stamped messages as Pairs sends. It is
// what chapter cluster's messages between two nodes cost at the least: the
// ceiling of the bus.
func NATSPairs(srv *Server, cfg Config) Result {
	res := Result{Workload: "pairs", Server: srv.Name}
	each := cfg.Messages / cfg.Clients
	res.Expected = each * cfg.Clients
	conns := make([]*nats.Conn, cfg.Clients)
	defer func() {
		for _, nc := range conns {
			if nc != nil {
				nc.Close()
			}
		}
	}()
	lats := make([][]time.Duration, cfg.Clients)
	var mu sync.Mutex           // guards lats and arrived: the handlers append, the end reads
	arrived := 0                // messages received, all clients together
	done := make(chan struct{}) // closed by the handler that receives the last message
	for i := range conns {
		nc, err := nats.Connect(srv.NATS)
		if err != nil {
			res.Err = err
			return res
		}
		conns[i] = nc
		lats[i] = make([]time.Duration, 0, each)
		sub, err := nc.Subscribe(fmt.Sprintf("bench.p%d", i), func(m *nats.Msg) { // one goroutine per subscription
			sent, _ := strconv.ParseInt(string(m.Data), 10, 64)
			mu.Lock()
			defer mu.Unlock()
			lats[i] = append(lats[i], time.Since(epoch)-time.Duration(sent))
			if arrived++; arrived == res.Expected {
				close(done) // the only close: no message comes after the last one
			}
		})
		if err == nil {
			err = sub.SetPendingLimits(-1, -1) // nothing dropped: every message is counted
		}
		if err == nil {
			err = nc.Flush() // the subscription is in place before anyone publishes
		}
		if err != nil {
			res.Err = err
			return res
		}
	}
	start := time.Now()
	var sent sync.WaitGroup
	errs := make([]error, cfg.Clients)
	for i, nc := range conns {
		sent.Go(func() { // ends after its last message
			subject := fmt.Sprintf("bench.p%d", i^1)
			for range each {
				if err := nc.Publish(subject, strconv.AppendInt(nil, int64(time.Since(epoch)), 10)); err != nil {
					errs[i] = err
					return
				}
			}
			errs[i] = nc.Flush()
		})
	}
	sent.Wait()
	select {
	case <-done:
	case <-time.After(cfg.Timeout):
		res.Err = fmt.Errorf("bare NATS pairs: not every message came within %v", cfg.Timeout)
	}
	res.Elapsed = time.Since(start)
	var all []time.Duration
	mu.Lock()
	for i := range conns {
		all = append(all, lats[i]...)
	}
	mu.Unlock()
	res.Delivered = len(all)
	res.PeakRSSKB, _ = srv.PeakRSS() // the NATS server's
	res.P50, res.P99 = percentile(all, 0.50), percentile(all, 0.99)
	if res.Err == nil {
		res.Err = firstError(errs)
	}
	return res
}
