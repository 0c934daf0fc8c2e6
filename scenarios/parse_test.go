package scenarios

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func parse(t *testing.T, text string) (Scenario, error) {
	t.Helper()
	return Parse("07-test.scenario", strings.NewReader(text))
}

func TestParseReadsEveryForm(t *testing.T) {
	sc, err := parse(t, `# what it shows,
# on two lines
server drain deadline 1s
server max conns 50
server login timeout 500ms
server write timeout 2s
server max queued 4,096
server max queued bytes 256_000
server file limit 64
# not the title: settings came before

zed connects
alice logs in
bob tries to log in
impostor tries to log in as alice
alice sends 300,000 messages to alice, bob
alice sends 2000 messages to bob, alice, 500 at a time
alice sends 1 message to bob
alice sends the line "bob: \xff"
bob sends 100 MB without a newline
bob stops reading
bob stops sending
zed disconnects
alice has read her 300000th message
bob has read his 2nd message
alice reads until the server closes
alice sends 10 messages of 1,000 bytes to bob, alice, 5 at a time
alice sends 1 message of 16 bytes to bob
500 silent clients connect
the silent clients disconnect
ctrl-c
expect bob received 300_000 messages from alice, in order
expect bob received the same messages as alice
expect impostor received a line starting with "error: name"
expect zed was disconnected
expect zed, bob were disconnected
expect every silent client was disconnected within 5s
expect bob is logged in
expect the server exits within 5s
expect the server exits with status 1 within 500ms
expect the server's peak memory is under 50 MB
expect the server logs "messages not delivered"
`)
	require.NoError(t, err)
	assert.Equal(t, "test", sc.Name)
	assert.Equal(t, "what it shows, on two lines", sc.Title)
	assert.Equal(t, Settings{
		DrainTimeout: time.Second, MaxConns: 50, LoginTimeout: 500 * time.Millisecond,
		WriteTimeout: 2 * time.Second, MaxQueued: 4096, MaxQueuedBytes: 256_000, FileLimit: 64,
	}, sc.Settings)
	var actions []action
	for _, s := range sc.Steps {
		actions = append(actions, s.action)
	}
	assert.Equal(t, []action{
		connect{client: "zed"},
		login{client: "alice", name: "alice", must: true},
		login{client: "bob", name: "bob"},
		login{client: "impostor", name: "alice"},
		sendMessages{client: "alice", n: 300_000, to: []string{"alice", "bob"}},
		sendMessages{client: "alice", n: 2000, to: []string{"bob", "alice"}, window: 500},
		sendMessages{client: "alice", n: 1, to: []string{"bob"}},
		sendLine{client: "alice", line: "bob: \xff"},
		sendBlob{client: "bob", mb: 100},
		stopReading{"bob"},
		stopSending{"bob"},
		disconnect{"zed"},
		waitRead{client: "alice", n: 300_000},
		waitRead{client: "bob", n: 2},
		readToEnd{"alice"},
		sendMessages{client: "alice", n: 10, size: 1000, to: []string{"bob", "alice"}, window: 5},
		sendMessages{client: "alice", n: 1, size: 16, to: []string{"bob"}},
		crowdConnect{n: 500},
		crowdDisconnect{},
		ctrlC{},
	}, actions)
	var checks []check
	for _, e := range sc.Expects {
		checks = append(checks, e.check)
	}
	assert.Equal(t, []check{
		receivedInOrder{client: "bob", from: "alice", n: 300_000},
		receivedSame{client: "bob", other: "alice"},
		receivedLine{client: "impostor", prefix: "error: name"},
		wasDisconnected{"zed"},
		wereDisconnected{names: []string{"zed", "bob"}},
		crowdDisconnected{within: 5 * time.Second},
		isLoggedIn{"bob"},
		exits{status: anyStatus, within: 5 * time.Second},
		exits{status: 1, within: 500 * time.Millisecond},
		peakMemory{mb: 50},
		logs{text: "messages not delivered"},
	}, checks)
	assert.Equal(t, 32, sc.Expects[0].Line)
	assert.Equal(t, "expect bob received 300_000 messages from alice, in order", sc.Expects[0].Text)
}

