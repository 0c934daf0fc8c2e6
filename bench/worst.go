package bench

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"achat/chat/limits"
	"achat/chat/protocol"
)

// Limits is what a chapter limits server was started with: achat serve's
// -max-conns, -max-queued and -max-queued-bytes. 0 is the chapter's default.
type Limits struct {
	MaxConns, MaxQueued, MaxQueuedBytes int
}

// withDefaults puts chapter limits' default in place of each 0. (achat serve
// lowers the default MaxConns to fit its file limit; at 20,000 files it is
// the default.)
func (l Limits) withDefaults() Limits {
	if l.MaxConns <= 0 {
		l.MaxConns = limits.DefaultMaxConns
	}
	if l.MaxQueued <= 0 {
		l.MaxQueued = limits.DefaultMaxQueued
	}
	if l.MaxQueuedBytes <= 0 {
		l.MaxQueuedBytes = limits.DefaultMaxQueuedBytes
	}
	return l
}

// The terms of chapter limits' worst case, in bytes of heap, read from
// chat/limits and chat/protocol (docs/performance.md, "Chapter limits").
// TestWorstCaseTerms checks the measurable ones against what the code
// allocates.
const (
	// A reader's scanner buffer at its largest: it doubles from 1 KiB up
	// to protocol.MaxLineBytes+2 = 65,538 bytes, and the allocator gives
	// an object over 32 KiB whole 8 KiB pages: 9 of them.
	scannerHeap = 72 << 10
	// The batch a reader copies out of that buffer: a string as long.
	batchTextHeap = 72 << 10
	// What a parsed batch keeps until the broker has routed it: per line a
	// string header and a Message (56 B), and per recipient named a string
	// header (16 B), in slices that append may have made up to twice as
	// long. A name costs the line as little as 2 bytes ("a,"), so 16 B a
	// name is up to 8 times the line: 128 lines of 512 bytes of short names
	// keep about 611 KiB.
	batchKeptHeap = 640 << 10
	// What a reader holds while it parses: recipients builds a map of the
	// names of a line once it has more than 16. A 64 KiB line of 18,545
	// distinct short names holds 368 KiB of names and an 853 KiB map.
	parsingHeap = 1280 << 10
	// The longest line queued for a client: the error line that names the
	// recipients of a 64 KiB line who are not logged in. It joins them
	// with ", " where the line had ",", so it is up to 4/3 as long:
	// 84,098 bytes, 11 pages.
	longestLineHeap = 88 << 10
	// The error line that tells a client it is too slow, in its size class.
	tooSlowHeap = 80
	// Per queued line, besides its bytes: a string header in the queue's
	// slice and in the writer's batch (the two swap), each slice up to
	// twice as long as it holds (64 B), and the allocator's rounding of a
	// line under 112 bytes (under 16 B). Above 112 bytes the rounding is
	// under a quarter of the line (a line of 32,769 bytes takes 5 pages),
	// which the 5/4 factor of the bytes covers.
	lineOverheadHeap = 80
	// The writer's buffer, borrowed from a pool for each batch it writes.
	writerHeap = 4 << 10
	// A reader's and a writer's stack: each starts at 2 KiB (or at the
	// average size the last collection found) and doubles when it needs
	// to; 8 KiB each is room for what they call.
	stacksHeap = 2 * 8 << 10
	// The connection itself: the net.Conn, its poller entry and deadline
	// timers, the server's map entries, the queue and its counters.
	connHeap = 2 << 10
	// The events channel's room, chat/limits' eventsBuffered.
	eventsBuffered = 64
	// What the broker holds while it routes a line to 18,545 names not
	// logged in: their names (368 KiB, grown by append), and the error
	// line, built three times (the names joined, the error's text, the
	// line: 88 KiB each).
	brokerHeap = 768 << 10
)

// WorstCase is the most heap a chapter limits server started with Limits
// can hold for its clients, by the terms above.
type WorstCase struct{ Limits }

// PerConn is the most one connection makes the server hold: its reader's
// buffer and the batch it is parsing, what waits for it (bytes, the line
// that crossed the bound, the error line, and each line's overhead), the
// writer's buffer, two stacks and the connection.
func (w WorstCase) PerConn() int64 {
	l := w.withDefaults()
	reader := int64(scannerHeap + batchTextHeap + parsingHeap)
	queued := int64(l.MaxQueuedBytes)*5/4 + longestLineHeap + tooSlowHeap + lineOverheadHeap*int64(l.MaxQueued+2)
	return reader + queued + writerHeap + stacksHeap + connHeap
}

