package slow

import (
	"testing"

	"achat/chat/chattest"
)

// Every property holds, for random schedules of clients that connect, log
// in (under taken names too), send good and bad lines, read slowly or not
// at all (and are evicted for it), leave and come back, disconnect, and
// Ctrl-C at any point.
func TestProperties(t *testing.T) {
	opts := chattest.Options{FreesNames: true, MaxQueued: testMaxQueued}
	t.Run("pipe", func(t *testing.T) {
		opts := opts
		opts.Transport, opts.Schedules = chattest.Pipe, 1000
		chattest.CheckProperties(t, newServer, opts)
	})
	// Every step settled: no step races the next, so whatever fails here
	// fails again when rapid replays it (the mutants test runs this one).
	t.Run("settled", func(t *testing.T) {
		opts := opts
		opts.Transport, opts.Schedules, opts.NoRush = chattest.Pipe, 500, true
		chattest.CheckProperties(t, newServer, opts)
	})
	// Two clients, one of which starts not reading, and one message a step:
	// queues fill up, clients are evicted, and the lines waiting for each are
	// counted exactly (a burst to a client that reads races its writer).
	t.Run("slow readers", func(t *testing.T) {
		opts := opts
		opts.Transport, opts.Schedules, opts.NoRush = chattest.Pipe, 500, true
		opts.Clients, opts.MaxSteps, opts.Start = 2, 60, chattest.NotReading()
		opts.Steps = []chattest.StepKind{chattest.Sends, chattest.Sends, chattest.Sends,
			chattest.StopsReading, chattest.ResumesReading, chattest.NeverReads, chattest.CtrlC,
			chattest.Sends, chattest.Sends, chattest.Sends}
		chattest.CheckProperties(t, newServer, opts)
	})
	// Clients that leave while what is queued for them is unread: it must
	// still reach them (the mutants test runs this one too).
	t.Run("leaving", func(t *testing.T) {
		opts := opts
		opts.Transport, opts.Schedules, opts.NoRush = chattest.Pipe, 300, true
		opts.Clients, opts.Start, opts.Steps = 2, chattest.NotReading(), leavingSteps
		chattest.CheckProperties(t, newServer, opts)
	})
	t.Run("tcp", func(t *testing.T) {
		opts := opts
		opts.Transport = chattest.TCP
		chattest.CheckProperties(t, newServer, opts)
	})
}

// leavingSteps: messages, then a client leaves, perhaps before it read them.
var leavingSteps = []chattest.StepKind{
	chattest.Sends, chattest.Leaves, chattest.StopsReading, chattest.ResumesReading,
	chattest.Connects, chattest.LogsIn, chattest.CtrlC, chattest.Sends,
}
