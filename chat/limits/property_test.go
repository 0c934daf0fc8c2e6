package limits

import (
	"testing"
	"time"

	"achat/chat/chattest"
	"achat/chat/chattrace"
)

// The bounds and clocks of the property tests: small, so that schedules of
// a few steps reach them (five connections, of eight clients; lines of
// about 20 bytes, so that the bound in bytes bites before the one in lines
// as often as after), and clocks that a time-passes step (200 ms to 10 s)
// runs out.
const (
	testMaxQueued      = 8
	testMaxQueuedBytes = 120
	testMaxConns       = 5
	testLoginTimeout   = 2 * time.Second
	testWriteTimeout   = 4 * time.Second
)

// options are the chapter's claims, for the harness.
func options() chattest.Options {
	return chattest.Options{
		FreesNames: true, MaxQueued: testMaxQueued, MaxQueuedBytes: testMaxQueuedBytes,
		MaxConns: testMaxConns, LoginTimeout: testLoginTimeout, WriteTimeout: testWriteTimeout,
		AcceptErrors: true,
	}
}

// newServerFor builds servers with the bounds of opts, for the harness.
func newServerFor(opts chattest.Options) chattest.NewServer {
	return func(hooks *chattrace.Hooks) chattest.Server {
		return New(Config{Hooks: hooks, MaxQueued: opts.MaxQueued, MaxQueuedBytes: opts.MaxQueuedBytes,
			MaxConns: opts.MaxConns, LoginTimeout: opts.LoginTimeout, WriteTimeout: opts.WriteTimeout})
	}
}

// Every property holds, for random schedules of clients that connect (past
// the limit too), log in (late, or under taken names), send good and bad
// lines, read slowly or not at all (and are evicted, or dropped, for it),
// leave and come back, disconnect; of time that passes, Accepts that fail
// as when the process is out of files, and Ctrl-C at any point.
func TestProperties(t *testing.T) {
	t.Run("pipe", func(t *testing.T) {
		opts := options()
		opts.Transport, opts.Schedules = chattest.Pipe, 1000
		chattest.CheckProperties(t, newServerFor(opts), opts)
	})
	// Every step settled: no step races the next, so what fails here almost
	// always fails again when rapid replays it. A burst to a client that
	// reads races its writer, and may evict it or not: the bounds are
	// raised above what one step can queue for such a client, so that only
	// clients that stop reading are evicted.
	t.Run("settled", func(t *testing.T) {
		opts := options()
		opts.Transport, opts.Schedules, opts.NoRush = chattest.Pipe, 500, true
		opts.MaxQueued, opts.MaxQueuedBytes = 8*testMaxQueued, 64*testMaxQueuedBytes
		chattest.CheckProperties(t, newServerFor(opts), opts)
	})
	// Two clients, one of which starts not reading, one message a step, and
	// time that passes: queues fill up, clients are evicted or dropped.
	t.Run("slow readers", func(t *testing.T) {
		opts := options()
		opts.Transport, opts.Schedules, opts.NoRush = chattest.Pipe, 500, true
		opts.Clients, opts.MaxSteps, opts.Start = 2, 60, chattest.NotReading()
		opts.Steps = []chattest.StepKind{chattest.Sends, chattest.Sends, chattest.Sends,
			chattest.StopsReading, chattest.ResumesReading, chattest.NeverReads, chattest.CtrlC,
			chattest.TimePasses, chattest.Sends, chattest.Sends}
		chattest.CheckProperties(t, newServerFor(opts), opts)
	})
	// Clients that leave while what is queued for them is unread: it must
	// still reach them.
	t.Run("leaving", func(t *testing.T) {
		opts := options()
		opts.Transport, opts.Schedules, opts.NoRush = chattest.Pipe, 300, true
		opts.Clients, opts.Start, opts.Steps = 2, chattest.NotReading(), leavingSteps
		chattest.CheckProperties(t, newServerFor(opts), opts)
	})
	t.Run("tcp", func(t *testing.T) {
		opts := options()
		opts.Transport = chattest.TCP
		chattest.CheckProperties(t, newServerFor(opts), opts)
	})
}

// leavingSteps: messages, then a client leaves, perhaps before it read them.
var leavingSteps = []chattest.StepKind{
	chattest.Sends, chattest.Leaves, chattest.StopsReading, chattest.ResumesReading,
	chattest.Connects, chattest.LogsIn, chattest.CtrlC, chattest.Sends,
}
