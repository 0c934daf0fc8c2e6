package scenarios

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"achat/internal/testbin"
)

// runner runs the scenarios of these tests against achat, built once by
// TestMain without -race: the server under test need not be slowed down.
// Its patience is the default one: a shorter one made a working server look
// stuck under load (go test ./... on 2 cores). The tests that wait out a
// hang run in parallel, so that their waits overlap.
var runner Runner

func TestMain(m *testing.M) {
	testbin.Main(m, &runner.Binary)
}

// runText parses a scenario and runs it against chapter.
func runText(t *testing.T, chapter, text string) Result {
	t.Helper()
	sc, err := Parse("test.scenario", strings.NewReader(text))
	require.NoError(t, err)
	res := runner.Run(sc, chapter)
	require.NoError(t, res.Err)
	return res
}

// checkOutcomes runs a scenario whose expect lines each say, in a comment
// at the end, whether they pass and the figure they show:
//
//	expect bob received 4 messages from alice, in order  # FAIL lost 1
//
// A figure ending in "…" is a prefix: timings vary.
func checkOutcomes(t *testing.T, chapter, text string) {
	t.Helper()
	var script strings.Builder
	var wants []string
	for line := range strings.Lines(text) {
		expect, want, ok := strings.Cut(line, "  # ")
		if ok && strings.HasPrefix(strings.TrimSpace(expect), "expect ") {
			wants = append(wants, strings.TrimSpace(want))
			line = expect + "\n"
		}
		script.WriteString(line)
	}
	res := runText(t, chapter, script.String())
	require.Nil(t, res.Stuck, "a step got stuck")
	require.Len(t, res.Checks, len(wants))
	for i, c := range res.Checks {
		got := verdict(c.Pass) + " " + c.Figure
		if prefix, ok := strings.CutSuffix(wants[i], "…"); ok {
			assert.True(t, strings.HasPrefix(got, prefix), "%s: got %q, want %q", c.Text, got, wants[i])
		} else {
			assert.Equal(t, wants[i], got, c.Text)
		}
	}
}

// Each expect form, shown able to pass and able to fail, against a chapter
// whose behaviour makes the outcome certain.
func TestEveryExpectationCanFail(t *testing.T) {
	t.Parallel()
	t.Run("received N messages from S, in order", func(t *testing.T) {
		t.Parallel()
		checkOutcomes(t, "shutdown", `
alice logs in
bob logs in
alice sends 3 messages to bob
bob has read his 3rd message
expect bob received 3 messages from alice, in order  # pass 3 in order
expect bob received 4 messages from alice, in order  # FAIL lost 1
expect bob received 2 messages from alice, in order  # FAIL 1 too many
`)
	})
	t.Run("received the same messages as", func(t *testing.T) {
		t.Parallel()
		checkOutcomes(t, "shutdown", `
alice logs in
bob logs in
alice sends 2 messages to alice, bob
alice sends 1 message to bob
alice sends 1 message to alice
alice has read her 3rd message
bob has read his 3rd message
expect bob received the same messages as bob  # pass both got 3
expect alice received the same messages as bob  # FAIL missing 1 bob got, 1 more
`)
	})
	t.Run("received a line starting with", func(t *testing.T) {
		t.Parallel()
		checkOutcomes(t, "shutdown", `
alice logs in
impostor tries to log in as alice
alice sends the line "no colon"
alice sends 1 message to alice
alice has read her 1st message
expect alice received a line starting with "from alice: login check"  # pass got "from alice: login check 1"
expect alice received a line starting with "error: no colon"  # FAIL no error line
expect impostor received a line starting with "error: name"  # FAIL refused silently
expect alice received a line starting with "nothing like it"  # FAIL no "nothing like it" line
`)
	})
	t.Run("was disconnected", func(t *testing.T) {
		t.Parallel()
		checkOutcomes(t, "shutdown", `
alice logs in
impostor tries to log in as alice
expect impostor was disconnected  # pass disconnected
expect alice was disconnected  # FAIL still connected after …
`)
	})
	t.Run("were disconnected", func(t *testing.T) {
		t.Parallel()
		checkOutcomes(t, "shutdown", `
alice logs in
impostor tries to log in as alice
mallory tries to log in as alice
expect impostor, mallory were disconnected  # pass all 2 disconnected
expect impostor, alice were disconnected  # FAIL 1 of 2 still connected after 10s
`)
	})
	t.Run("every silent client was disconnected within", func(t *testing.T) {
		t.Parallel()
		// As many as the server may hold: each waits for the login timeout.
		checkOutcomes(t, "limits", `
server max conns 5
server login timeout 300ms
5 silent clients connect
expect every silent client was disconnected within 10s  # pass all 5 within …
expect every silent client was disconnected within 100ms  # FAIL 5 of 5 still connected after 100ms
`)
		checkOutcomes(t, "shutdown", `
3 silent clients connect
expect every silent client was disconnected within 500ms  # FAIL 3 of 3 still connected after 500ms
`)
	})
	t.Run("is logged in", func(t *testing.T) {
		t.Parallel()
		checkOutcomes(t, "shutdown", `
alice logs in
impostor tries to log in as alice
expect alice is logged in  # pass logged in
expect impostor is logged in  # FAIL refused silently
`)
	})
	t.Run("the server exits within", func(t *testing.T) {
		t.Parallel()
		checkOutcomes(t, "notify", `
zed connects
alice logs in
ctrl-c
expect the server exits within 1s  # FAIL hung > 1s
`)
		checkOutcomes(t, "shutdown", `
alice logs in
alice disconnects
ctrl-c
expect the server exits within 30s  # pass exit 0 in …
`)
	})
	t.Run("the server exits with status", func(t *testing.T) {
		t.Parallel()
		checkOutcomes(t, "shutdown", `
alice logs in
alice disconnects
ctrl-c
expect the server exits with status 0 within 30s  # pass exit 0 in …
expect the server exits with status 1 within 30s  # FAIL exit 0 in …
`)
	})
	t.Run("the server's peak memory is under", func(t *testing.T) {
		t.Parallel()
		checkOutcomes(t, "shutdown", `
alice logs in
expect the server's peak memory is under 1000 MB  # pass peak …
expect the server's peak memory is under 1 MB  # FAIL peak …
`)
	})
	t.Run("the server logs", func(t *testing.T) {
		t.Parallel()
		checkOutcomes(t, "shutdown", `
alice logs in
expect the server logs "msg=listening"  # pass logged "msg=listening"
expect the server logs "no such line"  # FAIL did not log "no such line"
`)
	})
}

