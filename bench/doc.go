// Package bench is achat's load generator: it measures a running chat server
// over loopback TCP, for issue 9's first part (measurement, not optimisation).
//
// Workloads, each against a server given as a *Server:
//
//   - Pairs: clients in pairs, each sending to its partner;
//   - Fanout: one sender, every line addressed to all the other clients;
//   - Drain: lines queued to a client that is not reading, then an interrupt
//     (SIGINT for a process), then the time until the server has exited;
//   - Flood: one client floods a peer that never reads; the figure is the
//     server's peak resident memory (VmHWM in /proc/PID/status);
//   - Idle: many clients log in and stay idle; the figure is the server's
//     resident memory (VmRSS) per connection, and its peak;
//   - Silent: many connections never send a name and keep reading; the
//     figures are the server's VmRSS per connection, how long until it lets
//     them go, and how its VmRSS comes down after;
//   - Worst: a chapter limits server filled to its bounds; the figure is its
//     peak resident memory, beside the formula's bound (WorstCase).
//
// Every line sent carries its send time, in nanoseconds since the start of
// the load generator, so a receiver measures each delivery's latency. Senders
// send as fast as the connection takes lines: latencies are at saturation,
// with whatever is queued in the server counted in.
//
// Every run is bounded: a workload sets a deadline on all its connections,
// and fails with what it got so far when the deadline passes.
package bench
