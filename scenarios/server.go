package scenarios

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"
)

// server is a running server: "achat serve", or the seed. A real process,
// on a free loopback port, stopped by real signals.
type server struct {
	program program
	cmd     *exec.Cmd
	addr    string
	exited  chan struct{} // closed once the process has exited and its log is read
	exitAt  time.Time     // set before exited is closed
	sigints []time.Time   // when each SIGINT was sent: only the steps touch it

	logged chan struct{} // a token after each line of log
	mu     sync.Mutex
	log    strings.Builder // everything the process wrote, stdout and stderr
	peakKB int64           // the highest VmHWM read, 0 if none could be

	sampled chan struct{} // closed when sample has returned
}

// program is how to start one column's server, and how to read its log.
type program struct {
	name       string         // for errors: "achat serve -chapter shutdown"
	args       []string       // the binary, then its arguments
	listening  *regexp.Regexp // the log line that gives the address it listens on
	signalSeen []string       // what it logs when it takes its first and second SIGINT
}

// SeedChapter is the column of the seed: the Rust/tokio chapter this
// project started from (seed/), run as its own binary.
const SeedChapter = "seed"

// SeedBinary is where make seed puts the seed's binary, from the
// repository's root.
const SeedBinary = "seed/target/release/seed"

// chapterProgram is "achat serve -chapter chapter" on a free port, with the
// flags of the settings.
func chapterProgram(achat, chapter string, set Settings) program {
	args := []string{achat, "serve", "-chapter", chapter, "-addr", "127.0.0.1:0"}
	if flags := set.flags(); len(flags) > 0 {
		// One scenario runs against every chapter: a chapter ignores, and
		// logs, a setting it does not have.
		args = append(append(args, "-lenient"), flags...)
	}
	return program{name: "achat serve -chapter " + chapter, args: args,
		listening:  regexp.MustCompile(`msg=listening addr=(\S+)`),
		signalSeen: []string{`msg="shutting down`, `msg="second signal`}}
}

// seedProgram is the seed on a free port. It has no settings to take, and
// one SIGINT is all it hears: tokio's ctrl_c handler stays installed, so a
// second one neither ends it nor shows in its log.
func seedProgram(seed string) program {
	return program{name: "the seed", args: []string{seed, "127.0.0.1:0"},
		listening:  regexp.MustCompile(`^Listening on (\S+)`),
		signalSeen: []string{"Shutting down server!"}}
}

// startGuard bounds how long a server may take to say where it listens.
const startGuard = 10 * time.Second

// startServer starts the program, with the file limit of the settings, and
// waits until it logs its address. The caller must call kill.
func startServer(p program, set Settings) (*server, error) {
	s := &server{program: p, cmd: command(p.args, set.FileLimit), exited: make(chan struct{}),
		logged: make(chan struct{}, 1), sampled: make(chan struct{})}
	// One pipe for stdout and stderr: the seed prints to both, achat logs
	// to stderr.
	out, in, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	s.cmd.Stdout, s.cmd.Stderr = in, in
	err = s.cmd.Start()
	in.Close() // the child has its copy: out ends when the child exits
	if err != nil {
		out.Close()
		return nil, err
	}
	addr := make(chan string, 1)
	go s.readLog(out, addr) // ends at the process's exit; closes exited
	go s.sample()           // ends at the process's exit; kill waits
	select {
	case s.addr = <-addr:
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("%s exited before it listened:\n%s", p.name, s.Log())
	case <-time.After(startGuard):
		s.kill()
		return nil, fmt.Errorf("%s did not listen within %v", p.name, startGuard)
	}
}

// command returns the command that runs args, with its file limit
// (RLIMIT_NOFILE) set to fileLimit, soft and hard, unless it is 0. A shell
// sets the limit, then execs the binary, which keeps the shell's process:
// its pid, its signals and its exit status are the server's. Both limits
// are set, as Go raises the soft one to the hard one when it starts.
func command(args []string, fileLimit int) *exec.Cmd {
	if fileLimit == 0 {
		return exec.Command(args[0], args[1:]...)
	}
	script := fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, fileLimit)
	return exec.Command("/bin/sh", append([]string{"-c", script}, args...)...)
}

