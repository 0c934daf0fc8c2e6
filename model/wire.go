package model

import (
	"slices"
	"strings"
)

// The model's own reading of the wire format. It is deliberately short and
// independent of package protocol; model_test.go checks that they agree.

type parsed struct {
	line string
	to   []string
	text string
}

func parseLogin(line string) string { return strings.TrimSpace(line) }

// parseMessage reads "a, b: text": recipients before the first colon, trimmed,
// without empty names or repeats; the text after it, trimmed.
func parseMessage(line string) (parsed, bool) {
	dest, text, found := strings.Cut(line, ":")
	if !found {
		return parsed{}, false
	}
	var to []string
	for _, name := range strings.Split(dest, ",") {
		name = strings.TrimSpace(name)
		if name != "" && !slices.Contains(to, name) {
			to = append(to, name)
		}
	}
	return parsed{line: line, to: to, text: strings.TrimSpace(text)}, len(to) > 0
}

// parseDelivery reads "from alice: text".
func parseDelivery(line string) (from, text string, ok bool) {
	rest, ok := strings.CutPrefix(line, "from ")
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, ": ")
}
