// Package drain is the chapter "Clean shutdown": Ctrl-C stops the server,
// and every message it accepted is delivered before it exits.
//
// The drain flows downstream, in the order data flows:
//
//	accept loop --conn--> reader --event--> broker --line--> writer --> client
//	(1) listener closed    (2) context        (3) events      (4) queues
//	                           cancelled          closed          closed
//
// Each stage ends when the one before it has, and each channel is closed by
// its single owner after its last send. Rust closes a channel when its last
// sender is dropped; Go does not, so a sync.WaitGroup counts the senders
// (the readers), and whoever waits on it closes the channel.
//
// What is still wrong: the drain has no end but the clients'. A client that
// never reads holds its writer, and Ctrl-C, for ever (the next chapter,
// shutdown, gives the drain a deadline). A client that disconnects keeps its
// name, and the broker keeps queueing for it until shutdown (chapter
// disconnect).
package drain