func TestAStepThatCannotCompleteFailsTheRun(t *testing.T) {
	t.Parallel()
	t.Run("a wait for messages that do not come", func(t *testing.T) {
		t.Parallel()
		res := runText(t, "shutdown", `
alice logs in
alice sends 1 message to alice
alice has read her 2nd message
expect alice is logged in
`)
		assert.False(t, res.Pass)
		require.NotNil(t, res.Stuck)
		assert.Equal(t, 4, res.Stuck.Line)
		assert.Equal(t, "stuck at 1 of 2", res.Figure)
		assert.Empty(t, res.Checks, "no expectation is checked after a step got stuck")
	})
	t.Run("a login that cannot connect", func(t *testing.T) {
		t.Parallel()
		// 100 silent clients and 64 file descriptors: Accept fails, Serve
		// ends, and the listener is closed. dave, behind the crowd, is
		// answered once it is.
		res := runText(t, "shutdown", `
server file limit 64
100 silent clients connect
dave tries to log in
carol logs in
expect carol is logged in
`)
		assert.False(t, res.Pass)
		require.NotNil(t, res.Stuck)
		assert.Equal(t, 5, res.Stuck.Line)
		assert.Equal(t, "carol could not connect: serve failed: too many open files", res.Figure)
	})
	t.Run("a login that must succeed", func(t *testing.T) {
		t.Parallel()
		res := runText(t, "broker", `
alice logs in
alice logs in
expect alice is logged in
`)
		assert.False(t, res.Pass)
		assert.Equal(t, "alice refused silently", res.Figure)
	})
}

// The key figure of a cell is the first failing expectation's, or the
// first expectation's when all pass.
func TestTheKeyFigureIsTheFirstFailure(t *testing.T) {
	t.Parallel()
	res := runText(t, "shutdown", `
alice logs in
expect alice is logged in
expect the server logs "no such line"
expect the server's peak memory is under 1 MB
`)
	assert.False(t, res.Pass)
	assert.Equal(t, `did not log "no such line"`, res.Figure)
	res = runText(t, "shutdown", `
alice logs in
expect alice is logged in
expect the server logs "msg=listening"
`)
	assert.True(t, res.Pass)
	assert.Equal(t, "logged in", res.Figure)
}

