// Package disconnect is the chapter "Handling disconnection": a client that
// leaves frees its name at once, its writer delivers what was already routed
// to it, and messages to it are dropped from then on. It is also the chapter
// where the server answers mistakes: every refused name and every bad line
// gets an error line, as the protocol package documents.
//
// Leaving flows downstream too, one connection at a time:
//
//	reader --leaveEvent--> broker --closes the queue--> writer --> client
//	(input ended)          (name freed)                 (writes what is queued,
//	                                                     then closes)
//
// The broker knows each connection by an id, not by its name: once alice
// has left, a new connection may log in as alice, and what the broker hears
// about the old connection must never touch the new one.
//
// A reader that asks to log in waits for the broker's verdict before it
// reads another line, so a refused client never speaks under a name it was
// refused (in the chapters before, it could, for a line or two).
//
// Shutdown is as in the chapter before: Ctrl-C delivers every message
// accepted, to every client still reading. What is still wrong: a client that
// does not read makes its queue grow without bound until the drain deadline
// (the next chapter, slow consumers).
package slow
