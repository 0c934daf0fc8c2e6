package scenarios

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// vmHWM returns a running process's peak resident set in kB: VmHWM in
// /proc/PID/status, the high-water mark of its own memory.
//
// Not ru_maxrss from wait4, though it needs no process alive: Go starts a
// child with vfork (CLONE_VM), and Linux's exec folds the high-water mark
// of the memory it leaves, the parent's, into the child's ru_maxrss. A
// runner that has read 300,000 messages would see its own peak there.
func vmHWM(pid int) (kB int64, err error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status: the process has exited", pid)
}
