package scenarios

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A Scenario is one parsed scenario file: the server's settings, steps run
// in order, then expectations checked in order.
type Scenario struct {
	Name     string   // "slow-reader": the file name without its number and extension
	File     string   // "01-slow-reader.scenario"
	Title    string   // the comment at the top of the file
	Settings Settings // the "server ..." lines
	Steps    []Step
	Expects  []Expect
}

// Settings are what the server is started with: each is a flag of achat
// serve, but FileLimit, which is the process's RLIMIT_NOFILE, and Nodes,
// how many servers the run starts (see nodes.go). A zero field
// is not set: the server's default, or the runner's file limit.
type Settings struct {
	DrainTimeout   time.Duration // "server drain deadline": -drain-timeout
	MaxConns       int           // "server max conns": -max-conns
	LoginTimeout   time.Duration // "server login timeout": -login-timeout
	WriteTimeout   time.Duration // "server write timeout": -write-timeout
	MaxQueued      int           // "server max queued": -max-queued
	MaxQueuedBytes int           // "server max queued bytes": -max-queued-bytes
	FileLimit      int           // "server file limit": soft and hard RLIMIT_NOFILE
	Nodes          int           // "server nodes": how many processes to run (0: one)
}

// flags returns the flags of achat serve that s sets, in a fixed order.
func (s Settings) flags() []string {
	var flags []string
	add := func(name string, value any, set bool) {
		if set {
			flags = append(flags, "-"+name, fmt.Sprint(value))
		}
	}
	add("drain-timeout", s.DrainTimeout, s.DrainTimeout > 0)
	add("max-conns", s.MaxConns, s.MaxConns > 0)
	add("login-timeout", s.LoginTimeout, s.LoginTimeout > 0)
	add("write-timeout", s.WriteTimeout, s.WriteTimeout > 0)
	add("max-queued", s.MaxQueued, s.MaxQueued > 0)
	add("max-queued-bytes", s.MaxQueuedBytes, s.MaxQueuedBytes > 0)
	return flags
}

// A Step is one thing a client or the user at the server's terminal does.
type Step struct {
	Line   int
	Text   string
	action action
}

// An Expect is one "expect ..." line: something the run must show.
type Expect struct {
	Line  int
	Text  string
	check check
}

// A form is one kind of line, written as the error messages show it:
// "<name> sends <N> messages to <names>". Its regexp is made from that text,
// so the two cannot disagree.
type form struct {
	syntax string
	re     *regexp.Regexp
	build  func(args []string) (any, error) // a setting, an action or a check
}

// placeholders are what may stand in a form for a part of the line.
var placeholders = map[string]string{
	"<name>":     `([A-Za-z][A-Za-z0-9_-]*)`,
	"<names>":    `(.+)`,
	"<N>":        `([0-9][0-9,_]*)`,
	"<N>th":      `([0-9][0-9,_]*)(?:st|nd|rd|th)`,
	"<duration>": `(\S+)`,
	"<text>":     `(".*")`,
}

// synonyms are the words a line may write in place of a form's word, so that
// "1 message" and "his 2nd message" read as English.
var synonyms = map[string]string{
	"messages": `messages?`,
	"message":  `messages?`,
	"her":      `(?:her|his|their)`,
}

func newForm(syntax string, build func(args []string) (any, error)) form {
	var parts []string
	for _, word := range strings.Fields(syntax) {
		word, comma := strings.CutSuffix(word, ",") // "<name>," is a name, then a comma
		part := regexp.QuoteMeta(word)
		switch {
		case placeholders[word] != "":
			part = placeholders[word]
		case synonyms[word] != "":
			part = synonyms[word]
		}
		if comma {
			part += ","
		}
		parts = append(parts, part)
	}
	re := regexp.MustCompile(`^` + strings.Join(parts, `\s+`) + `$`)
	return form{syntax: syntax, re: re, build: build}
}

