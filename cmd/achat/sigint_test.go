package main

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"achat/chat/chattest"
	"achat/chat/protocol"
)

// inFlight is how many messages the drain tests route to a client that is not
// reading when Ctrl-C comes: with their padding, far more than loopback's
// socket buffers hold, so most of them are still in the server's queue.
const inFlight = 300_000

var padding = strings.Repeat("x", 64)

func message(i int) string { return fmt.Sprintf("%06d %s", i, padding) }

// drainFigures is what a drain test measured.
type drainFigures struct {
	delivered int           // messages bob received, in order, before the close
	cutOff    bool          // the last one arrived only in part: the process exited mid-write
	exitAfter time.Duration // from SIGINT to the process's exit
	exitOK    bool          // the process exited with status 0
	errorLine string        // an error line bob got after his messages, if any
}

// runDrain routes inFlight messages to bob, who is not reading yet, sends
// SIGINT, then lets bob read until the server closes his connection. args
// are more flags for achat serve.
func runDrain(t *testing.T, chapter string, args ...string) drainFigures {
	// The drain deadline is not what this test is about: under load (go test
	// -race ./... on 2 cores) a drain can take longer than the default 10s.
	p := startServe(t, append([]string{"-chapter", chapter, "-drain-timeout", "2m"}, args...)...)
	alice := chattest.Login(t, p.addr, "alice")
	bob := chattest.Login(t, p.addr, "bob")

	// alice sends a window of messages at a time, and reads her own copies,
	// which prove they were routed, before the next window: she keeps up,
	// and bob falls behind.
	for first := 0; first < inFlight; first += window {
		require.NoError(t, sendAll(alice, first, min(first+window, inFlight)))
		for i := first; i < min(first+window, inFlight); {
			line, err := alice.ReadLine()
			switch {
			case err != nil:
				t.Fatalf("alice: %v", err)
			case line == "error: not logged in: bob": // chapter slow evicted bob
			default:
				require.Equal(t, "from alice: "+message(i), line)
				i++
			}
		}
	}
	sigint := time.Now()
	p.interrupt()

	var f drainFigures
	for {
		line, err := bob.ReadLine()
		if err != nil {
			break
		}
		want := "from alice: " + message(f.delivered)
		switch {
		case f.cutOff || f.errorLine != "":
			t.Fatalf("bob got %q after a message that was cut short or an error line", line)
		case strings.HasPrefix(line, "error: "):
			f.errorLine = line
		case line == want:
			f.delivered++
		case strings.HasPrefix(want, line):
			f.cutOff = true // the process exited while it was writing this one
		default:
			t.Fatalf("bob's message %d is %q, want %q", f.delivered, line, want)
		}
	}
	for { // alice reads to the end, and closes, as a client does: the server need not linger
		line, err := alice.ReadLine()
		if err != nil {
			break
		}
		require.Equal(t, "error: not logged in: bob", line, "alice got more than her copies")
	}
	if !p.waitExit(time.Minute) {
		t.Fatalf("achat -chapter %s did not exit after SIGINT\n%s", chapter, p.Log())
	}
	f.exitAfter, f.exitOK = time.Since(sigint), p.err == nil
	t.Logf("-chapter %s %s: %d messages in flight at SIGINT, %d delivered, %d lost (last cut short: %v; "+
		"then %q); exit status 0: %v, %v after SIGINT", chapter, strings.Join(args, " "), inFlight,
		f.delivered, inFlight-f.delivered, f.cutOff, f.errorLine, f.exitOK, f.exitAfter.Round(time.Millisecond))
	return f
}

// window is how many messages alice sends before she reads her copies:
// well under chapter slow's default bound of 4,096.
const window = 1000

// sendAll sends messages first..end-1 from c to "alice, bob" through one
// buffer.
func sendAll(c *chattest.Client, first, end int) error {
	w := bufio.NewWriter(c.Conn())
	for i := first; i < end; i++ {
		fmt.Fprintf(w, "alice, bob: %s\n", message(i))
	}
	return w.Flush()
}

