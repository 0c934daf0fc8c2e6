//go:build !linux

package bench

import (
	"errors"
	"net"
)

// unreadBytes is measured on Linux only.
func unreadBytes(net.Conn) (int, error) {
	return 0, errors.New("unread bytes are measured on Linux only")
}
