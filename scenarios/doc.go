// Package scenarios runs the chapters side by side. A scenario is a small
// text file, one line per step, then what must hold:
//
//	# a slow reader still gets everything accepted before Ctrl-C
//	alice logs in
//	bob logs in
//	bob stops reading
//	alice sends 300000 messages to alice, bob
//	alice has read her 300000th message
//	ctrl-c
//	bob reads until the server closes
//	expect bob received 300000 messages from alice, in order
//	expect the server exits within 5s
//
// Parse reads one; Runner.Run runs it against one chapter as a user would:
// "achat serve" as a process of its own, clients on real TCP connections, a
// real SIGINT. Every line form is in docs/compare.md; "achat compare" runs
// every scenario against every chapter and prints the table.
package scenarios
