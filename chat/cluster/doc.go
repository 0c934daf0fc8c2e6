// Package limits is the chapter "Limits": every resource a client can make
// the server hold has a bound, a clock, or both, and the server keeps its
// promise (every accepted message delivered at Ctrl-C) at each of them.
//
//   - Connections: at most MaxConns at once. One more is accepted, told
//     "error: too many connections: try again later" and closed, at once: it
//     never waits unanswered in the listen backlog, as it would behind
//     netutil.LimitListener.
//   - A connection's first line: it must come within LoginTimeout, or the
//     connection is told so and closed.
//   - What waits for a client: at most MaxQueued lines and MaxQueuedBytes
//     bytes, counted until they are written, or the client is evicted as in
//     chapter slow.
//   - A write: if it makes no progress for WriteTimeout, the server gives up
//     on the client and closes its connection, so an evicted client that
//     never reads is gone within WriteTimeout, not at the drain deadline.
//   - Accept errors: one that a retry can cure (the process is out of file
//     descriptors, say) is logged once and retried with a backoff, as
//     net/http's Serve does; Serve ends only on one that no retry cures.
//
// With those bounds the most the server can hold is a formula of its
// Config (docs/09-limits.md). The new mechanisms are in limits.go; the rest
// of the code is chapter slow's.
package cluster
