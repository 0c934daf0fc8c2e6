// Package disconnect is the chapter "Handling disconnection": a client that
// leaves frees its name at once, its writer delivers what was already routed
// to it, and messages to it are dropped from then on.
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
// Shutdown is as in the chapter before: Ctrl-C delivers every message
// accepted, to every client still reading, within its deadline. What is
// still wrong: a login is not waited for, so a second login under a taken
// name can get a line accepted under that name before the broker refuses
// it, by closing the connection without a word; and no mistake gets an
// answer (the next chapter, replies).
package disconnect
