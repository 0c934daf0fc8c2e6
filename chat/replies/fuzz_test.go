package replies

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"achat/chat/chattest"
	"achat/chat/protocol"
)

// FuzzConnection sends arbitrary bytes from one client, while alice and bob
// are logged in and alice talks to bob. Whatever the bytes, the server must
// not panic or hang, and must route every message as the protocol says:
// alice's to bob exactly once and in order, the fuzzed client's (if it logs
// in) under its own name only, never as alice or bob.
//
//	go test -run '^$' -fuzz '^FuzzConnection$' -fuzztime 60s ./chat/replies
//
// More seeds are in testdata/fuzz/FuzzConnection.
func FuzzConnection(f *testing.F) {
	long := strings.Repeat("x", 70<<10) // longer than protocol.MaxLineBytes
	for _, seed := range []string{
		"carol\nbob: hi\nalice: hi\n",
		"alice\nbob: x\n",
		"carol\nbob: before\n" + long + "\nbob: after\n",
		long + "\nbob: x\n",
		"carol\nbob: " + long[:protocol.MaxLineBytes-len("bob: ")] + "\r\nbob: after\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		// Inside the bubble every pipe blocks durably, so synctest.Wait
		// knows when the server is idle, and time (the server's linger
		// timeout) is fake: a run takes no real time waiting.
		synctest.Test(t, func(t *testing.T) { checkConnection(t, input) })
	})
}

func checkConnection(t *testing.T, input []byte) {
	srv := New(Config{})
	l, served := chattest.ServePipe(srv)
	alice, bob := chattest.DialPipe(t, l), chattest.DialPipe(t, l)
	alice.LoginAs("alice")
	bob.LoginAs("bob")
	good := []string{"good-1", "good-2", "good-3", "good-4"}
	alice.Send("bob: " + good[0])

	// The fuzzed client writes its input and half-closes; it reads
	// everything the server sends it, so that it never holds the server up,
	// and closes once the server has closed.
	conn, err := l.Dial()
	require.NoError(t, err)
	wrote, read := make(chan struct{}), make(chan struct{})
	go func() { // ends when the input is written, or the server has closed
		defer close(wrote)
		if _, err := conn.Write(input); err == nil {
			conn.(interface{ CloseWrite() error }).CloseWrite()
		}
	}()
	go func() { // ends when the server closes conn
		defer close(read)
		io.Copy(io.Discard, conn)
		conn.Close()
	}()
	alice.Send("bob: " + good[1]) // while the fuzzed client writes
	alice.Send("bob: " + good[2])
	<-wrote
	alice.Send("bob: " + good[3])
	// Every goroutine is blocked: the server has read and routed every line
	// it will ever read, so what it owes alice and bob is settled.
	synctest.Wait()

	shutdownDone := chattest.ShutdownAsync(srv, context.Background())
	name, want := expected(input)
	wantBob := map[string][]string{"alice": good}
	wantAlice := map[string][]string{}
	if len(want["bob"]) > 0 {
		wantBob[name] = want["bob"]
	}
	if len(want["alice"]) > 0 {
		wantAlice[name] = want["alice"]
	}
	assert.Equal(t, wantBob, deliveries(t, bob), "bob's deliveries, by sender")
	assert.Equal(t, wantAlice, deliveries(t, alice), "alice's deliveries, by sender")
	require.NoError(t, <-shutdownDone)
	require.ErrorIs(t, <-served, ErrServerClosed)
	<-read
}

// expected is what the server owes alice and bob for a client's input: the
// name it logs in as, and the text of each of its messages to each of them,
// in order. It is the protocol read from memory: a first line that is a free
// name ("alice" and "bob" are taken), then the lines that parse as messages,
// until the end of the input or a line too long.
func expected(input []byte) (name string, texts map[string][]string) {
	lines := protocol.NewScanner(bytes.NewReader(input))
	if !lines.Scan() {
		return "", nil
	}
	name, err := protocol.ParseLogin(lines.Text())
	if err != nil || name == "alice" || name == "bob" {
		return "", nil
	}
	texts = map[string][]string{}
	for lines.Scan() {
		msg, err := protocol.ParseMessage(lines.Text())
		if err != nil {
			continue // an error line for the client, and reading goes on
		}
		for _, to := range msg.To {
			if to == "alice" || to == "bob" {
				texts[to] = append(texts[to], msg.Text)
			}
		}
	}
	return name, texts
}

// deliveries reads c until the server closes it, and returns the text of
// every delivery, by sender. Any other line fails the test: alice and bob
// send no bad lines, so they get no error lines.
func deliveries(t *testing.T, c *chattest.Client) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	for {
		line, err := c.ReadLine()
		if err != nil {
			require.True(t, errors.Is(err, io.EOF), "the input ended with %v", err)
			return got
		}
		// A name holds no colon, so the first ": " ends the sender's name.
		rest, isDelivery := strings.CutPrefix(line, "from ")
		from, text, hasColon := strings.Cut(rest, ": ")
		if !isDelivery || !hasColon {
			t.Errorf("not a delivery: %q", line)
			continue
		}
		got[from] = append(got[from], text)
	}
}
