package protocol

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// Scanner reads a client's lines, one at a time (Scan, as bufio.Scanner
// does), or a batch at a time (ScanBatch): every complete line that has
// arrived. A reader that hands the broker a batch, not a line, pays for one
// channel send, and wakes the broker once, for all the lines that one read
// brought in (docs/performance.md).
//
// A line longer than MaxLineBytes stops the scanner: Scan and ScanBatch
// return false and Err returns bufio.ErrTooLong, and the scanner has buffered
// no more than MaxLineBytes+2 bytes of that line.
//
// A line ends with a newline. What follows the last newline when the input
// ends is not a line, and is dropped: a client that dies in the middle of a
// write leaves the start of a line, and bufio.ScanLines would turn a
// half-sent "alice: hel" into a message. When a read error cuts the input
// short (a read deadline that stops a reader at shutdown), the scanner stops
// with the error.
type Scanner struct {
	lines *bufio.Scanner
	reads *lastError
	batch bool // what the next token is: every complete line, or one
	ended bool // Scan or ScanBatch returned false: they always will
}

// NewScanner returns a Scanner that reads from r.
func NewScanner(r io.Reader) *Scanner {
	s := &Scanner{reads: &lastError{r: r}}
	s.lines = bufio.NewScanner(s.reads)
	// The buffer starts small, because an idle client holds it for as long
	// as it is connected, and doubles when a line does not fit. +2 leaves
	// room for the line's "\r\n".
	s.lines.Buffer(make([]byte, 0, scanStartBytes), MaxLineBytes+2)
	s.lines.Split(s.split)
	return s
}

// scanStartBytes is the size a scanner's buffer starts at: room for a few
// dozen short lines in one read. (bufio's own start, 4 KiB, was a quarter of
// what an idle connection cost: docs/performance.md.)
const scanStartBytes = 1024

// Scan reads the next line; Text returns it.
func (s *Scanner) Scan() bool {
	s.batch = false
	return s.scan()
}

// Text returns the line that Scan read, without its "\n" or "\r\n".
func (s *Scanner) Text() string { return s.lines.Text() }

// ScanBatch waits until at least one line is complete, and then takes every
// complete line that has arrived, up to MaxBatchLines; Batch returns them.
// It reads no more than Scan would: only when no complete line is buffered.
func (s *Scanner) ScanBatch() bool {
	s.batch = true
	return s.scan()
}

// scan is bufio.Scanner's Scan, but once it has returned false it returns
// false again: after ErrTooLong, bufio.Scanner would return the part of the
// long line that it buffered as a line.
func (s *Scanner) scan() bool {
	if s.ended {
		return false
	}
	s.ended = !s.lines.Scan()
	return !s.ended
}

// Batch returns the lines that ScanBatch took, in order, each without its
// "\n" or "\r\n". They share one string, copied from the buffer once.
func (s *Scanner) Batch() []string {
	lines := strings.SplitAfter(s.lines.Text(), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1] // after the last "\n"
	}
	for i, line := range lines {
		lines[i] = dropNewline(line)
	}
	return lines
}

// Err returns the error that stopped the scanner, or nil at the end of the
// input.
func (s *Scanner) Err() error { return s.lines.Err() }

// split is the bufio.SplitFunc behind Scan and ScanBatch.
func (s *Scanner) split(data []byte, atEOF bool) (int, []byte, error) {
	cutShort := atEOF && len(data) > 0 && bytes.IndexByte(data, '\n') < 0
	if cutShort && s.reads.err != nil && !errors.Is(s.reads.err, io.EOF) {
		return 0, nil, s.reads.err // the half line is not a line
	}
	if cutShort {
		return len(data), nil, nil // nor at the end of the input: dropped
	}
	if !s.batch {
		return bufio.ScanLines(data, atEOF)
	}
	if end := batchEnd(data); end > 0 {
		return end, data[:end], nil // the complete lines, MaxBatchLines at most
	}
	return 0, nil, nil // no complete line yet: read more
}

// MaxBatchLines bounds a batch. A batch costs memory for each of its lines
// (a string header in Batch's slice, a message in the reader's), and a
// buffer grown to 64 KiB by one long line could hold 65,536 empty ones.
const MaxBatchLines = 128

// batchEnd returns the length of the first MaxBatchLines complete lines in
// data, or of all of them if there are fewer: 0 if there is none.
func batchEnd(data []byte) int {
	end := 0
	for range MaxBatchLines {
		i := bytes.IndexByte(data[end:], '\n')
		if i < 0 {
			break
		}
		end += i + 1
	}
	return end
}

func dropNewline(line string) string {
	line = strings.TrimSuffix(line, "\n")
	return strings.TrimSuffix(line, "\r")
}

// lastError is a reader that remembers the error of its last Read.
type lastError struct {
	r   io.Reader
	err error
}

func (l *lastError) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.err = err
	return n, err
}
