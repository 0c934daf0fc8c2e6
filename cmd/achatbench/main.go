// Command achatbench measures achat's chapters, the seed's Rust server and an
// echo baseline under the workloads of package bench, and prints a table.
//
//	go build -o bin/achat ./cmd/achat
//	go run ./cmd/achatbench -achat bin/achat -chapter broker,shutdown \
//		-seed seed/target/release/seed -echo -workloads pairs,fanout
//	go run ./cmd/achatbench -achat bin/achat -chapter shutdown \
//		-seed seed/target/release/seed -workloads idle
//	go run ./cmd/achatbench -achat bin/achat -chapter slow,limits \
//		-max-conns 2000 -login-timeout 2s -workloads silent
//	go run ./cmd/achatbench -achat bin/achat -chapter limits \
//		-max-conns 201 -max-queued-bytes 262144 -write-timeout 1m -workloads worst
//
// Each workload gets a fresh server process, so each peak RSS is its own.
// idle and silent hold -idle-clients (10,000) and -silent-clients (2,000)
// connections open at once, so achatbench needs that many open files;
// raiseOpenFiles raises its soft limit.
//
// The settings -max-queued, -max-queued-bytes, -max-conns, -login-timeout
// and -write-timeout, when given, are passed to every chapter with
// -lenient: a chapter that does not have one logs that it ignores it. (So a
// build of achat older than -lenient runs only without them.)
package main

import (
	"cmp"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"achat/bench"
)

// target is a server that can be started once per workload.
type target struct {
	name  string
	echo  bool // routes nothing: runs pairs and fanout only
	nats  bool // bare NATS, no achat: runs pairs only, as bench.NATSPairs
	start func() (*bench.Server, error)
}

type workload struct {
	name string
	run  func(*bench.Server, bench.Config) bench.Result
}

var workloads = []workload{
	{"pairs", bench.Pairs}, {"fanout", bench.Fanout}, {"drain", bench.Drain}, {"flood", bench.Flood},
	{"idle", bench.Idle}, {"silent", bench.Silent}, {"worst", bench.Worst},
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-serve-echo" {
		os.Exit(serveEcho(os.Args[2]))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("achatbench", flag.ContinueOnError)
	flags.SetOutput(stderr)
	achat := flags.String("achat", "", "`path` to a built achat binary, to run its chapters")
	chapters := flags.String("chapter", "shutdown", "comma-separated chapters to run with -achat")
	seed := flags.String("seed", "", "`path` to the seed's built Rust server")
	echo := flags.Bool("echo", false, "run the echo baseline too (pairs and fanout)")
	cluster := flags.Bool("cluster", false,
		"with -achat, run chapter cluster too, on one node and on two (pair partners on different nodes), and the same pairs as bare NATS publish/subscribe (pairs only)")
	names := flags.String("workloads", "pairs,fanout", "comma-separated: pairs, fanout, drain, flood, idle, silent, worst")
	clients := flags.Int("clients", 50, "clients in pairs and fanout")
	messages := flags.Int("messages", 400_000, "deliveries in pairs and fanout")
	drainMessages := flags.Int("drain-messages", 300_000, "lines queued before the drain")
	floodMessages := flags.Int("flood-messages", 2_000_000, "at most this many lines in flood")
	idleClients := flags.Int("idle-clients", 10_000, "idle connections held open in idle")
	silentClients := flags.Int("silent-clients", 2000, "connections that never send a name, in silent")
	silentWait := flags.Duration("silent-wait", 10*time.Second, "in silent, how long to wait for the server to let them go")
	silentWatch := flags.Duration("silent-watch", 5*time.Second, "in silent, how long to watch the server's RSS after they are gone")
	worstClients := flags.Int("worst-clients", 200, "clients filled to their bound in worst (with the flooder, one more connection)")
	floodTime := flags.Duration("flood-time", 10*time.Second, "at most this long in flood")
	timeout := flags.Duration("timeout", 2*time.Minute, "bound on each run")
	var set serverFlags
	flags.IntVar(&set.maxQueued, "max-queued", 0, "achat serve's -max-queued: lines that may wait for a client (0: the chapter's default)")
	flags.IntVar(&set.maxQueuedBytes, "max-queued-bytes", 0, "achat serve's -max-queued-bytes (0: the chapter's default)")
	flags.IntVar(&set.maxConns, "max-conns", 0, "achat serve's -max-conns (0: the chapter's default)")
	flags.DurationVar(&set.loginTimeout, "login-timeout", 0, "achat serve's -login-timeout (0: the chapter's default)")
	flags.DurationVar(&set.writeTimeout, "write-timeout", 0, "achat serve's -write-timeout (0: the chapter's default)")
	runs := flags.Int("runs", 1, "run each workload this many times per server; the median run (by msg/s; by memory for idle, silent and worst) is shown")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	targets := targetsFrom(*achat, *chapters, set, *seed, *echo)
	if *cluster && *achat != "" {
		targets = append(targets, clusterTargets(*achat, set)...)
	}
	chosen, err := chooseWorkloads(*names)
	if err != nil || len(targets) == 0 {
		fmt.Fprintln(stderr, "achatbench: give -achat, -seed or -echo, and known -workloads;", err)
		return 2
	}
	cfg := bench.Config{Clients: *clients, Messages: *messages, Duration: *floodTime, Timeout: *timeout,
		Wait: *silentWait, Watch: *silentWatch,
		Limits: bench.Limits{MaxConns: set.maxConns, MaxQueued: set.maxQueued, MaxQueuedBytes: set.maxQueuedBytes}}
	sizes := map[string]int{"drain": *drainMessages, "flood": *floodMessages}
	held := map[string]int{"idle": *idleClients, "silent": *silentClients, "worst": *worstClients + 1}
	if err := checkConnLimit(chosen, targets, held, set.maxConns); err != nil {
		fmt.Fprintln(stderr, "achatbench:", err)
		return 2
	}
	if err := raiseOpenFiles(chosen, held); err != nil {
		fmt.Fprintln(stderr, "achatbench:", err)
		return 2
	}
	var results []bench.Result
	for _, w := range chosen {
		c := cfg
		if n, ok := sizes[w.name]; ok {
			c.Messages = n
		}
		switch w.name {
		case "idle":
			c.Clients = *idleClients
		case "silent":
			c.Clients = *silentClients
		case "worst":
			c.Clients = *worstClients
		}
		results = append(results, runWorkload(w, targets, c, max(*runs, 1), stderr)...)
	}
	printTable(stdout, results)
	return exitCode(results)
}

