package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"achat/internal/testbin"
)

// binary is the achat command built once for the tests that run it as a
// user would: a real process, real TCP, real signals.
var binary string

func TestMain(m *testing.M) {
	testbin.Main(m, &binary)
}

// process is a running `achat serve`.
type process struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string
	exited chan struct{} // closed when the process has exited; then err is set
	err    error
	logged chan struct{} // a token after each line of log

	mu  sync.Mutex
	log strings.Builder // everything the process wrote to stderr
}

var listeningAddr = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startServe starts `achat serve -addr 127.0.0.1:0 args...` and waits until it
// listens. The test's cleanup kills it if it is still running.
func startServe(t *testing.T, args ...string) *process {
	t.Helper()
	args = append([]string{"serve", "-addr", "127.0.0.1:0"}, args...)
	return start(t, exec.Command(binary, args...))
}

// startServeWithFileLimit is startServe in a process that may open files
// descriptors at most: a shell sets the limit, then becomes achat.
func startServeWithFileLimit(t *testing.T, files int, args ...string) *process {
	t.Helper()
	args = append([]string{"-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, files),
		binary, "serve", "-addr", "127.0.0.1:0"}, args...)
	return start(t, exec.Command("sh", args...))
}

func start(t *testing.T, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{t: t, cmd: cmd, exited: make(chan struct{}), logged: make(chan struct{}, 1)}
	stderr, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = w
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close() // the child has its own copy; ours would keep the pipe open
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
	})
	addr := make(chan string, 1)
	go p.readLog(stderr, addr) // ends when the process closes stderr, at exit
	select {
	case p.addr = <-addr:
	case <-p.exited:
		t.Fatalf("achat exited before listening: %v\n%s", p.err, p.Log())
	}
	return p
}

// readLog keeps the process's log and sends the listening address on addr.
// It closes exited once the process has exited and its log is complete.
func (p *process) readLog(stderr *os.File, addr chan<- string) {
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		p.mu.Lock()
		p.log.WriteString(lines.Text() + "\n")
		p.mu.Unlock()
		select {
		case p.logged <- struct{}{}:
		default: // a token is there already
		}
		if m := listeningAddr.FindStringSubmatch(lines.Text()); m != nil {
			addr <- m[1]
		}
	}
	p.err = p.cmd.Wait()
	close(p.exited)
}

func (p *process) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// waitLog waits until the log contains text, or the process exits, or bound
// passes (a guard against a hang, not a timing assertion).
func (p *process) waitLog(text string, bound time.Duration) bool {
	guard := time.After(bound)
	for !strings.Contains(p.Log(), text) {
		select {
		case <-p.logged:
		case <-p.exited:
			return strings.Contains(p.Log(), text)
		case <-guard:
			return false
		}
	}
	return true
}

func (p *process) interrupt() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		p.t.Fatalf("SIGINT: %v", err)
	}
}

// waitExit waits up to bound for the process to exit and reports whether it
// did. The bound only keeps a hung process from hanging the test.
func (p *process) waitExit(bound time.Duration) bool {
	select {
	case <-p.exited:
		return true
	case <-time.After(bound):
		return false
	}
}
