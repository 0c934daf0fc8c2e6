package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"achat/chat/chattest"
	"achat/chat/shutdown"
)

// guard bounds every wait, so that a bug fails the test with a message
// instead of hanging it. It is not a timing assertion.
const guard = 20 * time.Second

// closedAddr returns a loopback address where nobody listens.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l.Close()
	return l.Addr().String()
}

// runClientWith runs runClient to the end with stdin and returns its exit
// code, stdout and stderr.
func runClientWith(ctx context.Context, stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = runClient(ctx, args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRunClientExitCodes(t *testing.T) {
	t.Run("cannot connect", func(t *testing.T) {
		addr := closedAddr(t)
		code, _, stderr := runClientWith(context.Background(), "", "-addr", addr, "-name", "alice")
		assert.Equal(t, exitFailed, code)
		assert.Contains(t, stderr, "achat client: cannot connect to "+addr)
	})
	t.Run("a taken name", func(t *testing.T) {
		addr := chattest.Start(t, shutdown.New(shutdown.Config{}))
		chattest.Login(t, addr, "alice")
		keyboard, typing := io.Pipe() // a user at the keyboard: stdin does not end
		defer typing.Close()
		var stderr strings.Builder
		code := runClient(context.Background(), []string{"-addr", addr, "-name", "alice"}, keyboard, io.Discard, &stderr)
		assert.Equal(t, exitFailed, code)
		assert.Equal(t, "achat client: logging in as \"alice\": the server closed the connection without a word (is the name taken?)\n", stderr.String())
	})
	t.Run("a bad name", func(t *testing.T) {
		addr := chattest.Start(t, shutdown.New(shutdown.Config{}))
		code, _, stderr := runClientWith(context.Background(), "", "-addr", addr, "-name", "al:ice")
		assert.Equal(t, exitFailed, code)
		assert.Contains(t, stderr, `achat client: name "al:ice": name contains`)
	})
	t.Run("no name, and stdin ends", func(t *testing.T) {
		addr := chattest.Start(t, shutdown.New(shutdown.Config{}))
		code, stdout, stderr := runClientWith(context.Background(), "", "-addr", addr)
		assert.Equal(t, exitFailed, code)
		assert.Equal(t, "name: ", stdout)
		assert.Equal(t, "achat client: no name given\n", stderr)
	})
	t.Run("interrupted", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		code, _, stderr := runClientWith(ctx, "", "-addr", closedAddr(t), "-name", "alice")
		assert.Equal(t, exitInterrupted, code)
		assert.Empty(t, stderr)
	})
	t.Run("a bad flag", func(t *testing.T) {
		code, _, stderr := runClientWith(context.Background(), "", "-nmae", "alice")
		assert.Equal(t, exitUsage, code)
		assert.Contains(t, stderr, "flag provided but not defined: -nmae")
	})
	t.Run("an argument", func(t *testing.T) {
		code, _, stderr := runClientWith(context.Background(), "", "alice")
		assert.Equal(t, exitUsage, code)
		assert.Contains(t, stderr, `unexpected argument "alice"`)
	})
}

// buildAchat builds the command into a temporary directory.
// buildAchat returns the binary that TestMain built.
func buildAchat(t *testing.T) string {
	t.Helper()
	return binary
}

// user is a person running "achat client" in a terminal: the test types on
// its stdin and reads its stdout.
type user struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	screen chan string // lines printed, buffered
	stderr bytes.Buffer
	exited chan int // the exit code, once
}

