// Package notify is the chapter "Clean shutdown" of the async-std tutorial
// (tokio version), translated into Go as literally as it allows: the first
// attempt, bugs included. The seed itself, that chapter completed in
// Rust as literally as its text allows, is in seed/ at the repository's
// root (make seed builds it).
//
// Its plan is right: stop accepting, notify the readers, wait until they are
// done, close the broker's channel, let the broker drain, exit. Its
// mechanisms are not:
//
//  1. The notification (the seed's Notify::notify_waiters, here a notifier)
//     reaches only the readers registered for it at that instant, and the
//     reader registers anew on each turn of its loop, as the seed creates
//     its Notified anew inside select!. A reader busy with a line holds no
//     registration, misses it, and goes on reading: Shutdown waits until
//     that client leaves.
//  2. Writers are started and never waited for (the seed's
//     spawn_and_log_error): Shutdown returns, the program exits, and what is
//     still queued is lost. Each writer also stops as soon as its reader
//     returns, choosing at random between "stop" and "next message" (the
//     seed's select! over its oneshot): it can drop its queue even before the
//     program exits.
//  3. The login line is read before the select, where the notification cannot
//     reach: a client that connects and never sends its name makes Shutdown
//     wait forever.
//
// On the seed itself, achat compare (its seed column) shows bugs 2 and 3:
// messages routed to a slow reader lost at Ctrl-C, and a client that never
// sent its name hanging it. The next chapter, shutdown, fixes all three.
package notify
