//go:build !linux

package scenarios

import "errors"

// vmHWM is measured on Linux only.
func vmHWM(int) (kB int64, err error) {
	return 0, errors.New("peak memory is measured on Linux only")
}