// startUser starts "achat client args...".
func startUser(t *testing.T, bin string, args ...string) *user {
	u := &user{t: t, screen: make(chan string, 1000), exited: make(chan int, 1)}
	u.cmd = exec.Command(bin, append([]string{"client"}, args...)...)
	stdin, err := u.cmd.StdinPipe()
	require.NoError(t, err)
	u.stdin = stdin
	stdout, display := io.Pipe()
	u.cmd.Stdout, u.cmd.Stderr = display, &u.stderr
	require.NoError(t, u.cmd.Start())
	screenDone := make(chan struct{})
	go u.show(stdout, screenDone) // ends when display is closed, after the process has exited
	go func() {                   // ends when the process has exited; the cleanup waits
		u.cmd.Wait()
		display.Close()
		u.exited <- u.cmd.ProcessState.ExitCode()
	}()
	t.Cleanup(func() {
		u.cmd.Process.Kill() // if a test failed with the client still running
		u.exitCode()
		<-screenDone
	})
	return u
}

func (u *user) show(stdout io.Reader, done chan<- struct{}) {
	defer close(done)
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		u.screen <- lines.Text()
	}
}

func (u *user) typeLine(line string) {
	u.t.Helper()
	_, err := io.WriteString(u.stdin, line+"\n")
	require.NoError(u.t, err)
}

func (u *user) ctrlD() { u.stdin.Close() }

func (u *user) ctrlC() { require.NoError(u.t, u.cmd.Process.Signal(os.Interrupt)) }

func (u *user) expect(want string) {
	u.t.Helper()
	select {
	case got := <-u.screen:
		require.Equal(u.t, want, got)
	case <-time.After(guard):
		u.t.Fatalf("waiting for %q to be printed: the guard expired", want)
	}
}

// exitCode waits for the process to exit and returns its exit code.
func (u *user) exitCode() int {
	select {
	case code := <-u.exited:
		u.exited <- code
		return code
	case <-time.After(guard):
		u.cmd.Process.Kill()
		u.t.Fatalf("achat client did not exit: the guard expired")
		return -1
	}
}

func TestTwoUsersChatThroughTheBinary(t *testing.T) {
	bin := buildAchat(t)
	srv := shutdown.New(shutdown.Config{})
	addr := chattest.Start(t, srv)

	alice := startUser(t, bin, "-addr", addr, "-name", "alice")
	alice.typeLine("alice: am I in?")
	alice.expect("from alice: am I in?")
	bob := startUser(t, bin, "-addr", addr) // asks for the name
	bob.typeLine("bob")
	bob.typeLine("bob: am I in?")
	bob.expect("name: from bob: am I in?")

	alice.typeLine("bob: hi bob")
	bob.expect("from alice: hi bob")
	bob.typeLine("alice, bob: hi alice")
	alice.expect("from bob: hi alice")
	bob.expect("from bob: hi alice")

	impostor := startUser(t, bin, "-addr", addr, "-name", "alice")
	assert.Equal(t, exitFailed, impostor.exitCode())
	assert.Contains(t, impostor.stderr.String(), "(is the name taken?)")

	alice.typeLine("bob: bye")
	alice.ctrlD() // this chapter's server keeps alice's connection open: alice lingers, then exits
	bob.expect("from alice: bye")
	assert.Equal(t, exitOK, alice.exitCode())
	assert.Empty(t, alice.stderr.String())

	require.NoError(t, srv.Shutdown(context.Background()))
	assert.Equal(t, exitOK, bob.exitCode(), "stderr: %s", bob.stderr.String())
	assert.Empty(t, bob.stderr.String())
	assert.Empty(t, alice.screen)
	assert.Empty(t, bob.screen)
}

func TestCtrlCEndsTheBinaryWith130(t *testing.T) {
	bin := buildAchat(t)
	addr := chattest.Start(t, shutdown.New(shutdown.Config{}))
	carol := startUser(t, bin, "-addr", addr, "-name", "carol")
	for i := range 3 { // the third echo proves the client is running its loop, signal handler set
		carol.typeLine(fmt.Sprintf("carol: %d", i))
		carol.expect(fmt.Sprintf("from carol: %d", i))
	}
	carol.ctrlC()
	assert.Equal(t, exitInterrupted, carol.exitCode())
	assert.Empty(t, carol.stderr.String())
}