func chooseWorkloads(names string) ([]workload, error) {
	var chosen []workload
	for name := range strings.SplitSeq(names, ",") {
		i := indexOf(name)
		if i < 0 {
			return nil, fmt.Errorf("unknown workload %q", name)
		}
		chosen = append(chosen, workloads[i])
	}
	return chosen, nil
}

func indexOf(name string) int {
	for i, w := range workloads {
		if w.name == name {
			return i
		}
	}
	return -1
}

// runWorkload runs w runs times against each target, each run on a fresh
// server, and keeps each target's median run.
func runWorkload(w workload, targets []target, cfg bench.Config, runs int, stderr io.Writer) []bench.Result {
	var results []bench.Result
	for _, t := range targets {
		if !runsAgainst(w, t) {
			continue
		}
		var all []bench.Result
		for i := range runs {
			fmt.Fprintf(stderr, "achatbench: %s against %s, run %d of %d\n", w.name, t.name, i+1, runs)
			all = append(all, runOnce(w, t, cfg))
		}
		results = append(results, median(all))
	}
	return results
}

func runOnce(w workload, t target, cfg bench.Config) bench.Result {
	srv, err := t.start()
	if err != nil {
		return bench.Result{Workload: w.name, Server: t.name, Err: err}
	}
	cfg.Echo = t.echo
	run := w.run
	if t.nats {
		run = bench.NATSPairs
	}
	res := run(srv, cfg)
	if w.name != "drain" { // Drain has interrupted the server and waited
		srv.Stop()
	} else if srv.Wait(time.Second) != nil {
		srv.Stop()
	}
	return res
}

func exitCode(results []bench.Result) int {
	for _, r := range results {
		if r.Err != nil {
			return 1
		}
	}
	return 0
}

// serverFlags are the settings achatbench passes to achat serve; 0 is not
// passed.
type serverFlags struct {
	maxQueued, maxQueuedBytes, maxConns int
	loginTimeout, writeTimeout          time.Duration
}

