package model

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The model's own reading of the wire format. It is deliberately short and
// independent of package protocol; model_test.go checks that they agree.

type parsed struct {
	line string
	to   []string
	text string
}

func parseLogin(line string) string { return strings.TrimSpace(line) }

// maxLine is the longest line a server reads; longer ones end its reading.
const maxLine = 64<<10 + 1 // 64 KiB, and room for a "\r"

// parseMessage reads "a, b: text": recipients before the first colon, trimmed,
// without empty names or repeats; the text after it, trimmed. A line that is
// not UTF-8, or is too long, or whose text holds a control character but tab,
// is not a message.
func parseMessage(line string) (parsed, bool) {
	dest, text, found := strings.Cut(line, ":")
	if !found || len(line) > maxLine || !utf8.ValidString(line) {
		return parsed{}, false
	}
	var to []string
	for _, name := range strings.Split(dest, ",") {
		name = strings.TrimSpace(name)
		if name != "" && !slices.Contains(to, name) {
			to = append(to, name)
		}
	}
	text = strings.TrimSpace(text)
	if strings.ContainsFunc(text, func(r rune) bool { return r != '\t' && unicode.IsControl(r) }) {
		return parsed{}, false
	}
	return parsed{line: line, to: to, text: text}, len(to) > 0
}

// parseDelivery reads "from alice: text".
func parseDelivery(line string) (from, text string, ok bool) {
	rest, ok := strings.CutPrefix(line, "from ")
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, ": ")
}