// setting is what a "server ..." line builds: what it sets, and its form,
// which may stand once in a file.
type setting struct {
	syntax string
	set    func(*Settings)
}

// durationSetting and countSetting make the form of a setting whose value is
// a duration or a number, and which sets field.
func durationSetting(syntax string, field func(*Settings) *time.Duration) form {
	return newForm(syntax, func(a []string) (any, error) {
		d, err := parseDuration(a[0])
		return setting{syntax, func(s *Settings) { *field(s) = d }}, err
	})
}

func countSetting(syntax string, field func(*Settings) *int) form {
	return newForm(syntax, func(a []string) (any, error) {
		n, err := parseCount(a[0])
		return setting{syntax, func(s *Settings) { *field(s) = n }}, err
	})
}

var settingForms = []form{
	durationSetting("server drain deadline <duration>", func(s *Settings) *time.Duration { return &s.DrainTimeout }),
	countSetting("server max conns <N>", func(s *Settings) *int { return &s.MaxConns }),
	durationSetting("server login timeout <duration>", func(s *Settings) *time.Duration { return &s.LoginTimeout }),
	durationSetting("server write timeout <duration>", func(s *Settings) *time.Duration { return &s.WriteTimeout }),
	countSetting("server max queued <N>", func(s *Settings) *int { return &s.MaxQueued }),
	countSetting("server max queued bytes <N>", func(s *Settings) *int { return &s.MaxQueuedBytes }),
	countSetting("server file limit <N>", func(s *Settings) *int { return &s.FileLimit }),
	countSetting("server nodes <N>", func(s *Settings) *int { return &s.Nodes }),
}