// ServerWide is what the server holds besides its connections: the events
// channel full of parsed batches, and the broker's routing of one line.
func (w WorstCase) ServerWide() int64 {
	return eventsBuffered*(batchTextHeap+batchKeptHeap) + brokerHeap
}

// Bytes is the bound: MaxConns connections at their most, and the rest.
func (w WorstCase) Bytes() int64 {
	return int64(w.withDefaults().MaxConns)*w.PerConn() + w.ServerWide()
}

// Filled is the heap that Worst's clients fill, by the same terms: each
// holds a scanner buffer at its largest, and MaxQueuedBytes of lines of
// floodLine bytes, the one that crossed the bound and the error line, with
// a header for each line in each of the queue's two slices, a writer's
// buffer, two stacks and its connection. Worst's flooder is not counted:
// one connection of many.
func (w WorstCase) Filled(clients int) int64 {
	l := w.withDefaults()
	lines := int64(l.MaxQueuedBytes/floodLine + 1)
	queued := lines*floodLine + tooSlowHeap + 2*16*lines
	return int64(clients) * (scannerHeap + queued + writerHeap + stacksHeap + connHeap)
}

// floodLine is the length of each line Worst has queued for a client,
// newline included: a size class of the allocator, so that each takes as
// much heap as the server counts.
const floodLine = 1024

// flooderName is the client that floods the others in Worst.
const flooderName = "flooder"

// floodCap bounds what Worst sends each client beyond its bound: the
// kernel's socket buffers take some of it before the server holds the rest
// (the server's send buffer grows to 4 MiB by Linux's default tcp_wmem; a
// receive buffer that is not read does not grow).
const floodCap = 16 << 20

// Worst fills a chapter limits server to its bounds and reads its peak
// resident memory. cfg.Clients clients log in; each sends the first 65,537
// bytes of a line without its newline, which grows its reader's buffer to
// its largest, and then reads nothing. A flooder (one more connection)
// sends each, round after round, a line of its own that the server delivers
// as floodLine bytes, until the server answers that the client is not logged
// in: it has been disconnected as too slow, holding MaxQueuedBytes and more
// for it. Worst then reads the server's VmHWM.
// Delivered counts the clients disconnected, Elapsed is the flood's time.
// BoundKB and FilledKB are the formula's values (WorstCase), each plus the
// server's VmRSS before the first client connected; TCPMemKB is what the
// kernel held for TCP on the whole machine once the flood was over (the
// clients' ends too): the formula bounds the server's heap, not that.
func Worst(srv *Server, cfg Config) Result {
	lim := cfg.Limits.withDefaults()
	res := Result{Workload: "worst", Server: srv.Name, Expected: cfg.Clients}
	if cfg.Clients+1 > lim.MaxConns {
		res.Err = fmt.Errorf("worst holds %d connections (its clients and the flooder), more than -max-conns %d",
			cfg.Clients+1, lim.MaxConns)
		return res
	}
	base, err := srv.RSS()
	if err != nil {
		res.Err = err
		return res
	}
	formula := WorstCase{lim}
	res.BoundKB = base + formula.Bytes()>>10
	res.FilledKB = base + formula.Filled(cfg.Clients)>>10
	deadline := time.Now().Add(cfg.Timeout)
	clients, err := dialWorst(srv.Addr, cfg.Clients, deadline)
	defer closeAll(clients)
	if err != nil {
		res.Err = err
		return res
	}
	flooder, err := dial(srv.Addr, flooderName, deadline)
	if err != nil {
		res.Err = err
		return res
	}
	defer flooder.close()
	start := time.Now()
	res.Delivered, res.Err = floodEach(flooder, clients, lim.MaxQueuedBytes)
	res.Elapsed = time.Since(start)
	res.PeakRSSKB, _ = srv.PeakRSS()
	res.TCPMemKB, _ = tcpMemKB()
	res.UnreadKB, _ = unreadKB(clients)
	return res
}

// unreadKB is what the clients' sockets have received and not read, in kB.
func unreadKB(clients []*client) (int64, error) {
	var unread int64
	for _, c := range clients {
		n, err := unreadBytes(c.conn)
		if err != nil {
			return 0, err
		}
		unread += int64(n)
	}
	return unread >> 10, nil
}

