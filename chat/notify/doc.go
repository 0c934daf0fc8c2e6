// Package notify is the chapter "Clean shutdown" of the async-std tutorial
// (tokio version), translated into Go as literally as it allows: the first
// attempt, bugs included. The seed's text is in
// ../shared/seed/clean-shutdown-chapter.txt.
//
// Its plan is right: stop accepting, notify the readers, wait until they are
// done, close the broker's channel, let the broker drain, exit. Its
// mechanisms are not:
//
//  1. The notification (the seed's Notify::notify_waiters, here a notifier)
//     wakes only the readers waiting for it at that instant. A reader busy
//     with a line misses it and goes on reading: Shutdown waits until that
//     client leaves.
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
// Measured on the seed itself (tokio, completed as literally as its text
// allows): of 300,000 messages routed to a slow reader when Ctrl-C came,
// about 93,000 were never written; a client that never sent its name hung
// it forever. The next chapter, shutdown, fixes all three.
package notify
