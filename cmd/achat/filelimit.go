package main

import (
	"fmt"
	"syscall"

	"achat/chat/limits"
)

// reservedFiles are the descriptors a server needs besides one per
// connection: standard input, output and error, the listener, the poller
// and its wake-up, and room for the one connection it accepts at its limit
// only to refuse it, and for the runtime's own.
const reservedFiles = 32

// fitFileLimit returns the connection limit to run chapter limits with: the
// one asked for (or the default, lowered to fit), if the process's file
// limit leaves a descriptor for every connection, one more to refuse the
// next, and reservedFiles. A server that runs out of descriptors cannot
// accept a connection to say no to it: it leaves it in the listen backlog.
func fitFileLimit(asked int) (int, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return asked, nil // no limit to fit: the accept loop retries if one bites
	}
	fits := int(min(rl.Cur, 1<<30)) - reservedFiles
	switch {
	case fits < 1:
		return 0, fmt.Errorf("the file limit (%d) leaves no descriptor for a connection: raise it (ulimit -n)", rl.Cur)
	case asked == 0:
		return min(limits.DefaultMaxConns, fits), nil
	case asked > fits:
		return 0, fmt.Errorf("-max-conns %d needs %d file descriptors, and the file limit is %d: raise it (ulimit -n) or lower -max-conns",
			asked, asked+reservedFiles, rl.Cur)
	}
	return asked, nil
}
