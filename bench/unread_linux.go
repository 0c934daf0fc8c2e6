package bench

import (
	"errors"
	"net"
	"syscall"
	"unsafe"
)

// unreadBytes is what conn's socket has received and its reader has not
// read: the kernel's count of its receive queue (FIONREAD, which Linux
// calls TIOCINQ for sockets too).
func unreadBytes(conn net.Conn) (int, error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return 0, errors.New("not a socket")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int32
	var errno syscall.Errno
	err = raw.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
	})
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
