// Package model is the reference model of achat: plain sequential Go, with no
// goroutines and no I/O, that says what a correct chat server owes each
// client.
//
// Its input is a history: what the clients sent, and what the server
// reported through its trace hooks (achat/chat/chattrace), in the order it
// happened. Check returns every way in which what the clients received
// breaks the properties:
//
//   - Delivery: every message accepted before shutdown began reaches every
//     addressed peer that was logged in when it was routed and still reads.
//   - Nothing spurious: no client gets a message that is not addressed to it,
//     or that no client sent.
//   - Exactly once, and in order: no client gets a message twice, or two
//     messages of one sender in the wrong order.
//   - Acceptance: the server accepts exactly what a client sent, in order,
//     parsed the way the wire format says.
//
// The model reads the wire format with its own few lines of parsing, not
// with package protocol, so a parser bug cannot hide behind the model;
// model_test.go pins the two together.
package model
