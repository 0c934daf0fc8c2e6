package main

import (
	"fmt"
	"syscall"

	"achat/chat/limits"
)

// spareFiles is what achatbench keeps open besides the connections a
// workload holds: the listeners, pipes and log of the server processes, and
// stdio.
const spareFiles = 64

// raiseOpenFiles raises this process's soft limit on open files (ulimit -n)
// to what the chosen workloads hold at once, one descriptor per connection
// (held: idle's, silent's and worst's connections). It can raise the soft
// limit up to the hard limit only; past that it fails before any run. The
// Go runtime already raises the soft limit to the hard one at startup, so
// this mostly checks; it is explicit so that the need is written down. The
// server is a process of its own, with its own limit: a Go server raises
// its own, the seed inherits the shell's soft limit.
func raiseOpenFiles(chosen []workload, held map[string]int) error {
	most, by := 0, ""
	for _, w := range chosen {
		if held[w.name] > most {
			most, by = held[w.name], w.name
		}
	}
	if most == 0 {
		return nil
	}
	need := uint64(most + spareFiles)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max < need {
		return fmt.Errorf("%s needs %d open files, the hard limit is %d: hold fewer connections or raise ulimit -Hn", by, need, lim.Max)
	}
	lim.Cur = need
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

// checkConnLimit fails if a chosen workload would hold more connections of
// chapter limits than -max-conns lets it (maxConns, 0: the chapter's
// default): the server would refuse the ones past it (and silent would
// count them as let go at once).
func checkConnLimit(chosen []workload, targets []target, held map[string]int, maxConns int) error {
	if !hasTarget(targets, "limits") {
		return nil
	}
	if maxConns <= 0 {
		maxConns = limits.DefaultMaxConns
	}
	for _, w := range chosen {
		if held[w.name] > maxConns {
			return fmt.Errorf("%s holds %d connections, and chapter limits refuses those past -max-conns (%d): give -max-conns %d or more",
				w.name, held[w.name], maxConns, held[w.name])
		}
	}
	return nil
}

func hasTarget(targets []target, name string) bool {
	for _, t := range targets {
		if t.name == name {
			return true
		}
	}
	return false
}