// A client that stops reading really stops: the server's writes to it back
// up, and what it had not read arrives when it reads again.
func TestAClientThatStopsReadingLeavesTheBytesInTheSocket(t *testing.T) {
	t.Parallel()
	const start = `
alice logs in
bob logs in
bob stops reading
alice sends 100000 messages to alice, bob
alice has read her 100000th message
`
	t.Run("not reading, bob gets nearly nothing", func(t *testing.T) {
		t.Parallel()
		res := runText(t, "shutdown", start+"expect bob received 100000 messages from alice, in order\n")
		require.Len(t, res.Checks, 1)
		assert.False(t, res.Checks[0].Pass, "bob read while he was not reading")
		assert.Contains(t, res.Checks[0].Figure, "lost ")
	})
	t.Run("reading again, bob gets it all, and waits for a close that never comes", func(t *testing.T) {
		t.Parallel()
		checkOutcomes(t, "shutdown", start+`bob reads until the server closes
expect bob received 100000 messages from alice, in order  # pass 100,000 in order
expect bob was disconnected  # FAIL still connected after …
`)
	})
	t.Run("after ctrl-c, the server delivers it all and closes", func(t *testing.T) {
		t.Parallel()
		checkOutcomes(t, "shutdown", start+`ctrl-c
bob reads until the server closes
expect bob received 100000 messages from alice, in order  # pass 100,000 in order
expect bob was disconnected  # pass disconnected
`)
	})
}

// The silent clients hold the server's connections until they disconnect:
// then the server has room again, at once.
func TestTheSilentClientsHoldConnectionsUntilTheyDisconnect(t *testing.T) {
	t.Parallel()
	checkOutcomes(t, "limits", `
server max conns 5
server login timeout 1m
5 silent clients connect
alice tries to log in
the silent clients disconnect
bob logs in
expect alice is logged in  # FAIL refused: error: too many connections:…
expect bob is logged in  # pass logged in
`)
}

// A server that does not close the silent clients' connections makes "the
// silent clients disconnect" fail: what comes next may count on their being
// gone. A dial that fails is counted. These run against listeners of the
// test's own, which no chapter is like.
func TestACrowdCountsWhatTheServerDoes(t *testing.T) {
	t.Parallel()
	listen := func(t *testing.T, serve func(net.Conn)) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		var wg sync.WaitGroup
		t.Cleanup(func() { l.Close(); wg.Wait() })
		wg.Go(func() {
			for {
				conn, err := l.Accept()
				if err != nil {
					return
				}
				wg.Go(func() { serve(conn) })
			}
		})
		return l.Addr().String()
	}
	t.Run("a server that closes at the end of the input", func(t *testing.T) {
		t.Parallel()
		var cr crowd
		cr.connect(listen(t, func(c net.Conn) { io.Copy(io.Discard, c); c.Close() }), 20, time.Second)
		assert.Equal(t, 0, cr.hangUp(time.Second))
		late, total, _ := cr.closedWithin(time.Minute)
		assert.Equal(t, []int{0, 20}, []int{late, total})
	})
	t.Run("a server that holds them", func(t *testing.T) {
		t.Parallel()
		held := make(chan struct{})
		var cr crowd
		cr.connect(listen(t, func(c net.Conn) { <-held; c.Close() }), 20, time.Second)
		defer close(held)
		assert.Equal(t, 20, cr.hangUp(200*time.Millisecond))
		late, total, _ := cr.closedWithin(time.Millisecond)
		assert.Equal(t, []int{20, 20}, []int{late, total}, "closed by the client, not by the server")
	})
	t.Run("no server", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		l.Close()
		var cr crowd
		cr.connect(l.Addr().String(), 3, time.Second)
		failed, err := cr.dialFailures()
		assert.Equal(t, 3, failed)
		assert.Equal(t, "connection refused", shortDialError(err, time.Second))
		assert.Equal(t, 0, cr.hangUp(time.Second))
	})
}

// The settings reach the server: as flags, and a file limit as the
// process's RLIMIT_NOFILE. A chapter ignores a flag it does not have.
func TestTheSettingsReachTheServer(t *testing.T) {
	t.Parallel()
	t.Run("the file limit", func(t *testing.T) {
		t.Parallel()
		srv, err := startServer(chapterProgram(runner.Binary, "shutdown", Settings{FileLimit: 100}), Settings{FileLimit: 100})
		require.NoError(t, err)
		defer srv.kill()
		limits, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", srv.cmd.Process.Pid))
		if errors.Is(err, fs.ErrNotExist) {
			t.Skip("no /proc here")
		}
		require.NoError(t, err)
		assert.Regexp(t, `Max open files +100 +100 `, string(limits))
	})
	t.Run("a flag the chapter does not have", func(t *testing.T) {
		t.Parallel()
		checkOutcomes(t, "shutdown", `
server max conns 5
server login timeout 1s
alice logs in
expect the server logs "flags=\"[login-timeout max-conns]\""  # pass logged …
`)
	})
}

