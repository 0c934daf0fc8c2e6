// Package slow is the chapter "Slow consumers": what the server holds for
// one client is bounded. Once more than MaxQueued lines wait for a client,
// it is evicted: nothing more is queued for it, its reader is stopped, and
// its writer writes what was queued, then an error line that says why, then
// closes.
//
// The chapters before it give each writer an unbounded queue, as the
// async-std tutorial gives it an unbounded channel: a client that never
// reads makes the server hold everything sent to it, until shutdown. A
// bounded Go channel would not help: once full, a send blocks the broker,
// and with it every client. So the queue stays unbounded, and the broker
// bounds it by checking its length after each push.
//
// Eviction leaves through the door that leaving uses. The broker does not
// close the queue itself (the writer would then close the connection under a
// reader still reading it): it stops the reader with a read deadline in the
// past, and the reader says it left, as any reader whose input ends does.
//
// Shutdown is as in the chapters before: Ctrl-C delivers every message
// accepted, to every client still reading and not evicted.
package slow
