package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Server is a running server that workloads connect to.
type Server struct {
	Name  string
	Addr  string   // host:port on 127.0.0.1
	Addrs []string // a cluster's nodes: client i of pairs or fanout goes to Addrs[i % len]
	NATS  string   // a cluster's NATS server, or NATSPairs's
	PID   int      // 0 if the server is not a process of its own: no RSS figure

	interrupt func() error  // starts a clean shutdown (SIGINT for a process)
	kill      func() error  // stops the server at once
	exited    chan struct{} // closed when the server has stopped
}

// Interrupt starts the server's clean shutdown.
func (s *Server) Interrupt() error { return s.interrupt() }

// Wait waits for the server to stop, at most timeout.
func (s *Server) Wait(timeout time.Duration) error {
	select {
	case <-s.exited:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("%s: still running after %v", s.Name, timeout)
	}
}

// Stop interrupts the server and waits up to 5 s for it, then kills it.
func (s *Server) Stop() error {
	if err := s.Interrupt(); err != nil {
		return err
	}
	if err := s.Wait(5 * time.Second); err != nil {
		s.kill()
		<-s.exited
		return err
	}
	return nil
}

// PeakRSS is the server process's peak resident set in kB (VmHWM), or 0 if
// the server is not a process of its own.
func (s *Server) PeakRSS() (int64, error) { return s.procStatus("VmHWM:") }

// RSS is the server process's resident set now, in kB (VmRSS), or 0 if the
// server is not a process of its own.
func (s *Server) RSS() (int64, error) { return s.procStatus("VmRSS:") }

// OpenFiles is how many descriptors the server process holds (the entries
// of /proc/PID/fd), or 0 if the server is not a process of its own.
func (s *Server) OpenFiles() (int, error) {
	if s.PID == 0 {
		return 0, nil
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.PID))
	return len(fds), err
}

// procStatus reads one "Field: N kB" line of /proc/PID/status.
func (s *Server) procStatus(field string) (int64, error) {
	if s.PID == 0 {
		return 0, nil
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.PID))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, field); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no " + field + " in " + s.Name + "'s /proc status")
}

// InProcess is what every chapter's *Server is, for InProcessServer.
type InProcess interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
}

// InProcessServer serves srv on a new loopback listener in this process.
// Interrupt starts srv.Shutdown; the server has stopped when it returns.
func InProcessServer(name string, srv InProcess) (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{Name: name, Addr: l.Addr().String(), exited: make(chan struct{})}
	go srv.Serve(l) // ends once Shutdown begins; Shutdown's return is what exited waits for
	ctx, cancel := context.WithCancel(context.Background())
	s.interrupt = func() error {
		go func() { // ends when the drain is over, or at once after kill; closes exited
			defer close(s.exited)
			srv.Shutdown(ctx)
		}()
		return nil
	}
	s.kill = func() error { cancel(); return nil }
	return s, nil
}

// addrPattern finds the address a server logs, as "achat serve" does:
// level=INFO msg=listening addr=127.0.0.1:PORT chapter=shutdown
var addrPattern = regexp.MustCompile(`\baddr=(\S+)`)

// StartLogging starts a process that logs "addr=HOST:PORT" on stderr once it
// listens, as "achat serve -addr 127.0.0.1:0" does, and waits for that line.
func StartLogging(name string, cmd *exec.Cmd) (*Server, error) {
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	s, err := startProcess(name, cmd)
	if err != nil {
		return nil, err
	}
	addrs := make(chan string, 1)
	scanned := make(chan struct{})
	// Reads the server's log until the process closes stderr, so that it is
	// never blocked on a full pipe; the exit watcher waits for it (scanned).
	go func() {
		defer close(scanned)
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			if m := addrPattern.FindStringSubmatch(lines.Text()); m != nil && s.Addr == "" {
				s.Addr = m[1]
				addrs <- m[1]
			}
		}
	}()
	go s.watch(cmd, scanned) // ends when the process has exited; closes exited
	select {
	case <-addrs:
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("%s exited before it logged its address", name)
	case <-time.After(10 * time.Second):
		s.kill()
		return nil, fmt.Errorf("%s logged no address within 10 s", name)
	}
}

// StartListening starts a process that is told its address (addr) and logs
// nothing useful, as the seed does, and waits until it accepts connections.
func StartListening(name string, cmd *exec.Cmd, addr string) (*Server, error) {
	s, err := startProcess(name, cmd)
	if err != nil {
		return nil, err
	}
	s.Addr = addr
	go s.watch(cmd, nil) // ends when the process has exited; closes exited
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close() // a connection that never logs in: every server drops it
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("%s exited before it listened on %s", name, addr)
		case <-time.After(20 * time.Millisecond): // polling a process we cannot ask
		}
	}
	s.kill()
	return nil, fmt.Errorf("%s did not listen on %s within 10 s", name, addr)
}

// FreeAddr returns a loopback address that was free a moment ago, for a
// server that must be told where to listen.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func startProcess(name string, cmd *exec.Cmd) (*Server, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &Server{
		Name:      name,
		PID:       cmd.Process.Pid,
		interrupt: func() error { return cmd.Process.Signal(os.Interrupt) },
		kill:      cmd.Process.Kill,
		exited:    make(chan struct{}),
	}, nil
}

// watch waits for the process to exit, after its log has been read to the
// end (if scanned is not nil), and closes exited.
func (s *Server) watch(cmd *exec.Cmd, scanned <-chan struct{}) {
	if scanned != nil {
		<-scanned
	}
	cmd.Wait()
	close(s.exited)
}