var stepForms = []form{
	newForm("<name> connects", func(a []string) (any, error) {
		return connect{client: a[0]}, nil
	}),
	newForm("<name> connects to node <N>", func(a []string) (any, error) {
		n, err := parseCount(a[1])
		return connect{client: a[0], node: n}, err
	}),
	newForm("<name> logs in", func(a []string) (any, error) {
		return login{client: a[0], name: a[0], must: true}, nil
	}),
	newForm("<name> logs in on node <N>", func(a []string) (any, error) {
		n, err := parseCount(a[1])
		return login{client: a[0], name: a[0], must: true, node: n}, err
	}),
	newForm("<name> tries to log in", func(a []string) (any, error) {
		return login{client: a[0], name: a[0]}, nil
	}),
	newForm("<name> tries to log in on node <N>", func(a []string) (any, error) {
		n, err := parseCount(a[1])
		return login{client: a[0], name: a[0], node: n}, err
	}),
	newForm("<name> tries to log in as <name>", func(a []string) (any, error) {
		return login{client: a[0], name: a[1]}, nil
	}),
	newForm("<name> tries to log in as <name> on node <N>", func(a []string) (any, error) {
		n, err := parseCount(a[2])
		return login{client: a[0], name: a[1], node: n}, err
	}),
	newForm("<name> keeps trying to log in on node <N> for <duration>", func(a []string) (any, error) {
		n, err := parseCount(a[1])
		if err != nil {
			return nil, err
		}
		d, err := parseDuration(a[2])
		return keepTrying{client: a[0], name: a[0], node: n, within: d}, err
	}),
	// Before the form without a window: "<names>" would take the window in.
	newForm("<name> sends <N> messages to <names>, <N> at a time", func(a []string) (any, error) {
		n, err := parseCount(a[1])
		if err != nil {
			return nil, err
		}
		window, err := parseCount(a[3])
		if err != nil {
			return nil, err
		}
		to, err := parseNames(a[2])
		if err != nil {
			return nil, err
		}
		send := sendMessages{client: a[0], n: n, to: to, window: window}
		return send, senderAmongRecipients(send)
	}),
	newForm("<name> sends <N> messages to <names>", func(a []string) (any, error) {
		n, err := parseCount(a[1])
		if err != nil {
			return nil, err
		}
		to, err := parseNames(a[2])
		return sendMessages{client: a[0], n: n, to: to}, err
	}),
	// Before the form without a window, for the same reason.
	newForm("<name> sends <N> messages of <N> bytes to <names>, <N> at a time", func(a []string) (any, error) {
		send, err := sizedMessages(a)
		if err != nil {
			return nil, err
		}
		if send.window, err = parseCount(a[4]); err != nil {
			return nil, err
		}
		return send, senderAmongRecipients(send)
	}),
	newForm("<name> sends <N> messages of <N> bytes to <names>", func(a []string) (any, error) {
		return sizedMessages(a)
	}),
	newForm("<name> sends the line <text>", func(a []string) (any, error) {
		line, err := parseText(a[1])
		if err == nil && strings.Contains(line, "\n") {
			err = fmt.Errorf(`expected one line, without "\n"; got %s`, a[1])
		}
		return sendLine{client: a[0], line: line}, err
	}),
	newForm("<name> sends <N> MB without a newline", func(a []string) (any, error) {
		n, err := parseCount(a[1])
		return sendBlob{client: a[0], mb: n}, err
	}),
	newForm("<name> stops reading", func(a []string) (any, error) {
		return stopReading{client: a[0]}, nil
	}),
	newForm("<name> stops sending", func(a []string) (any, error) {
		return stopSending{client: a[0]}, nil
	}),
	newForm("<name> disconnects", func(a []string) (any, error) {
		return disconnect{client: a[0]}, nil
	}),
	newForm("<name> has read her <N>th message", func(a []string) (any, error) {
		n, err := parseCount(a[1])
		return waitRead{client: a[0], n: n}, err
	}),
	newForm("<name> has read <N> messages from <name>", func(a []string) (any, error) {
		n, err := parseCount(a[1])
		return waitRead{client: a[0], n: n, from: a[2]}, err
	}),
	newForm("<name> reads until the server closes", func(a []string) (any, error) {
		return readToEnd{client: a[0]}, nil
	}),
	newForm("<N> silent clients connect", func(a []string) (any, error) {
		n, err := parseCount(a[0])
		return crowdConnect{n: n}, err
	}),
	newForm("the silent clients disconnect", func([]string) (any, error) { return crowdDisconnect{}, nil }),
	newForm("ctrl-c", func([]string) (any, error) { return ctrlC{}, nil }),
	newForm("ctrl-c node <N>", func(a []string) (any, error) {
		n, err := parseCount(a[0])
		return ctrlC{node: n}, err
	}),
	newForm("node <N> is killed", func(a []string) (any, error) {
		n, err := parseCount(a[0])
		return killNode{node: n}, err
	}),
	newForm("node <N> starts again", func(a []string) (any, error) {
		n, err := parseCount(a[0])
		return restartNode{node: n}, err
	}),
}

// sizedMessages reads "<name> sends <N> messages of <N> bytes to <names>".
func sizedMessages(a []string) (sendMessages, error) {
	n, err := parseCount(a[1])
	if err != nil {
		return sendMessages{}, err
	}
	size, err := parseCount(a[2])
	if err == nil && size < minMessageSize {
		err = fmt.Errorf("expected messages of %d bytes or more, for their numbers; got %d", minMessageSize, size)
	}
	if err != nil {
		return sendMessages{}, err
	}
	to, err := parseNames(a[3])
	return sendMessages{client: a[0], n: n, size: size, to: to}, err
}

// senderAmongRecipients refuses a window whose sender would wait for
// copies it is not sent.
func senderAmongRecipients(a sendMessages) error {
	if !slices.Contains(a.to, a.client) {
		return fmt.Errorf("%s sends %d at a time, and waits for its own copies: it must be a recipient", a.client, a.window)
	}
	return nil
}

