package protocol

import (
	"io"
	"strings"
	"testing"
)

// The hot path of every chapter: a reader parses each line, the broker
// formats each delivery once. Run with
//
//	go test -run '^$' -bench . -benchmem ./chat/protocol/

// sinks keep the compiler from optimising the calls away.
var (
	sinkMessage Message
	sinkString  string
)

func BenchmarkParseMessageOne(b *testing.B) {
	line := "bob: 1234567890123456789"
	for b.Loop() {
		sinkMessage, _ = ParseMessage(line)
	}
}

// BenchmarkParseMessageFanout is the fanout workload's line: 49 recipients.
func BenchmarkParseMessageFanout(b *testing.B) {
	var names []string
	for i := 1; i < 50; i++ {
		names = append(names, "r"+string(rune('0'+i/10))+string(rune('0'+i%10)))
	}
	line := strings.Join(names, ", ") + ": 1234567890123456789"
	for b.Loop() {
		sinkMessage, _ = ParseMessage(line)
	}
}

func BenchmarkParseLogin(b *testing.B) {
	for b.Loop() {
		sinkString, _ = ParseLogin("alice\r")
	}
}

func BenchmarkFormatDelivery(b *testing.B) {
	for b.Loop() {
		sinkString = FormatDelivery("alice", "1234567890123456789")
	}
}

// BenchmarkScanLines is a reader's loop without the network: scan and parse
// 1000 lines from memory.
func BenchmarkScanLines(b *testing.B) {
	input := strings.Repeat("bob: 1234567890123456789\n", 1000)
	b.SetBytes(int64(len(input)))
	for b.Loop() {
		sc := NewScanner(strings.NewReader(input))
		for sc.Scan() {
			sinkMessage, _ = ParseMessage(sc.Text())
		}
	}
}

// BenchmarkScanBatches is BenchmarkScanLines as a reader from chapter broker
// on reads: a batch at a time.
func BenchmarkScanBatches(b *testing.B) {
	input := strings.Repeat("bob: 1234567890123456789\n", 1000)
	b.SetBytes(int64(len(input)))
	for b.Loop() {
		sc := NewScanner(strings.NewReader(input))
		for sc.ScanBatch() {
			for _, line := range sc.Batch() {
				sinkMessage, _ = ParseMessage(line)
			}
		}
	}
}

// BenchmarkParseMessageWorstCase is the most recipients one line can name:
// distinct three-letter names filling MaxLineBytes. A client can send such
// lines one after the other, so parsing one must stay cheap.
func BenchmarkParseMessageWorstCase(b *testing.B) {
	line := lineWithManyRecipients(MaxLineBytes)
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		sinkMessage, _ = ParseMessage(line)
	}
}

// lineWithManyRecipients returns a message line of at most n bytes that names as
// many distinct recipients as fit.
func lineWithManyRecipients(n int) string {
	var sb strings.Builder
	const letters = "abcdefghijklmnopqrstuvwxyz"
	for i := 0; sb.Len()+5 < n-3; i++ {
		sb.WriteByte(letters[i/676%26])
		sb.WriteByte(letters[i/26%26])
		sb.WriteByte(letters[i%26])
		sb.WriteByte(',')
	}
	sb.WriteString(": x")
	return sb.String()
}

// BenchmarkWriteLines64 is a writer's loop body for a batch of 64 delivery
// lines, to io.Discard: 64 WriteStrings and one Flush per op, with a buffer
// borrowed from the pool and given back.
func BenchmarkWriteLines64(b *testing.B) {
	batch := make([]string, 64)
	for i := range batch {
		batch[i] = FormatDelivery("alice", strings.Repeat("x", 19))
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteLines(io.Discard, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/line")
}