// Messages are as long as they are said to be: a line longer than the
// server's limit (64 KiB) is refused.
func TestMessagesOfNBytes(t *testing.T) {
	t.Parallel()
	checkOutcomes(t, "replies", `
alice logs in
bob logs in
alice sends 2 messages of 60,000 bytes to alice, bob, 1 at a time
alice sends 1 message of 70,000 bytes to alice
bob has read his 2nd message
alice reads until the server closes
expect bob received 2 messages from alice, in order  # pass 2 in order
expect alice received a line starting with "error: line too long"  # pass got "error: line too long: the li…"
`)
}

// Figures computed from synthetic inboxes, for the cases a real server does
// not produce on demand.
func TestFigures(t *testing.T) {
	ids := func(from string, seqs ...int) []msgID {
		var out []msgID
		for _, s := range seqs {
			out = append(out, msgID{from, s})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		ids  []msgID
		n    int
		pass bool
		fig  string
	}{
		{"all", ids("a", 0, 1, 2), 3, true, "3 in order"},
		{"lost", ids("a", 0, 2), 3, false, "lost 1"},
		{"twice", ids("a", 0, 1, 1, 2), 3, false, "1 twice"},
		{"out of order", ids("a", 1, 0, 2), 3, false, "1 out of order"},
		{"all three", ids("a", 2, 0, 0), 4, false, "lost 2, 1 twice, 1 out of order"},
		{"others ignored", append(ids("b", 0, 1), ids("a", 0)...), 1, true, "1 in order"},
		{"thousands", nil, 251_846, false, "lost 251,846"},
	} {
		pass, fig := inOrder(tc.ids, "a", tc.n)
		assert.Equal(t, tc.pass, pass, tc.name)
		assert.Equal(t, tc.fig, fig, tc.name)
	}
	pass, fig := same(ids("a", 0, 1), ids("a", 0, 1, 2), "bob")
	assert.Equal(t, []any{false, "missing 1 bob got"}, []any{pass, fig})
	pass, fig = same(ids("a", 0, 1, 2), ids("a", 0), "bob")
	assert.Equal(t, []any{false, "2 bob did not get"}, []any{pass, fig})
	pass, fig = memoryUnder(51_200, 50)
	assert.Equal(t, []any{false, "peak 50 MB"}, []any{pass, fig})
	pass, fig = memoryUnder(12_000, 50)
	assert.Equal(t, []any{true, "peak 12 MB"}, []any{pass, fig})
	assert.True(t, exitMatches(anyStatus, 1))
	assert.False(t, exitMatches(anyStatus, -1), "killed by a signal is not an exit")
	assert.False(t, exitMatches(0, 1))
	assert.Equal(t, "40ms", duration(40*time.Millisecond+300*time.Microsecond))
	assert.Equal(t, "1.2s", duration(1234*time.Millisecond))
	assert.Equal(t, "-1,000", count(-1000))
	assert.Equal(t, "all 500 within 1.1s", crowdFigure(0, 500, 0, 1080*time.Millisecond, 5*time.Second, ""))
	assert.Equal(t, "12 of 500 still connected after 5s (3 could not connect: connection refused)",
		crowdFigure(12, 500, 3, time.Second, 5*time.Second, "connection refused"))
}

// A message's text is as long as it is asked to be, its number included.
func TestMessageSize(t *testing.T) {
	padding := strings.Repeat("x", 1000)
	for _, seq := range []int{0, 7, 12345, 1234567890} {
		line := appendMessage(nil, "alice, bob", seq, padding, 1000)
		to, text, _ := strings.Cut(strings.TrimSuffix(string(line), "\n"), ": ")
		assert.Equal(t, "alice, bob", to)
		assert.Len(t, text, 1000, seq)
		assert.True(t, strings.HasPrefix(text, fmt.Sprintf("#%d x", seq)), text[:20])
	}
	line := appendMessage(nil, "bob", 17, pad, 0)
	assert.Equal(t, "bob: #17 "+pad+"\n", string(line), "without a size, the padding is all there")
}
