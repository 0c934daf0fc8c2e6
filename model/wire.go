package model

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The model's own reading of the wire format, and its own copy of the error
// lines a server sends. It is deliberately short and independent of package
// protocol; model_test.go checks that the two agree.

type parsed struct {
	line string
	to   []string
	text string
}

// maxLine is the longest line a server reads; longer ones end its reading.
const maxLine = 64<<10 + 1 // 64 KiB, and room for a "\r"

// maxName is the longest login name, in bytes.
const maxName = 32

// The error lines of the wire format, without their newline.
const (
	errPrefix      = "error: "
	expected       = `; expected "name1, name2: text"`
	errNoColon     = errPrefix + "no colon after the recipients" + expected
	errNoRecipient = errPrefix + "no recipient before the colon" + expected
	errNotUTF8Msg  = errPrefix + "line is not valid UTF-8" + expected
	errControl     = errPrefix + "text contains a control character"
	errTooLong     = errPrefix + "line too long: the limit is 65536 bytes"
	errTooSlow     = errPrefix + "too slow: too many messages waiting for you; disconnected"
	errNotUTF8Name = errPrefix + "line is not valid UTF-8"
	errEmptyName   = errPrefix + "name is empty"
	errLongName    = errPrefix + "name is longer than 32 bytes"
	errBadNameChar = errPrefix + `name contains ",", ":", or a control or invisible character`
	// chapter limits
	errLoginTimeout = errPrefix + "no name in time: the first line must be your name"
	errTooManyConns = errPrefix + "too many connections: try again later"
)

func errNameTaken(name string) string { return fmt.Sprintf("%sname %q is taken", errPrefix, name) }
func errNotLoggedIn(names []string) string {
	return errPrefix + "not logged in: " + strings.Join(names, ", ")
}

func isErrorLine(line string) bool { return strings.HasPrefix(line, errPrefix) }

// parseLogin returns the name a login line asks for, and the error line that
// refuses it if it is not a name.
func parseLogin(line string) (name, refusal string) {
	if len(line) > maxLine {
		return "", errTooLong
	}
	if !utf8.ValidString(line) {
		return "", errNotUTF8Name
	}
	name = strings.TrimSpace(line)
	switch {
	case name == "":
		return "", errEmptyName
	case len(name) > maxName:
		return "", errLongName
	case strings.ContainsFunc(name, func(r rune) bool {
		return r == ',' || r == ':' || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
	}):
		return "", errBadNameChar
	}
	return name, ""
}

// parseMessage reads "a, b: text": recipients before the first colon, trimmed,
// without empty names or repeats; the text after it, trimmed. A line that is
// not a message gets the error line returned as refusal.
func parseMessage(line string) (p parsed, refusal string) {
	if len(line) > maxLine {
		return parsed{}, errTooLong
	}
	if !utf8.ValidString(line) {
		return parsed{}, errNotUTF8Msg
	}
	dest, text, found := strings.Cut(line, ":")
	if !found {
		return parsed{}, errNoColon
	}
	var to []string
	for _, name := range strings.Split(dest, ",") {
		name = strings.TrimSpace(name)
		if name != "" && !slices.Contains(to, name) {
			to = append(to, name)
		}
	}
	if len(to) == 0 {
		return parsed{}, errNoRecipient
	}
	text = strings.TrimSpace(text)
	if strings.ContainsFunc(text, func(r rune) bool { return r != '\t' && unicode.IsControl(r) }) {
		return parsed{}, errControl
	}
	return parsed{line: line, to: to, text: text}, ""
}

// parseDelivery reads "from alice: text".
func parseDelivery(line string) (from, text string, ok bool) {
	rest, ok := strings.CutPrefix(line, "from ")
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, ": ")
}
