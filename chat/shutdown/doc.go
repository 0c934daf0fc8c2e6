// Package shutdown is the chapter "A deadline for the drain": Ctrl-C
// delivers every message accepted, as in chapter drain, and Shutdown(ctx)
// returns when ctx ends, whatever the clients do, as net/http's does.
//
// When the deadline passes, Shutdown closes every connection the server
// holds. Every blocked Read and Write then fails, so each goroutine of the
// drain ends at once; each writer logs how many messages it could not
// deliver. To close every connection the server must know them all: the
// accept loop records each one, and whichever goroutine uses a connection
// last forgets it as it closes it.
//
// The drain itself flows downstream, as in chapter drain:
//
//	accept loop --conn--> reader --event--> broker --line--> writer --> client
//	(1) listener closed    (2) context        (3) events      (4) queues
//	                           cancelled          closed          closed
//
// What is still wrong: a client that disconnects keeps its name, and the
// broker keeps queueing for it until shutdown (the next chapter, disconnect).
package shutdown