var expectForms = []form{
	newForm("expect <name> received <N> messages from <name>, in order", func(a []string) (any, error) {
		n, err := parseCount(a[1])
		return receivedInOrder{client: a[0], n: n, from: a[2]}, err
	}),
	newForm("expect <name> received the same messages as <name>", func(a []string) (any, error) {
		return receivedSame{client: a[0], other: a[1]}, nil
	}),
	newForm("expect <name> received a line starting with <text>", func(a []string) (any, error) {
		prefix, err := parseText(a[1])
		return receivedLine{client: a[0], prefix: prefix}, err
	}),
	newForm("expect <name> was disconnected", func(a []string) (any, error) {
		return wasDisconnected{client: a[0]}, nil
	}),
	newForm("expect <names> were disconnected", func(a []string) (any, error) {
		names, err := parseNames(a[0])
		return wereDisconnected{names: names}, err
	}),
	newForm("expect every silent client was disconnected within <duration>", func(a []string) (any, error) {
		d, err := parseDuration(a[0])
		return crowdDisconnected{within: d}, err
	}),
	newForm("expect <name> is logged in", func(a []string) (any, error) {
		return isLoggedIn{client: a[0]}, nil
	}),
	newForm("expect the server exits within <duration>", func(a []string) (any, error) {
		d, err := parseDuration(a[0])
		return exits{status: anyStatus, within: d}, err
	}),
	newForm("expect node <N> exits within <duration>", func(a []string) (any, error) {
		n, err := parseCount(a[0])
		if err != nil {
			return nil, err
		}
		d, err := parseDuration(a[1])
		return exits{node: n, status: anyStatus, within: d}, err
	}),
	newForm("expect the server exits with status <N> within <duration>", func(a []string) (any, error) {
		return exitsWithStatus(0, a)
	}),
	newForm("expect node <N> exits with status <N> within <duration>", func(a []string) (any, error) {
		n, err := parseCount(a[0])
		if err != nil {
			return nil, err
		}
		return exitsWithStatus(n, a[1:])
	}),
	newForm("expect the server's peak memory is under <N> MB", func(a []string) (any, error) {
		n, err := parseCount(a[0])
		return peakMemory{mb: n}, err
	}),
	newForm("expect the server logs <text>", func(a []string) (any, error) {
		text, err := parseText(a[0])
		return logs{text: text}, err
	}),
	newForm("expect node <N> logs <text>", func(a []string) (any, error) {
		n, err := parseCount(a[0])
		if err != nil {
			return nil, err
		}
		text, err := parseText(a[1])
		return logs{node: n, text: text}, err
	}),
}

// exitsWithStatus reads the status and the duration of "... exits with
// status <N> within <duration>".
func exitsWithStatus(node int, a []string) (any, error) {
	status, err := strconv.Atoi(a[0])
	if err != nil {
		return nil, fmt.Errorf("expected an exit status like 0 or 1; got %q", a[0])
	}
	d, err := parseDuration(a[1])
	return exits{node: node, status: status, within: d}, err
}

// Parse reads a scenario. name is the file's name, for error messages and
// for the scenario's own name. An error names the line and what was
// expected there:
//
//	06-taken-name.scenario:4: expected "<name> logs in" or ...; got "alice log in"
func Parse(name string, r io.Reader) (Scenario, error) {
	p := parser{sc: Scenario{Name: shortName(name), File: name}, settings: map[string]bool{},
		clients: map[string]bool{}, ctrlC: map[int]bool{}, stopped: map[int]bool{}}
	lines := bufio.NewScanner(r)
	for lines.Scan() {
		p.line++
		if err := p.parseLine(strings.TrimSpace(lines.Text())); err != nil {
			return Scenario{}, fmt.Errorf("%s:%d: %w", name, p.line, err)
		}
	}
	if err := lines.Err(); err != nil {
		return Scenario{}, fmt.Errorf("%s: %w", name, err)
	}
	if len(p.sc.Expects) == 0 {
		return Scenario{}, fmt.Errorf(`%s:%d: expected an "expect ..." line before the end of the file`,
			name, p.line+1)
	}
	return p.sc, nil
}

