package main

import (
	"fmt"
	"syscall"
)

// spareFiles is what achatbench keeps open besides idle clients: the
// listeners, pipes and log of the server processes, and stdio.
const spareFiles = 64

// raiseOpenFiles raises this process's soft limit on open files (ulimit -n)
// to what idle needs, one descriptor per client, if idle is chosen. It can
// raise the soft limit up to the hard limit only; past that it fails before
// any run. The Go runtime already raises the soft limit to the hard one at
// startup, so this mostly checks; it is explicit so that the need is
// written down. The server is a process of its own, with its own limit: a
// Go server raises its own, the seed inherits the shell's soft limit.
func raiseOpenFiles(chosen []workload, idleClients int) error {
	if !includes(chosen, "idle") {
		return nil
	}
	need := uint64(idleClients + spareFiles)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max < need {
		return fmt.Errorf("idle needs %d open files, the hard limit is %d: lower -idle-clients or raise ulimit -Hn", need, lim.Max)
	}
	lim.Cur = need
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

func includes(chosen []workload, name string) bool {
	for _, w := range chosen {
		if w.name == name {
			return true
		}
	}
	return false
}
