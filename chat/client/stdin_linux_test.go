package client

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The fact startTyping's comment rests on: a file whose descriptor is in
// blocking mode, as a shell hands stdin to a program, accepts no read
// deadline, even when it is a pipe. (os.Pipe makes non-blocking pipes, so
// this test makes its pipe with the system call, as a shell does.)
func TestABlockingStdinCannotHaveAReadDeadline(t *testing.T) {
	var fds [2]int
	require.NoError(t, syscall.Pipe(fds[:]))
	stdin, other := os.NewFile(uintptr(fds[0]), "stdin"), os.NewFile(uintptr(fds[1]), "other end")
	defer stdin.Close()
	defer other.Close()

	err := stdin.SetReadDeadline(time.Now())
	require.ErrorIs(t, err, os.ErrNoDeadline)
}
