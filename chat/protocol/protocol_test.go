package protocol

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseLogin(t *testing.T) {
	tests := []struct {
		line string
		want string
		err  error
	}{
		{"alice", "alice", nil},
		{"  alice \r", "alice", nil},
		{"Zoë", "Zoë", nil},
		{"", "", ErrEmptyName},
		{" \t\r", "", ErrEmptyName},
		{strings.Repeat("a", MaxNameBytes), strings.Repeat("a", MaxNameBytes), nil},
		{strings.Repeat("a", MaxNameBytes+1), "", ErrNameTooLong},
		{"al,ice", "", ErrNameBadChar},
		{"alice: hi", "", ErrNameBadChar},
		{"al\x00ice", "", ErrNameBadChar},
		{"al\x1bice", "", ErrNameBadChar},
		{"alice\u200b", "", ErrNameBadChar},
		{"\u202eecila", "", ErrNameBadChar},
		{"al\xffice", "", ErrInvalidUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, err := ParseLogin(tt.line)
			assert.ErrorIs(t, err, tt.err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseMessage(t *testing.T) {
	tests := []struct {
		line string
		want Message
		err  error
	}{
		{"bob: hi", Message{To: []string{"bob"}, Text: "hi"}, nil},
		{"alice, bob: hi there", Message{To: []string{"alice", "bob"}, Text: "hi there"}, nil},
		{"alice,,alice: x", Message{To: []string{"alice"}, Text: "x"}, nil},
		{" bob ,  , carol :  spaced  \r", Message{To: []string{"bob", "carol"}, Text: "spaced"}, nil},
		{"bob: a: b", Message{To: []string{"bob"}, Text: "a: b"}, nil},
		{"bob:", Message{To: []string{"bob"}, Text: ""}, nil},
		{"bob", Message{}, ErrNoColon},
		{"", Message{}, ErrNoColon},
		{": hi", Message{}, ErrNoRecipients},
		{" , ,: hi", Message{}, ErrNoRecipients},
		{"bob: \xff", Message{}, ErrInvalidUTF8},
		{"bob: x\rfrom alice: fake", Message{}, ErrTextBadChar},
		{"bob: a\x1b[2Jb", Message{}, ErrTextBadChar},
		{"bob: a\tb", Message{To: []string{"bob"}, Text: "a\tb"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, err := ParseMessage(tt.line)
			assert.ErrorIs(t, err, tt.err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestErrorLines(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{NameTakenError{"alice"}, `error: name "alice" is taken` + "\n"},
		{ErrNameBadChar, `error: name contains ",", ":", or a control or invisible character` + "\n"},
		{ErrLineTooLong, "error: line too long: the limit is 65536 bytes\n"},
		{UnknownRecipientsError{[]string{"zed", "yan"}}, "error: not logged in: zed, yan\n"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ErrorLine(tt.err))
	}
	_, err := ParseMessage("bob hi")
	assert.Equal(t, `error: no colon after the recipients; expected "name1, name2: text"`+"\n", ErrorLine(err))
	_, err = ParseMessage("bob: \xff")
	assert.Equal(t, `error: line is not valid UTF-8; expected "name1, name2: text"`+"\n", ErrorLine(err))
}

func TestFormatDelivery(t *testing.T) {
	assert.Equal(t, "from alice: hi\n", FormatDelivery("alice", "hi"))
}

func TestScannerBoundsLines(t *testing.T) {
	t.Run("a line of MaxLineBytes with CRLF is read whole", func(t *testing.T) {
		long := strings.Repeat("x", MaxLineBytes)
		sc := NewScanner(strings.NewReader(long + "\r\nnext\n"))
		require.True(t, sc.Scan())
		assert.Equal(t, long, sc.Text())
		require.True(t, sc.Scan())
		assert.Equal(t, "next", sc.Text())
	})
	t.Run("what follows the last newline at the end of the input is not a line", func(t *testing.T) {
		sc := NewScanner(strings.NewReader("bob: one\nbob: tw"))
		require.True(t, sc.Scan())
		assert.Equal(t, "bob: one", sc.Text())
		assert.False(t, sc.Scan(), "a half-sent line is dropped")
		assert.NoError(t, sc.Err())
	})
	t.Run("but not when a read error cut it short", func(t *testing.T) {
		sc := NewScanner(io.MultiReader(strings.NewReader("bob: one\nbob: half a li"),
			iotest.ErrReader(os.ErrDeadlineExceeded)))
		require.True(t, sc.Scan())
		assert.Equal(t, "bob: one", sc.Text())
		assert.False(t, sc.Scan(), "the half line is not a line")
		assert.ErrorIs(t, sc.Err(), os.ErrDeadlineExceeded)
	})
	t.Run("a longer line stops the scanner with ErrTooLong", func(t *testing.T) {
		sc := NewScanner(strings.NewReader(strings.Repeat("x", MaxLineBytes+3) + "\n"))
		assert.False(t, sc.Scan())
		assert.ErrorIs(t, sc.Err(), bufio.ErrTooLong)
		assert.False(t, sc.Scan(), "and for good: not the part of it that was read")
		assert.False(t, sc.ScanBatch())
	})
}

func TestScanBatchTakesEveryCompleteLine(t *testing.T) {
	t.Run("the lines that have arrived, in order, without newlines", func(t *testing.T) {
		sc := NewScanner(strings.NewReader("alice\nbob: one\r\n\nbob: two\n"))
		require.True(t, sc.Scan(), "the login, alone")
		assert.Equal(t, "alice", sc.Text())
		require.True(t, sc.ScanBatch())
		assert.Equal(t, []string{"bob: one", "", "bob: two"}, sc.Batch())
		assert.False(t, sc.ScanBatch())
		assert.NoError(t, sc.Err())
	})
	t.Run("not a half line: it waits for the rest", func(t *testing.T) {
		r, w := io.Pipe()
		sc := NewScanner(r)
		go func() {
			io.WriteString(w, "bob: one\nbob: t")
			io.WriteString(w, "wo\nbob: thr")
			io.WriteString(w, "ee\n")
			w.Close()
		}()
		var got [][]string
		for sc.ScanBatch() {
			got = append(got, sc.Batch())
		}
		assert.Equal(t, [][]string{{"bob: one"}, {"bob: two"}, {"bob: three"}}, got,
			"one batch a write here: a pipe's read returns one write")
		assert.NoError(t, sc.Err())
	})
	t.Run("at most MaxBatchLines lines a batch", func(t *testing.T) {
		// One long line grows the buffer, which then holds many short ones.
		long := strings.Repeat("x", 32<<10)
		sc := NewScanner(strings.NewReader(long + "\n" + strings.Repeat("\n", 1000)))
		require.True(t, sc.Scan())
		var sizes []int
		for sc.ScanBatch() {
			sizes = append(sizes, len(sc.Batch()))
		}
		require.NotEmpty(t, sizes)
		assert.Equal(t, MaxBatchLines, sizes[0])
		assert.LessOrEqual(t, slices.Max(sizes), MaxBatchLines)
		total := 0
		for _, n := range sizes {
			total += n
		}
		assert.Equal(t, 1000, total)
	})
	t.Run("a read error cuts the last line short", func(t *testing.T) {
		sc := NewScanner(io.MultiReader(strings.NewReader("bob: one\nbob: half a li"),
			iotest.ErrReader(os.ErrDeadlineExceeded)))
		require.True(t, sc.ScanBatch())
		assert.Equal(t, []string{"bob: one"}, sc.Batch())
		assert.False(t, sc.ScanBatch(), "the half line is not a line")
		assert.ErrorIs(t, sc.Err(), os.ErrDeadlineExceeded)
	})
	t.Run("a longer line stops it after the lines before it", func(t *testing.T) {
		sc := NewScanner(strings.NewReader("bob: one\n" + strings.Repeat("x", MaxLineBytes+3) + "\n"))
		require.True(t, sc.ScanBatch())
		assert.Equal(t, []string{"bob: one"}, sc.Batch())
		assert.False(t, sc.ScanBatch())
		assert.ErrorIs(t, sc.Err(), bufio.ErrTooLong)
	})
}

// FuzzScanBatch checks that batches are the same lines as Scan reads one at
// a time, however the input is cut into reads.
func FuzzScanBatch(f *testing.F) {
	f.Add([]byte("alice\nbob: hi\r\nbob: two"), uint8(3))
	f.Add([]byte("\n\n\r\nx"), uint8(1))
	f.Fuzz(func(t *testing.T, input []byte, readSize uint8) {
		var want []string
		one := NewScanner(bytes.NewReader(input))
		for one.Scan() {
			want = append(want, one.Text())
		}
		var got []string
		reads := iotest.HalfReader(&chunkedReader{input, int(readSize)%16 + 1})
		batches := NewScanner(reads)
		for batches.ScanBatch() {
			batch := batches.Batch()
			require.NotEmpty(t, batch)
			got = append(got, batch...)
		}
		assert.Equal(t, one.Err(), batches.Err())
		assert.Equal(t, want, got)
	})
}

// chunkedReader returns its input at most size bytes a Read.
type chunkedReader struct {
	input []byte
	size  int
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if len(c.input) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.size)], c.input)
	c.input = c.input[n:]
	return n, nil
}

// FuzzParse checks what every chapter relies on: parsing never panics, and a
// parsed message has distinct, trimmed, non-empty recipients that contain no
// separator, so formatting it again gives back the same message.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"alice", "bob: hi", "alice,,alice: x", " a , b :c", ": x", "x", "\xff: x",
		"a:b:c", "a,b,c,d: \r", "Zoë: ü",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if name, err := ParseLogin(line); err == nil {
			if name != strings.TrimSpace(name) || strings.ContainsAny(name, ",:") ||
				len(name) > MaxNameBytes || !utf8.ValidString(name) {
				t.Fatalf("ParseLogin(%q) = %q, not a valid name", line, name)
			}
		}
		msg, err := ParseMessage(line)
		if err != nil {
			return
		}
		if len(msg.To) == 0 {
			t.Fatalf("ParseMessage(%q) accepted a message without recipients", line)
		}
		seen := map[string]bool{}
		for _, name := range msg.To {
			if name == "" || name != strings.TrimSpace(name) || strings.ContainsAny(name, ",:") {
				t.Fatalf("ParseMessage(%q): bad recipient %q", line, name)
			}
			if seen[name] {
				t.Fatalf("ParseMessage(%q): recipient %q twice", line, name)
			}
			seen[name] = true
		}
		again, err := ParseMessage(strings.Join(msg.To, ", ") + ": " + msg.Text)
		if err != nil || !assert.ObjectsAreEqual(msg, again) {
			t.Fatalf("ParseMessage(%q) = %+v, but its reformatting parses to %+v, %v",
				line, msg, again, err)
		}
	})
}

// WriteLines writes every line, in order, across buffer-fulls; a write error
// is returned, and does not stick to the pooled buffer that the next call
// borrows.
func TestWriteLines(t *testing.T) {
	lines := make([]string, 500) // about 9 KB: more than one buffer-full
	for i := range lines {
		lines[i] = FormatDelivery("alice", strings.Repeat("x", i%7))
	}
	var got strings.Builder
	require.NoError(t, WriteLines(&got, lines))
	assert.Equal(t, strings.Join(lines, ""), got.String())

	assert.ErrorIs(t, WriteLines(failingWriter{}, lines), io.ErrClosedPipe)

	got.Reset()
	require.NoError(t, WriteLines(&got, lines[:3]), "the buffer kept the last call's error")
	assert.Equal(t, strings.Join(lines[:3], ""), got.String())
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// A line of commas names one recipient, and must not cost memory for the
// thousands it might have named: the slice is sized for a few names at most.
func TestARecipientListOfCommasStaysSmall(t *testing.T) {
	line := strings.Repeat(",", MaxLineBytes-20) + "bob: hi"
	msg, err := ParseMessage(line)
	require.NoError(t, err)
	assert.Equal(t, []string{"bob"}, msg.To)
	assert.LessOrEqual(t, cap(msg.To), manyRecipients)
}
