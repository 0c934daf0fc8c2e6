package shutdown

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"

	"achat/chat/protocol"
)

// The rest of the hot path, after parsing (see chat/protocol's benchmarks):
// the broker routing a message (a writer writing a batch is WriteLines, in
// chat/protocol). Run with
//
//	go test -run '^$' -bench . -benchmem ./chat/shutdown/

// BenchmarkRouteTo1 is the pairs workload's message: one recipient.
func BenchmarkRouteTo1(b *testing.B) { benchmarkRoute(b, 1) }

// BenchmarkRouteTo49 is the fanout workload's message: 49 recipients.
func BenchmarkRouteTo49(b *testing.B) { benchmarkRoute(b, 49) }

// benchmarkRoute runs the real broker goroutine and sends it one
// messageEvent of one message per op, addressed to n logged-in peers. Each
// peer's real writer writes to a net.Pipe whose other end is discarded. One
// op is one message: the event's boxing into an `any` (done by a reader in
// the server, here by the benchmark), FormatDelivery, n Pushes, and the
// hand-off on the events channel. The channel holds eventsBuffered events,
// so the broker is at most that many messages behind the loop; the writers
// may be further behind and are waited for after the timer stops.
func benchmarkRoute(b *testing.B, n int) {
	s := New(Config{})
	discarded := loginPeers(b, s, n)
	msgs := []protocol.Message{{To: peerNames(n), Text: "1234567890123456789"}}
	b.ReportAllocs()
	for b.Loop() {
		s.events <- messageEvent{from: "sender", msgs: msgs}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
	close(s.events) // the broker routes what is left, then closes every queue
	<-s.brokerDone
	s.writers.Wait()
	discarded.Wait()
}

// loginPeers starts s's broker and logs in n peers named by peerNames, each
// on a net.Pipe whose client end is read and discarded. The returned group
// is done once every client end has seen its writer close the pipe.
func loginPeers(b *testing.B, s *Server, n int) *sync.WaitGroup {
	go s.broker() // ends when the benchmark closes s.events; it waits for brokerDone
	var discarded sync.WaitGroup
	for _, name := range peerNames(n) {
		client, server := net.Pipe()
		discarded.Add(1)
		// Discards what the peer's writer writes; ends when the writer
		// closes the pipe, after the broker has closed its queue.
		// benchmarkRoute waits for it (discarded).
		go func() {
			defer discarded.Done()
			defer client.Close()
			io.Copy(io.Discard, client)
		}()
		s.events <- loginEvent{name: name, conn: server}
	}
	return &discarded
}

func peerNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("r%d", i+1)
	}
	return names
}
