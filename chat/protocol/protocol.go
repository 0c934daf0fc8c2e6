// Package protocol is achat's wire format, shared by every chapter.
//
// The protocol is line based. A client's first line is its login name. Every
// later line names its recipients before a colon:
//
//	alice, bob: hello
//
// and each recipient that is logged in receives
//
//	from carol: hello
//
// From chapter replies on, the server answers a mistake with a line that
// starts with "error: ", which no delivery does (see ErrorLine):
//
//	error: name "alice" is taken                  (then the connection closes)
//	error: name contains ",", ":", or a control or invisible character   (idem)
//	error: no colon after the recipients; expected "name1, name2: text"
//	error: text contains a control character
//	error: not logged in: zed                     (the others still get it)
//	error: line too long: the limit is 65536 bytes   (then the client is logged out)
//
// and from chapter slow on, to a client that reads too slowly, after what was
// queued for it:
//
//	error: too slow: too many messages waiting for you; disconnected
//
// and from chapter limits on, to a connection that sent no name in time, or
// came when the server was full (then the connection closes):
//
//	error: no name in time: the first line must be your name
//	error: too many connections: try again later
//
// Names and text are trimmed of surrounding white space, so a trailing "\r"
// from telnet is ignored. Recipients are de-duplicated and empty names are
// dropped: "alice,,alice: x" is one message to alice (the async-std tutorial
// delivers it twice).
package protocol

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// MaxLineBytes bounds one line, login or message, without its newline. A
// server reads no further into a longer line, so one client cannot make it
// hold more than this in memory.
const MaxLineBytes = 64 << 10

// MaxNameBytes bounds a login name.
const MaxNameBytes = 32

// MessageForm is how a message line is written; error replies quote it.
const MessageForm = `"name1, name2: text"`

// Errors returned by ParseLogin and ParseMessage. ParseMessage wraps its
// errors with MessageForm, so that the error line a client gets says what
// was expected; errors.Is still finds them.
var (
	ErrEmptyName    = errors.New("name is empty")
	ErrNameTooLong  = fmt.Errorf("name is longer than %d bytes", MaxNameBytes)
	ErrNameBadChar  = errors.New(`name contains ",", ":", or a control or invisible character`)
	ErrTextBadChar  = errors.New("text contains a control character")
	ErrInvalidUTF8  = errors.New("line is not valid UTF-8")
	ErrNoColon      = errors.New("no colon after the recipients")
	ErrNoRecipients = errors.New("no recipient before the colon")
	// ErrLineTooLong is what a server replies before it disconnects a client
	// whose line is longer than MaxLineBytes.
	ErrLineTooLong = fmt.Errorf("line too long: the limit is %d bytes", MaxLineBytes)
	// ErrTooSlow is what a server writes, after what it had queued, to a
	// client it disconnects because it reads too slowly.
	ErrTooSlow = errors.New("too slow: too many messages waiting for you; disconnected")
	// ErrLoginTimeout is what a server writes before it closes a connection
	// whose first line did not come in time.
	ErrLoginTimeout = errors.New("no name in time: the first line must be your name")
	// ErrTooManyConns is what a server writes before it closes a connection
	// that would take it past its limit.
	ErrTooManyConns = errors.New("too many connections: try again later")
)

// NameTakenError refuses a login whose name is already logged in.
type NameTakenError struct{ Name string }

func (e NameTakenError) Error() string { return fmt.Sprintf("name %q is taken", e.Name) }

// UnknownRecipientsError names the recipients of a message that were not
// logged in when it was routed. The message still went to the others.
type UnknownRecipientsError struct{ Names []string }

func (e UnknownRecipientsError) Error() string {
	return "not logged in: " + strings.Join(e.Names, ", ")
}

// ErrorLine is the line a server sends a client about err, newline included:
//
//	error: name "alice" is taken
//
// Every reply from the server that is not a delivery starts with "error: ",
// which no delivery ("from ...") does.
func ErrorLine(err error) string {
	return "error: " + err.Error() + "\n"
}

// Message is a parsed message line: who it is for and what it says.
type Message struct {
	To   []string // distinct, non-empty, in the order first named
	Text string
}

