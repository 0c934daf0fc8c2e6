// Package replies is the chapter "Answering mistakes": every refused name
// and every bad line gets an error line, as the protocol package documents,
// and a client that asks to log in waits for the broker's verdict before
// anything else it sent is read.
//
// An answer goes the way data goes, never against it: an error line for a
// logged-in client goes through the broker to its writer, the only
// goroutine that writes to its connection. The one answer that flows back,
// the login verdict, goes on a channel with room for it, sent once, so
// that the broker never waits for a reader:
//
//	reader --loginEvent{verdict}--> broker
//	reader <--------verdict-------- broker  (buffered: the broker never blocks)
//	reader --replyEvent--> broker --queue--> writer --> client
//
// A reader that waits for the verdict reads no line under a name that may
// be refused (in the chapters before, it could, for a line or two).
//
// Shutdown and leaving are as in the chapters before. What is still wrong:
// a client that does not read makes its queue grow without bound until the
// drain deadline (the next chapter, slow consumers).
package replies