// Chapter slow bounds what waits for one client: bob, not reading, is
// evicted once 4,096 lines wait for him. He still gets those, in order, and
// the reason; with a bound above what is sent, he gets everything.
func TestSIGINTDrainWithABound(t *testing.T) {
	t.Run("slow evicts a client too far behind, and says so", func(t *testing.T) {
		f := runDrain(t, "slow")
		want := "error: " + protocol.ErrTooSlow.Error()
		if f.errorLine != want || f.delivered < 4096 || f.delivered >= inFlight || !f.exitOK {
			t.Fatalf("delivered %d, then %q (want at least 4096, then %q); exit status 0: %v",
				f.delivered, f.errorLine, want, f.exitOK)
		}
	})
	t.Run("slow with a bound above the traffic delivers everything", func(t *testing.T) {
		f := runDrain(t, "slow", "-max-queued", fmt.Sprint(2*inFlight))
		if f.delivered != inFlight || f.errorLine != "" || !f.exitOK {
			t.Fatalf("delivered %d of %d, error line %q, exit status 0: %v",
				f.delivered, inFlight, f.errorLine, f.exitOK)
		}
	})
}

// Chapter limits bounds what waits for a client in bytes too: bob is
// evicted sooner, and still gets what was queued, and why. With bounds and a
// write timeout above what the test needs, he gets everything.
func TestSIGINTDrainWithLimits(t *testing.T) {
	t.Run("limits evicts a client too far behind, and says so", func(t *testing.T) {
		f := runDrain(t, "limits")
		want := "error: " + protocol.ErrTooSlow.Error()
		if f.errorLine != want || f.delivered < 1000 || f.delivered >= inFlight || !f.exitOK {
			t.Fatalf("delivered %d, then %q (want at least 1000, then %q); exit status 0: %v",
				f.delivered, f.errorLine, want, f.exitOK)
		}
	})
	t.Run("limits with bounds above the traffic delivers everything", func(t *testing.T) {
		f := runDrain(t, "limits", "-max-queued", fmt.Sprint(2*inFlight),
			"-max-queued-bytes", fmt.Sprint(1<<30), "-write-timeout", "10m")
		if f.delivered != inFlight || f.errorLine != "" || !f.exitOK {
			t.Fatalf("delivered %d of %d, error line %q, exit status 0: %v",
				f.delivered, inFlight, f.errorLine, f.exitOK)
		}
	})
}

// With its file limit at 64, a server takes hundreds of connection
// attempts. Chapter limits fits its connection limit to the file limit,
// refuses those past it at once, and keeps serving: at Ctrl-C every message
// accepted reaches bob, who had not read them, and it exits 0. Chapter slow
// gets EMFILE from Accept, and Serve ends: achat serve drains what it had
// accepted all the same, and exits 1.
func TestAServerOutOfFileDescriptors(t *testing.T) {
	const routed = 10_000
	for _, tc := range []struct {
		chapter string
		exitOK  bool
	}{{"limits", true}, {"slow", false}} {
		t.Run(tc.chapter, func(t *testing.T) {
			args := []string{"-chapter", tc.chapter, "-drain-timeout", "2m"}
			if tc.chapter == "limits" { // the crowd within the limit is let go after 1s
				args = append(args, "-write-timeout", "10m", "-login-timeout", "1s")
			}
			p := startServeWithFileLimit(t, 64, args...)
			alice := chattest.Login(t, p.addr, "alice")
			bob := chattest.Login(t, p.addr, "bob") // reads nothing until Ctrl-C
			for first := 0; first < routed; first += window {
				require.NoError(t, sendAll(alice, first, first+window))
				for i := first; i < first+window; i++ {
					alice.Expect("from alice: " + message(i))
				}
			}
			refused := 0
			var crowd []net.Conn
			for range 300 {
				c, err := net.Dial("tcp", p.addr)
				if err != nil {
					refused++
					continue
				}
				crowd = append(crowd, c)
			}
			if tc.chapter == "limits" {
				// Whoever came past the limit was told so at once: the
				// server had a descriptor left to say it.
				busy := 0
				for _, c := range crowd {
					c.SetReadDeadline(time.Now().Add(readGuard))
					if line, _ := bufio.NewReader(c).ReadString('\n'); line == "error: "+protocol.ErrTooManyConns.Error()+"\n" {
						busy++
					}
				}
				require.Greater(t, busy, 200, "of 300 attempts, the limit being 32")
				require.Contains(t, p.Log(), "at the connection limit")
			} else if !p.waitLog("serve failed: draining what was accepted", time.Minute) {
				t.Fatalf("Serve did not fail\n%s", p.Log())
			}
			for _, c := range crowd {
				c.Close()
			}
			p.interrupt()
			for i := range routed {
				bob.Expect("from alice: " + message(i))
			}
			bob.ExpectClosed()
			if !p.waitExit(time.Minute) {
				t.Fatalf("achat did not exit\n%s", p.Log())
			}
			require.Equal(t, tc.exitOK, p.err == nil, "exit status 0; the log:\n%s", p.Log())
			t.Logf("%d of 300 connections were refused by the kernel; bob got all %d messages", refused, routed)
		})
	}
}