// shortName turns "01-slow-reader.scenario" into "slow-reader".
func shortName(file string) string {
	name := strings.TrimSuffix(file[strings.LastIndex(file, "/")+1:], ".scenario")
	if number, rest, ok := strings.Cut(name, "-"); ok && strings.Trim(number, "0123456789") == "" {
		return rest
	}
	return name
}

// parser holds what the lines so far have said.
type parser struct {
	sc       Scenario
	line     int
	settings map[string]bool // the setting forms seen so far
	clients  map[string]bool // the clients started so far
	crowd    bool            // silent clients connected before
	ctrlC    map[int]bool    // the nodes that took a ctrl-c before (1 for "ctrl-c")
	stopped  map[int]bool    // the nodes stopped, by a ctrl-c or a kill, since they last started
}

func (p *parser) parseLine(text string) error {
	switch {
	case text == "":
		return nil
	case strings.HasPrefix(text, "#"):
		if len(p.sc.Steps) == 0 && len(p.settings) == 0 { // the comment at the top
			p.sc.Title = strings.TrimSpace(p.sc.Title + " " + strings.TrimSpace(text[1:]))
		}
		return nil
	}
	forms := stepForms
	switch {
	case strings.HasPrefix(text, "expect"):
		forms = expectForms
	case strings.HasPrefix(text, "server"):
		forms = settingForms
	}
	built, err := match(forms, text)
	if err != nil {
		return err
	}
	if line, ok := built.(nodeLine); ok {
		if err := p.checkNode(line.atNode()); err != nil {
			return err
		}
	}
	switch b := built.(type) {
	case setting:
		return p.addSetting(b)
	case action:
		return p.addStep(Step{Line: p.line, Text: text, action: b})
	default:
		return p.addExpect(Expect{Line: p.line, Text: text, check: b.(check)})
	}
}

// match returns what the form that text matches builds, or an error that
// lists the forms text comes closest to.
func match(forms []form, text string) (any, error) {
	for _, f := range forms {
		if m := f.re.FindStringSubmatch(text); m != nil {
			if err := checkNames(f, m[1:]); err != nil {
				return nil, err
			}
			return f.build(m[1:])
		}
	}
	var quoted []string
	for _, f := range closest(forms, text) {
		quoted = append(quoted, strconv.Quote(f.syntax))
	}
	return nil, fmt.Errorf("expected %s; got %q", orList(quoted), text)
}

// checkNames refuses "the" as a name: "expect the server ..." must not
// read as a client called "the".
func checkNames(f form, args []string) error {
	i := 0
	for _, word := range strings.Fields(f.syntax) {
		if !strings.HasPrefix(word, "<") {
			continue
		}
		if strings.TrimSuffix(word, ",") == "<name>" && args[i] == "the" {
			return fmt.Errorf(`expected a name other than "the"; got %q`, args[i])
		}
		i++
	}
	return nil
}

// closest returns the forms whose fixed words match most of text's words,
// counted from the start up to the first word that differs.
func closest(forms []form, text string) []form {
	words := strings.Fields(text)
	best, bestScore := forms, 0
	for _, f := range forms {
		score := 0
		for i, w := range strings.Fields(f.syntax) {
			if strings.HasPrefix(w, "<") {
				continue
			}
			if i >= len(words) || words[i] != w {
				break
			}
			score++
		}
		switch {
		case score > bestScore:
			best, bestScore = []form{f}, score
		case score == bestScore && score > 0:
			best = append(best, f)
		}
	}
	return best
}