func TestParseRejectsABadLineWithItsNumberAndWhatWasExpected(t *testing.T) {
	const start = "alice logs in\n"
	for _, tc := range []struct{ name, text, err string }{
		{"an unknown step", start + "alice log in\nexpect alice is logged in\n",
			`07-test.scenario:2: expected "<name> connects", "<name> connects to node <N>", ` +
				`"<name> logs in", "<name> logs in on node <N>", "<name> tries to log in", ` +
				`"<name> tries to log in on node <N>", "<name> tries to log in as <name>", ` +
				`"<name> tries to log in as <name> on node <N>", ` +
				`"<name> keeps trying to log in on node <N> for <duration>", ` +
				`"<name> sends <N> messages to <names>, <N> at a time", ` +
				`"<name> sends <N> messages to <names>", ` +
				`"<name> sends <N> messages of <N> bytes to <names>, <N> at a time", ` +
				`"<name> sends <N> messages of <N> bytes to <names>", ` +
				`"<name> sends the line <text>", "<name> sends <N> MB without a newline", ` +
				`"<name> stops reading", "<name> stops sending", "<name> disconnects", ` +
				`"<name> has read her <N>th message", "<name> has read <N> messages from <name>", ` +
				`"<name> reads until the server closes", ` +
				`"<N> silent clients connect", "the silent clients disconnect", "ctrl-c", "ctrl-c node <N>", ` +
				`"node <N> is killed" or "node <N> starts again"; got "alice log in"`},
		{"a misspelt step: the forms that start the same", start + "alice sends 3 mesages to bob\n",
			`07-test.scenario:2: expected "<name> sends <N> messages to <names>, <N> at a time", ` +
				`"<name> sends <N> messages to <names>", ` +
				`"<name> sends <N> messages of <N> bytes to <names>, <N> at a time", ` +
				`"<name> sends <N> messages of <N> bytes to <names>", "<name> sends the line <text>" ` +
				`or "<name> sends <N> MB without a newline"; got "alice sends 3 mesages to bob"`},
		{"a misspelt crowd", start + "500 silent client connect\n",
			`07-test.scenario:2: expected "<N> silent clients connect"; got "500 silent client connect"`},
		{"a misspelt crowd expectation", start + "500 silent clients connect\n" +
			"expect every silent clients was disconnected within 5s\n",
			`07-test.scenario:3: expected "expect every silent client was disconnected within <duration>"; ` +
				`got "expect every silent clients was disconnected within 5s"`},
		{"a misspelt expectation", start + "expect the server exit within 5s\n",
			`07-test.scenario:2: expected "expect the server exits within <duration>", ` +
				`"expect the server exits with status <N> within <duration>" or "expect the server logs <text>"; ` +
				`got "expect the server exit within 5s"`},
		{"a misspelt setting", "server drain timeout 1s\n",
			`07-test.scenario:1: expected "server drain deadline <duration>"; got "server drain timeout 1s"`},
		{"a window without its sender among the recipients", start + "alice sends 10 messages to bob, 5 at a time\n",
			`07-test.scenario:2: alice sends 5 at a time, and waits for its own copies: it must be a recipient`},
		{"a window of sized messages without its sender among the recipients",
			start + "alice sends 10 messages of 100 bytes to bob, 5 at a time\n",
			`07-test.scenario:2: alice sends 5 at a time, and waits for its own copies: it must be a recipient`},
		{"messages too small for their numbers", start + "alice sends 10 messages of 15 bytes to bob\n",
			`07-test.scenario:2: expected messages of 16 bytes or more, for their numbers; got 15`},
		{"a setting twice", "server max conns 5\nserver max conns 6\n",
			`07-test.scenario:2: expected "server max conns <N>" once; got it again`},
		{"no file limit", "server file limit 0\n",
			`07-test.scenario:1: expected a number above 0; got "0"`},
		{"silent clients that never connected disconnect", start + "the silent clients disconnect\n",
			`07-test.scenario:2: expected "<N> silent clients connect" before "the silent clients disconnect"`},
		{"an expectation about silent clients that never connected",
			start + "expect every silent client was disconnected within 5s\n",
			`07-test.scenario:2: expected "<N> silent clients connect" before ` +
				`"expect every silent client was disconnected within 5s"`},
		{"clients that never were, disconnected", start + "expect alice, bob were disconnected\n",
			`07-test.scenario:2: expected "bob connects", "bob logs in" or "bob tries to log in" before bob does anything`},
		{"no messages", start + "alice sends 0 messages to alice\n",
			`07-test.scenario:2: expected a number above 0; got "0"`},
		{"a bad duration", "server drain deadline 5\n",
			`07-test.scenario:1: expected a duration like 5s or 500ms; got "5"`},
		{"a bad exit status", start + "ctrl-c\nexpect the server exits with status 1,0 within 5s\n",
			`07-test.scenario:3: expected an exit status like 0 or 1; got "1,0"`},
		{"a bad quoted text", start + `alice sends the line "\q"` + "\n",
			`07-test.scenario:2: expected a quoted text like "hello" (escapes as in Go: "\xff"); got "\q"`},
		{"two lines in one", start + `alice sends the line "a\nb"` + "\n",
			`07-test.scenario:2: expected one line, without "\n"; got "a\nb"`},
		{"names without commas", start + "alice sends 1 message to bob carol\n",
			`07-test.scenario:2: expected names separated by commas, like "alice, bob"; got "bob carol"`},
		{"the as a name", "the logs in\n",
			`07-test.scenario:1: expected a name other than "the"; got "the"`},
		{"a client that has not connected", start + "bob stops reading\n",
			`07-test.scenario:2: expected "bob connects", "bob logs in" or "bob tries to log in" before bob does anything`},
		{"an expectation about a client that never was", start + "expect bob is logged in\n",
			`07-test.scenario:2: expected "bob connects", "bob logs in" or "bob tries to log in" before bob does anything`},
		{"a setting after a step", start + "server drain deadline 1s\n",
			`07-test.scenario:2: expected the server's settings before the first step; got a setting after "alice logs in"`},
		{"a step after an expectation", start + "expect alice is logged in\nctrl-c\n",
			`07-test.scenario:3: expected an "expect ..." line: the steps come before the expectations; got "ctrl-c"`},
		{"an exit without ctrl-c", start + "expect the server exits within 5s\n",
			`07-test.scenario:2: expected a "ctrl-c" step before "expect the server exits within 5s": ` +
				`the time to exit counts from it`},
		{"a line that names no node, among several", "server nodes 2\n" + start,
			`07-test.scenario:2: expected a line that names its node ("ctrl-c node 2", ` +
				`"alice logs in on node 1", "expect node 2 exits ..."): this scenario has 2 nodes`},
		{"a node that is not there", "server nodes 2\nalice logs in on node 3\n",
			`07-test.scenario:2: expected a node from 1 to 2 ("server nodes 2"); got node 3`},
		{"a node in a scenario of one", start + "ctrl-c node 2\n",
			`07-test.scenario:2: expected a node from 1 to 1 ("server nodes 1"); got node 2`},
		{"a node started again that was not stopped", "server nodes 2\nnode 2 starts again\n",
			`07-test.scenario:2: expected "ctrl-c node 2" or "node 2 is killed" before "node 2 starts again"`},
		{"a node started again twice", "server nodes 2\nctrl-c node 2\nnode 2 starts again\nnode 2 starts again\n",
			`07-test.scenario:4: expected "ctrl-c node 2" or "node 2 is killed" before "node 2 starts again"`},
		{"a node's exit without its ctrl-c", "server nodes 2\nctrl-c node 1\nexpect node 2 exits within 5s\n",
			`07-test.scenario:3: expected a "ctrl-c node 2" step before "expect node 2 exits within 5s": ` +
				`the time to exit counts from it`},
		{"a node's exit after a kill", "server nodes 2\nnode 2 is killed\nexpect node 2 exits within 5s\n",
			`07-test.scenario:3: expected a "ctrl-c node 2" step before "expect node 2 exits within 5s": ` +
				`the time to exit counts from it`},
		{"nothing expected", "# a comment\n" + start,
			`07-test.scenario:3: expected an "expect ..." line before the end of the file`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.text)
			require.Error(t, err)
			assert.Equal(t, tc.err, err.Error())
		})
	}
}