// ParseLogin returns the name a login line carries, or why it is not one.
func ParseLogin(line string) (string, error) {
	if !utf8.ValidString(line) {
		return "", ErrInvalidUTF8
	}
	name := strings.TrimSpace(line)
	if err := checkName(name); err != nil {
		return "", err
	}
	return name, nil
}

func checkName(name string) error {
	switch {
	case name == "":
		return ErrEmptyName
	case len(name) > MaxNameBytes:
		return ErrNameTooLong
	case strings.ContainsFunc(name, isForbiddenInName):
		return ErrNameBadChar
	}
	return nil
}

// isForbiddenInName: a separator, a control character, or an invisible
// formatting one (a zero-width space, a right-to-left override): "alice"
// followed by a zero-width space would look like alice on every screen.
func isForbiddenInName(r rune) bool {
	return r == ',' || r == ':' || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}

// isForbiddenInText: a control character but tab. A carriage return in the
// middle of a text would let "from carol: x\rfrom alice: hi" show on a
// terminal as a line from alice.
func isForbiddenInText(r rune) bool {
	return r != '\t' && unicode.IsControl(r)
}

// ParseMessage parses "dest1, dest2: text". Everything after the first colon
// is the text, colons included.
func ParseMessage(line string) (Message, error) {
	if !utf8.ValidString(line) {
		return Message{}, badMessage(ErrInvalidUTF8)
	}
	dest, text, found := strings.Cut(line, ":")
	if !found {
		return Message{}, badMessage(ErrNoColon)
	}
	to := recipients(dest)
	if len(to) == 0 {
		return Message{}, badMessage(ErrNoRecipients)
	}
	text = strings.TrimSpace(text)
	if strings.ContainsFunc(text, isForbiddenInText) {
		return Message{}, ErrTextBadChar
	}
	return Message{To: to, Text: text}, nil
}

func badMessage(err error) error {
	return fmt.Errorf("%w; expected %s", err, MessageForm)
}

// recipients splits "alice, bob,,alice" into [alice bob].
func recipients(dest string) []string {
	// Sized once for the names a line usually has, not doubled up to them;
	// capped, because a line of 64 KiB of commas names nobody.
	to := make([]string, 0, min(strings.Count(dest, ",")+1, manyRecipients))
	var seen map[string]bool // the names in to, once there are manyRecipients
	for name := range strings.SplitSeq(dest, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if seen == nil && len(to) == manyRecipients {
			seen = make(map[string]bool, 2*manyRecipients)
			for _, n := range to {
				seen[n] = true
			}
		}
		if seen != nil {
			if seen[name] {
				continue
			}
			seen[name] = true
		} else if slices.Contains(to, name) {
			continue
		}
		to = append(to, name)
	}
	return to
}

// manyRecipients is where recipients switches from a linear search, cheaper
// for the few names a line usually has, to a map. A linear search alone is
// quadratic: one 64 KiB line of 13,000 distinct names took half a second to
// parse (BenchmarkParseMessageWorstCase), and a client could send one after
// another.
const manyRecipients = 16

// FormatDelivery is the line a recipient receives, newline included.
func FormatDelivery(from, text string) string {
	return "from " + from + ": " + text + "\n"
}

// WriteLines writes lines to w, each already ending in "\n", through a
// buffer, so that a batch of short lines costs one write system call per
// buffer-full, not one per line. The buffer is borrowed from a pool for the
// one call: a writer whose client is idle holds none.
func WriteLines(w io.Writer, lines []string) error {
	buf := writeBuffers.Get().(*bufio.Writer)
	buf.Reset(w)
	defer func() {
		buf.Reset(nil) // the pooled buffer must not keep w alive
		writeBuffers.Put(buf)
	}()
	for _, line := range lines {
		if _, err := buf.WriteString(line); err != nil {
			return err
		}
	}
	return buf.Flush()
}

// writeBuffers are WriteLines' buffers, 4 KiB each.
var writeBuffers = sync.Pool{New: func() any { return bufio.NewWriter(nil) }}