func orList(items []string) string {
	if len(items) == 1 {
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

func (p *parser) addSetting(s setting) error {
	if len(p.sc.Steps) > 0 {
		return fmt.Errorf("expected the server's settings before the first step; got a setting after %q",
			p.sc.Steps[len(p.sc.Steps)-1].Text)
	}
	if p.settings[s.syntax] {
		return fmt.Errorf("expected %q once; got it again", s.syntax)
	}
	p.settings[s.syntax] = true
	s.set(&p.sc.Settings)
	return nil
}

func (p *parser) addStep(s Step) error {
	if len(p.sc.Expects) > 0 {
		return fmt.Errorf(`expected an "expect ..." line: the steps come before the expectations; got %q`,
			s.Text)
	}
	switch a := s.action.(type) {
	case connect:
		p.clients[a.client] = true
	case login:
		p.clients[a.client] = true
	case keepTrying:
		p.clients[a.client] = true
	case ctrlC:
		p.ctrlC[max(a.node, 1)], p.stopped[max(a.node, 1)] = true, true
	case killNode:
		p.stopped[a.node] = true
	case restartNode:
		if !p.stopped[a.node] {
			return fmt.Errorf(`expected "ctrl-c node %[1]d" or "node %[1]d is killed" before %[2]q`, a.node, s.Text)
		}
		p.stopped[a.node] = false
	case crowdConnect:
		p.crowd = true
	case crowdDisconnect:
		if !p.crowd {
			return fmt.Errorf(`expected "<N> silent clients connect" before %q`, s.Text)
		}
	default:
		if err := p.known(s.action.(clientAction).who()); err != nil {
			return err
		}
	}
	p.sc.Steps = append(p.sc.Steps, s)
	return nil
}

func (p *parser) addExpect(e Expect) error {
	for _, name := range e.check.clients() {
		if err := p.known(name); err != nil {
			return err
		}
	}
	if _, ok := e.check.(crowdDisconnected); ok && !p.crowd {
		return fmt.Errorf(`expected "<N> silent clients connect" before %q`, e.Text)
	}
	if x, ok := e.check.(exits); ok && !p.ctrlC[max(x.node, 1)] {
		ctrlC := "ctrl-c"
		if x.node > 0 {
			ctrlC = fmt.Sprintf("ctrl-c node %d", x.node)
		}
		return fmt.Errorf(`expected a %q step before %q: the time to exit counts from it`, ctrlC, e.Text)
	}
	p.sc.Expects = append(p.sc.Expects, e)
	return nil
}

func (p *parser) known(client string) error {
	if p.clients[client] {
		return nil
	}
	return fmt.Errorf(`expected "%[1]s connects", "%[1]s logs in" or "%[1]s tries to log in" `+
		`before %[1]s does anything`, client)
}

// checkNode refuses a node the scenario does not have, and a line that
// names no node in a scenario of several.
func (p *parser) checkNode(n int) error {
	nodes := max(p.sc.Settings.Nodes, 1)
	switch {
	case n == 0 && nodes > 1:
		return fmt.Errorf(`expected a line that names its node ("ctrl-c node 2", "alice logs in on node 1", "expect node 2 exits ..."): this scenario has %d nodes`, nodes)
	case n > nodes:
		return fmt.Errorf(`expected a node from 1 to %d ("server nodes %d"); got node %d`, nodes, nodes, n)
	}
	return nil
}

// parseCount reads a positive number, with optional separators: 300000,
// 300,000 or 300_000.
func parseCount(s string) (int, error) {
	n, err := strconv.Atoi(strings.NewReplacer(",", "", "_", "").Replace(s))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("expected a number above 0; got %q", s)
	}
	return n, nil
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("expected a duration like 5s or 500ms; got %q", s)
	}
	return d, nil
}

// parseText reads a quoted string, with Go's escapes: "bob: \xff" is a line
// that is not valid UTF-8.
func parseText(s string) (string, error) {
	text, err := strconv.Unquote(s)
	if err != nil {
		return "", fmt.Errorf(`expected a quoted text like "hello" (escapes as in Go: "\xff"); got %s`, s)
	}
	return text, nil
}

var nameRE = regexp.MustCompile(`^` + placeholders["<name>"] + `$`)

// parseNames reads "alice, bob".
func parseNames(s string) ([]string, error) {
	var names []string
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if !nameRE.MatchString(name) {
			return nil, fmt.Errorf(`expected names separated by commas, like "alice, bob"; got %q`, s)
		}
		names = append(names, name)
	}
	return names, nil
}
