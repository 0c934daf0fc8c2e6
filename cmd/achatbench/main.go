// Command achatbench measures achat's chapters, the seed's Rust server and an
// echo baseline under the workloads of package bench, and prints a table.
//
//	go build -o bin/achat ./cmd/achat
//	go run ./cmd/achatbench -achat bin/achat -chapter broker,shutdown \
//		-seed /tmp/seed-tokio/target/release/seed-tokio -echo -workloads pairs,fanout
//	go run ./cmd/achatbench -achat bin/achat -chapter shutdown \
//		-seed /tmp/seed-tokio/target/release/seed-tokio -workloads idle
//
// Each workload gets a fresh server process, so each peak RSS is its own.
// idle holds -idle-clients connections (10,000) open at once, so achatbench
// needs that many open files; raiseOpenFiles raises its soft limit.
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
	start func() (*bench.Server, error)
}

type workload struct {
	name string
	run  func(*bench.Server, bench.Config) bench.Result
}

var workloads = []workload{
	{"pairs", bench.Pairs}, {"fanout", bench.Fanout}, {"drain", bench.Drain}, {"flood", bench.Flood},
	{"idle", bench.Idle},
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
	names := flags.String("workloads", "pairs,fanout", "comma-separated: pairs, fanout, drain, flood, idle")
	clients := flags.Int("clients", 50, "clients in pairs and fanout")
	messages := flags.Int("messages", 400_000, "deliveries in pairs and fanout")
	drainMessages := flags.Int("drain-messages", 300_000, "lines queued before the drain")
	floodMessages := flags.Int("flood-messages", 2_000_000, "at most this many lines in flood")
	idleClients := flags.Int("idle-clients", 10_000, "idle connections held open in idle")
	floodTime := flags.Duration("flood-time", 10*time.Second, "at most this long in flood")
	timeout := flags.Duration("timeout", 2*time.Minute, "bound on each run")
	maxQueued := flags.Int("max-queued", 0, "passed to achat serve for chapter slow: lines that may wait for a client (0: the chapter's default)")
	runs := flags.Int("runs", 1, "run each workload this many times per server; the median run (by msg/s) is shown")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	targets := targetsFrom(*achat, *chapters, *maxQueued, *seed, *echo)
	chosen, err := chooseWorkloads(*names)
	if err != nil || len(targets) == 0 {
		fmt.Fprintln(stderr, "achatbench: give -achat, -seed or -echo, and known -workloads;", err)
		return 2
	}
	cfg := bench.Config{Clients: *clients, Messages: *messages, Duration: *floodTime, Timeout: *timeout}
	sizes := map[string]int{"drain": *drainMessages, "flood": *floodMessages}
	if err := raiseOpenFiles(chosen, *idleClients); err != nil {
		fmt.Fprintln(stderr, "achatbench:", err)
		return 2
	}
	var results []bench.Result
	for _, w := range chosen {
		c := cfg
		if n, ok := sizes[w.name]; ok {
			c.Messages = n
		}
		if w.name == "idle" {
			c.Clients = *idleClients
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
		if t.echo && (w.name == "drain" || w.name == "flood" || w.name == "idle") {
			continue // echo has no queue to drain or flood, and no login
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
	res := w.run(srv, cfg)
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

// targetsFrom lists the servers the flags name, chapters first.
func targetsFrom(achat, chapters string, maxQueued int, seed string, echo bool) []target {
	var targets []target
	if achat != "" {
		for ch := range strings.SplitSeq(chapters, ",") {
			args := []string{"serve", "-chapter", ch, "-addr", "127.0.0.1:0"}
			if ch == "slow" && maxQueued > 0 {
				args = append(args, "-max-queued", strconv.Itoa(maxQueued))
			}
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

// median is the run with the median rate (for idle, the median memory per
// connection); a failed run, if any, wins, so that no failure is hidden.
func median(runs []bench.Result) bench.Result {
	for _, r := range runs {
		if r.Err != nil {
			return r
		}
	}
	key := func(r bench.Result) float64 {
		if r.Workload == "idle" {
			return r.ConnRSSKB
		}
		return r.Rate()
	}
	slices.SortFunc(runs, func(a, b bench.Result) int { return cmp.Compare(key(a), key(b)) })
	return runs[len(runs)/2]
}
