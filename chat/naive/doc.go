// Package naive is the first chapter: a chat server with no broker. Each
// connection has one goroutine, its reader, and a reader delivers a message
// by writing it straight into the recipients' connections, found in a map
// that a mutex guards.
//
// It works, and it is short. What is wrong with it:
//
//   - A slow recipient stalls its senders: a reader writes while it holds the
//     lock, so once one client stops reading and its buffers fill up, every
//     reader that sends anything waits for it.
//   - Ctrl-C drops work: Shutdown closes the listener and returns. Readers
//     keep running, and whatever a reader has not written yet when the
//     program exits is lost.
//   - A client that disconnects keeps its name for good.
//
// The next chapter, broker, gives the map to a single goroutine and gives
// each client a writer with its own queue.
package naive