// readGuard bounds a read in these tests: a guard against a hang.
const readGuard = 20 * time.Second

func TestSIGINTDrain(t *testing.T) {
	for _, chapter := range []string{"drain", "shutdown", "disconnect", "replies"} {
		t.Run(chapter+" delivers every routed message, then exits 0", func(t *testing.T) {
			f := runDrain(t, chapter)
			if f.delivered != inFlight || !f.exitOK {
				t.Fatalf("delivered %d of %d, exit status 0: %v", f.delivered, inFlight, f.exitOK)
			}
		})
	}
	for _, chapter := range []string{"broker", "notify"} {
		t.Run(chapter+" loses routed messages", func(t *testing.T) {
			f := runDrain(t, chapter)
			if f.delivered == inFlight {
				t.Fatalf("-chapter %s delivered all %d messages: the lesson is gone", chapter, inFlight)
			}
		})
	}
}

func TestSIGINTWithAClientThatNeverLogsIn(t *testing.T) {
	for _, chapter := range []string{"drain", "shutdown", "disconnect", "replies", "slow", "limits"} {
		t.Run(chapter+" exits 0", func(t *testing.T) {
			p := startServe(t, "-chapter", chapter)
			silent := chattest.Dial(t, p.addr)
			chattest.Login(t, p.addr, "alice") // accepted after silent: silent's reader runs
			p.interrupt()
			if !p.waitExit(time.Minute) || p.err != nil {
				t.Fatalf("achat did not exit 0 after SIGINT: %v\n%s", p.err, p.Log())
			}
			silent.ExpectClosed()
		})
	}
	t.Run("notify hangs until the client leaves", func(t *testing.T) {
		p := startServe(t, "-chapter", "notify")
		silent := chattest.Dial(t, p.addr)
		chattest.Login(t, p.addr, "alice")
		p.interrupt()
		// A hang cannot be observed, only bounded: the process has no way to
		// exit while silent is connected, so any bound shows it.
		if p.waitExit(2 * time.Second) {
			t.Fatalf("achat -chapter notify exited with a silent client connected\n%s", p.Log())
		}
		silent.Close()
		if !p.waitExit(time.Minute) || p.err != nil {
			t.Fatalf("achat did not exit 0 once the client left: %v\n%s", p.err, p.Log())
		}
	})
}

// A second Ctrl-C stops the drain at once: the connections are closed, every
// writer logs how many messages it could not deliver, and the exit status
// says the drain was cut short.
func TestSecondSIGINTStopsTheDrainAndSaysWhatWasLost(t *testing.T) {
	p := startServe(t, "-chapter", "shutdown", "-drain-timeout", "2m")
	alice := chattest.Login(t, p.addr, "alice")
	chattest.Login(t, p.addr, "bob") // and never reads again
	go sendAll(alice, 0, inFlight)   // ends once every message is written
	for i := range inFlight {
		alice.Expect("from alice: " + message(i))
	}
	p.interrupt()
	// Two signals sent at once may reach the process as one: wait for the first.
	if !p.waitLog("shutting down", time.Minute) {
		t.Fatalf("achat did not start shutting down\n%s", p.Log())
	}
	p.interrupt()
	if !p.waitExit(time.Minute) {
		t.Fatalf("achat did not exit after a second SIGINT\n%s", p.Log())
	}
	if p.err == nil {
		t.Errorf("exit status 0 after a drain cut short, want 1")
	}
	for _, want := range []string{"second signal", `msg="messages not delivered" peer=bob`} {
		if !strings.Contains(p.Log(), want) {
			t.Errorf("the log lacks %q:\n%s", want, p.Log())
		}
	}
}