// readLog keeps the log, sends the listening address on addr, and closes
// exited once the process has exited: Wait must come after the last read
// of stderr.
func (s *server) readLog(out *os.File, addr chan<- string) {
	defer out.Close()
	lines := bufio.NewScanner(out)
	lines.Buffer(nil, 1<<20) // a panic's line may be long
	for lines.Scan() {
		s.mu.Lock()
		s.log.WriteString(lines.Text() + "\n")
		s.mu.Unlock()
		select {
		case s.logged <- struct{}{}:
		default: // a token is there already
		}
		if m := s.program.listening.FindStringSubmatch(lines.Text()); m != nil {
			addr <- m[1] // once: the server logs its address once
		}
	}
	io.Copy(io.Discard, out) // if a line was too long to scan: the rest, until the exit
	s.cmd.Wait()
	s.exitAt = time.Now()
	close(s.exited)
}

// Log returns what the server has logged so far.
func (s *server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// serveFailedMsg starts what achat serve logs when Serve ends with an
// error, before it drains and exits 1; serveFailed reads the end of its
// err: "too many open files".
const serveFailedMsg = `msg="serve failed`

var serveFailed = regexp.MustCompile(regexp.QuoteMeta(serveFailedMsg) + `[^"]*" err="(?:[^"]*: )?([^"]*)"`)

// serveFailure returns why Serve failed, if the server has logged that it
// did: "too many open files".
func (s *server) serveFailure() string {
	if m := serveFailed.FindStringSubmatch(s.Log()); m != nil {
		return m[1]
	}
	return ""
}

// interrupt sends a SIGINT and waits until the server logs that it took
// it, or exits: two signals sent at once may reach a process as one. guard
// bounds the wait.
func (s *server) interrupt(guard time.Duration) {
	s.sigints = append(s.sigints, time.Now())
	n, seen := len(s.sigints), s.program.signalSeen
	if s.cmd.Process.Signal(os.Interrupt) != nil || n > len(seen) {
		return // it has exited, or it logs nothing for this signal: nothing to wait for
	}
	s.waitLog(seen[n-1], guard)
}

// waitLog waits until the log contains text, the process exits, or guard
// passes.
func (s *server) waitLog(text string, guard time.Duration) bool {
	timeout := time.After(guard)
	for !strings.Contains(s.Log(), text) {
		select {
		case <-s.logged:
		case <-s.exited:
			return strings.Contains(s.Log(), text)
		case <-timeout:
			return false
		}
	}
	return true
}

// waitExit waits until the process exits or the deadline passes, and
// reports whether it exited.
func (s *server) waitExit(deadline time.Time) bool {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-s.exited:
		return true
	case <-timer.C:
		return false
	}
}

// sampleEvery is how often sample reads the server's peak memory.
const sampleEvery = 10 * time.Millisecond

// sample reads the server's peak memory until it exits. VmHWM only grows,
// so a read after a peak sees it: only a peak in the last few milliseconds
// before an exit can be missed. kill reads it once more before it kills.
func (s *server) sample() {
	defer close(s.sampled)
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	for {
		s.readPeak()
		select {
		case <-tick.C:
		case <-s.exited:
			return
		}
	}
}

func (s *server) readPeak() {
	if kB, err := vmHWM(s.cmd.Process.Pid); err == nil {
		s.mu.Lock()
		s.peakKB = max(s.peakKB, kB)
		s.mu.Unlock()
	}
}

// peak returns the server's peak memory in kB, 0 if unknown.
func (s *server) peak() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peakKB
}

// kill kills the process if it is still running, after a last read of its
// peak memory, and waits for its exit.
func (s *server) kill() {
	select {
	case <-s.exited:
	default:
		s.readPeak()
		s.cmd.Process.Kill()
		<-s.exited
	}
	<-s.sampled
}

// exitFigure says how the process exited, after exited is closed.
func (s *server) exitFigure(after time.Time) string {
	in := " in " + duration(s.exitAt.Sub(after))
	if status := s.cmd.ProcessState.ExitCode(); status >= 0 {
		return fmt.Sprintf("exit %d%s", status, in)
	}
	return "killed by a signal" + in // the third SIGINT, or a SIGINT after signal.Stop
}