func TestParseReadsTheLinesOfSeveralNodes(t *testing.T) {
	sc, err := parse(t, `# two nodes
server nodes 2
zed connects to node 2
alice logs in on node 1
impostor tries to log in as alice on node 2
bob tries to log in on node 2
alice has read 10 messages from bob
ctrl-c node 2
node 2 starts again
node 1 is killed
alice keeps trying to log in on node 2 for 20s
expect node 2 exits within 5s
expect node 2 exits with status 0 within 5s
expect node 1 logs "listening"
`)
	require.NoError(t, err)
	assert.Equal(t, 2, sc.Settings.Nodes)
	assert.Empty(t, sc.Settings.flags(), "the runner starts the nodes: no flag says how many")
	var actions []action
	for _, s := range sc.Steps {
		actions = append(actions, s.action)
	}
	assert.Equal(t, []action{
		connect{client: "zed", node: 2},
		login{client: "alice", name: "alice", must: true, node: 1},
		login{client: "impostor", name: "alice", node: 2},
		login{client: "bob", name: "bob", node: 2},
		waitRead{client: "alice", n: 10, from: "bob"},
		ctrlC{node: 2},
		restartNode{node: 2},
		killNode{node: 1},
		keepTrying{client: "alice", name: "alice", node: 2, within: 20 * time.Second},
	}, actions)
	var checks []check
	for _, e := range sc.Expects {
		checks = append(checks, e.check)
	}
	assert.Equal(t, []check{
		exits{node: 2, status: anyStatus, within: 5 * time.Second},
		exits{node: 2, status: 0, within: 5 * time.Second},
		logs{node: 1, text: "listening"},
	}, checks)
}