// tcpMemKB is what the kernel's TCP buffers hold on the whole machine, in
// kB: the "mem" pages of /proc/net/sockstat's TCP line.
func tcpMemKB() (int64, error) {
	stat, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(stat)) {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != "TCP:" {
			continue
		}
		for i := 1; i+1 < len(fields); i += 2 {
			if fields[i] == "mem" {
				pages, err := strconv.ParseInt(fields[i+1], 10, 64)
				return pages * int64(os.Getpagesize()) >> 10, err
			}
		}
	}
	return 0, errors.New("no TCP mem in /proc/net/sockstat")
}

// dialWorst logs in n clients, w0 to w<n-1>, and has each send the first
// MaxLineBytes+1 bytes of a line, without its newline. On an error it
// returns the clients logged in so far with the error; the caller closes
// them.
func dialWorst(addr string, n int, deadline time.Time) ([]*client, error) {
	unfinished := strings.Repeat("x", protocol.MaxLineBytes+1)
	clients := make([]*client, 0, n)
	for i := range n {
		c, err := dialSized(addr, fmt.Sprintf("w%d", i), deadline, idleBuffer, idleBuffer)
		if err != nil {
			return clients, fmt.Errorf("worst client %d of %d: %w", i+1, n, err)
		}
		clients = append(clients, c)
		if _, err := c.conn.Write([]byte(unfinished)); err != nil {
			return clients, fmt.Errorf("worst client %d of %d: %w", i+1, n, err)
		}
	}
	return clients, nil
}

// notLoggedIn starts the error line the server answers a line to a client
// it has disconnected: "error: not logged in: w5".
var notLoggedIn = strings.TrimSuffix(protocol.ErrorLine(protocol.UnknownRecipientsError{}), "\n")

// floodEach sends each client a line per round until the server says it is
// not logged in, or it has been sent maxQueuedBytes+floodCap bytes. Each
// round ends with a sync: the flooder reads as it sends, as a client does,
// and knows before the next round which clients are gone, so that it sends
// them at most one round more, and the error lines that answer those
// cannot pile up past its own bound. It returns how many clients the
// server disconnected.
func floodEach(flooder *client, clients []*client, maxQueuedBytes int) (int, error) {
	index := make(map[string]int, len(clients))
	for i, c := range clients {
		index[c.name] = i
	}
	gone := make([]bool, len(clients)) // the reading goroutine writes it before it answers a sync
	goneCount := 0
	note := func(line string) {
		names, ok := strings.CutPrefix(line, notLoggedIn)
		if !ok {
			return
		}
		for name := range strings.SplitSeq(names, ", ") {
			if i, ok := index[name]; ok && !gone[i] {
				gone[i] = true
				goneCount++
			}
		}
	}
	// The reading goroutine answers each sync line with nil, and ends with
	// the error that ends its reads; floodEach waits for that one too.
	synced := make(chan error)
	go func() {
		for {
			err := flooder.awaitSyncNoting(note)
			synced <- err
			if err != nil {
				return
			}
		}
	}()
	text := strings.Repeat("x", floodLine-len("from "+flooderName+": \n"))
	rounds := (maxQueuedBytes + floodCap) / floodLine
	var err error
	reading := true
	for round := 0; round < rounds && goneCount < len(clients); round++ {
		for i, c := range clients {
			if !gone[i] {
				fmt.Fprintf(flooder.w, "%s: %s\n", c.name, text)
			}
		}
		if err = flooder.askSync(); err != nil {
			break
		}
		if err = <-synced; err != nil {
			reading = false
			break
		}
	}
	if reading {
		flooder.close() // ends the reading goroutine's wait for a sync line
		<-synced
	}
	if err == nil && goneCount < len(clients) {
		err = fmt.Errorf("%d of %d clients still logged in after %d lines each", len(clients)-goneCount, len(clients), rounds)
	}
	return goneCount, err
}

// awaitSyncNoting reads, and drops, every line until the sync line, and
// calls note with each error line, without its newline.
func (c *client) awaitSyncNoting(note func(line string)) error {
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		text := string(line[:len(line)-1])
		if strings.HasPrefix(text, "error: ") {
			note(text)
		}
		if _, rest, _ := strings.Cut(text, ": "); rest == syncText {
			return nil
		}
	}
}