// args are the settings as achat serve's flags, after -lenient, so that one
// set serves every chapter: a chapter logs each one it does not have, and
// ignores it. Without a setting there is no flag, and no -lenient.
func (f serverFlags) args() []string {
	var args []string
	for _, s := range []struct {
		name string
		set  bool
		v    string
	}{
		{"max-queued", f.maxQueued > 0, strconv.Itoa(f.maxQueued)},
		{"max-queued-bytes", f.maxQueuedBytes > 0, strconv.Itoa(f.maxQueuedBytes)},
		{"max-conns", f.maxConns > 0, strconv.Itoa(f.maxConns)},
		{"login-timeout", f.loginTimeout > 0, f.loginTimeout.String()},
		{"write-timeout", f.writeTimeout > 0, f.writeTimeout.String()},
	} {
		if s.set {
			args = append(args, "-"+s.name, s.v)
		}
	}
	if len(args) == 0 {
		return nil
	}
	return append([]string{"-lenient"}, args...)
}

// runsAgainst reports whether workload w runs against target t. Echo has
// no queue to drain or flood, and no login; worst fills chapter limits'
// bounds, and only that chapter has them all.
func runsAgainst(w workload, t target) bool {
	if t.nats || strings.HasPrefix(t.name, "cluster") {
		return w.name == "pairs"
	}
	switch w.name {
	case "drain", "flood", "idle", "silent":
		return !t.echo
	case "worst":
		return t.name == "limits"
	}
	return true
}

// targetsFrom lists the servers the flags name, chapters first.
func targetsFrom(achat, chapters string, set serverFlags, seed string, echo bool) []target {
	var targets []target
	if achat != "" {
		for ch := range strings.SplitSeq(chapters, ",") {
			args := append([]string{"serve", "-chapter", ch, "-addr", "127.0.0.1:0"}, set.args()...)
			targets = append(targets, target{name: ch, start: func() (*bench.Server, error) {
				return bench.StartLogging(ch, exec.Command(achat, args...))
			}})
		}
	}
	if seed != "" {
		targets = append(targets, target{name: "seed", start: func() (*bench.Server, error) {
			addr, err := bench.FreeAddr()
			if err != nil {
				return nil, err
			}
			return bench.StartListening("seed", exec.Command(seed, addr), addr)
		}})
	}
	if echo {
		targets = append(targets, target{name: "echo", echo: true, start: startEcho})
	}
	return targets
}

// clusterTargets are chapter cluster on one node and on two, each with its
// own NATS server (achat nats), and bare NATS.
func clusterTargets(achat string, set serverFlags) []target {
	return []target{
		{name: "cluster, 1 node", start: func() (*bench.Server, error) { return bench.Cluster(achat, 1, set.args()) }},
		{name: "cluster, 2 nodes", start: func() (*bench.Server, error) { return bench.Cluster(achat, 2, set.args()) }},
		{name: "bare NATS", nats: true, start: func() (*bench.Server, error) { return bench.NATS(achat) }},
	}
}

// startEcho runs the echo baseline as a process of its own, this program
// with -serve-echo, so that it has its own CPU time and RSS as the others do.
func startEcho() (*bench.Server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return bench.StartLogging("echo", exec.Command(self, "-serve-echo", "127.0.0.1:0"))
}

// serveEcho is "achatbench -serve-echo ADDR": it logs its address as
// "achat serve" does, and echoes until SIGINT.
func serveEcho(addr string) int {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	slog.New(slog.NewTextHandler(os.Stderr, nil)).Info("listening", "addr", l.Addr().String())
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt)
	go bench.ServeEcho(l) // ends when the process exits
	<-signals
	return 0
}

// median is the run with the median rate (for idle and silent, the median
// memory per connection; for worst, the median peak); a failed run, if any,
// wins, so that no failure is hidden.
func median(runs []bench.Result) bench.Result {
	for _, r := range runs {
		if r.Err != nil {
			return r
		}
	}
	key := func(r bench.Result) float64 {
		switch r.Workload {
		case "idle", "silent":
			return r.ConnRSSKB
		case "worst":
			return float64(r.PeakRSSKB)
		}
		return r.Rate()
	}
	slices.SortFunc(runs, func(a, b bench.Result) int { return cmp.Compare(key(a), key(b)) })
	return runs[len(runs)/2]
}