// Each setting is a flag of achat serve, but the file limit, which is not
// one: the runner sets it.
func TestSettingsAreFlags(t *testing.T) {
	assert.Empty(t, Settings{FileLimit: 64}.flags())
	assert.Equal(t, []string{
		"-drain-timeout", "1s", "-max-conns", "50", "-login-timeout", "500ms", "-write-timeout", "1m0s",
		"-max-queued", "4096", "-max-queued-bytes", "256000",
	}, Settings{
		DrainTimeout: time.Second, MaxConns: 50, LoginTimeout: 500 * time.Millisecond,
		WriteTimeout: time.Minute, MaxQueued: 4096, MaxQueuedBytes: 256_000, FileLimit: 64,
	}.flags())
}

func TestParseNamesAScenarioAfterItsFile(t *testing.T) {
	for file, want := range map[string]string{
		"01-slow-reader.scenario":       "slow-reader",
		"scenarios/10-x-y.scenario":     "x-y",
		"taken-name.scenario":           "taken-name",
		"v2-taken-name.scenario":        "v2-taken-name",
		"dir/no-number-here.scenario":   "no-number-here",
		"007-three-digits.scenario":     "three-digits",
		"01-only-the-first.scenario.md": "only-the-first.scenario.md",
	} {
		assert.Equal(t, want, shortName(file), file)
	}
}

func TestTheScenarioFilesParse(t *testing.T) {
	all, err := All()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(all), 13)
	seen := map[string]bool{}
	for _, sc := range all {
		assert.False(t, seen[sc.Name], "two scenarios named %s", sc.Name)
		seen[sc.Name] = true
		assert.NotEmpty(t, sc.Title, "%s has no comment at the top", sc.File)
	}
	selected, err := Select(all, []string{"taken-name", "slow-reader"})
	require.NoError(t, err)
	assert.Equal(t, "slow-reader", selected[0].Name, "Select keeps the files' order")
	_, err = Select(all, []string{"no-such"})
	assert.ErrorContains(t, err, `no scenario "no-such" (have slow-reader, `)
}
