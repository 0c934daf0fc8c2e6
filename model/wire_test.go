package model

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"pgregory.net/rapid"

	"achat/chat/protocol"
)

// readMessage is how a server reads line: with protocol's scanner, then its
// parser.
func readMessage(line string) (protocol.Message, error) {
	sc := protocol.NewScanner(strings.NewReader(line + "\n"))
	if !sc.Scan() {
		return protocol.Message{}, protocol.ErrLineTooLong
	}
	return protocol.ParseMessage(sc.Text())
}

// readLogin is how a server reads a login line.
func readLogin(line string) (string, error) {
	sc := protocol.NewScanner(strings.NewReader(line + "\n"))
	if !sc.Scan() {
		return "", protocol.ErrLineTooLong
	}
	return protocol.ParseLogin(sc.Text())
}

// wireLine draws lines made of the characters that matter.
func wireLine(t *rapid.T) string {
	line := rapid.StringOfN(rapid.SampledFrom([]rune("ab ,:\r\t\u200b")), 0, 12, -1).Draw(t, "line")
	if rapid.IntRange(0, 9).Draw(t, "bad byte") == 9 {
		line += "\xff"
	}
	if rapid.IntRange(0, 9).Draw(t, "long") == 9 { // about the limit, where the scanner stops
		line += strings.Repeat("x", protocol.MaxLineBytes-len(line)+rapid.IntRange(-2, 2).Draw(t, "over"))
	}
	if rapid.IntRange(0, 9).Draw(t, "long name") == 9 {
		line = strings.Repeat("n", rapid.IntRange(30, 34).Draw(t, "name length"))
	}
	return line
}

// TestModelReadsTheWireLikeProtocol pins the model's parsing, and its copy of
// the error lines, to package protocol's.
func TestModelReadsTheWireLikeProtocol(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		line := wireLine(t)
		want, err := readMessage(line)
		got, refusal := parseMessage(line)
		if (refusal == "") != (err == nil) {
			t.Fatalf("%q: model refusal=%q, protocol err=%v", line, refusal, err)
		}
		if err != nil && refusal != strings.TrimSuffix(protocol.ErrorLine(err), "\n") {
			t.Fatalf("%q: model's error line %q, protocol's %q", line, refusal, protocol.ErrorLine(err))
		}
		if err == nil && (!assert.ObjectsAreEqual(want.To, got.to) || want.Text != got.text) {
			t.Fatalf("%q: model %v %q, protocol %v %q", line, got.to, got.text, want.To, want.Text)
		}
		from, text, ok := parseDelivery(strings.TrimSuffix(protocol.FormatDelivery("al", line), "\n"))
		if !ok || from != "al" || text != line {
			t.Fatalf("%q: FormatDelivery does not read back: %q %q", line, from, text)
		}
	})
}

func TestModelReadsLoginsLikeProtocol(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		line := wireLine(t)
		want, err := readLogin(line)
		name, refusal := parseLogin(line)
		if (refusal == "") != (err == nil) || err == nil && name != want {
			t.Fatalf("%q: model %q %q, protocol %q %v", line, name, refusal, want, err)
		}
		if err != nil && refusal != strings.TrimSuffix(protocol.ErrorLine(err), "\n") {
			t.Fatalf("%q: model's error line %q, protocol's %q", line, refusal, protocol.ErrorLine(err))
		}
	})
}

func TestModelKnowsTheOtherErrorLines(t *testing.T) {
	for model, err := range map[string]error{
		errTooSlow:                         protocol.ErrTooSlow,
		errLoginTimeout:                    protocol.ErrLoginTimeout,
		errTooManyConns:                    protocol.ErrTooManyConns,
		errTooLong:                         protocol.ErrLineTooLong,
		errNameTaken("alice"):              protocol.NameTakenError{Name: "alice"},
		errNotLoggedIn([]string{"a", "b"}): protocol.UnknownRecipientsError{Names: []string{"a", "b"}},
	} {
		assert.Equal(t, protocol.ErrorLine(err), model+"\n")
	}
}
