// Package broker is the chapter "All together": one reader goroutine per
// connection, one broker goroutine that owns the map of peers, and one writer
// goroutine per peer, connected by channels:
//
//	reader --event--> broker --line--> writer --> client
//
// Only the broker touches the map, so it needs no lock, and a slow client
// slows down nobody but itself: its queue grows instead.
//
// What is still wrong: Shutdown stops the accept loop and returns. Nothing
// waits for the readers, the broker or the writers, so when the program exits
// every message still in the broker's channel or in a writer's queue is
// lost, and in a test the goroutines outlive the server. The next chapter,
// notify, tries to fix that by translating the async-std tutorial's "Clean
// Shutdown" literally.
package broker
