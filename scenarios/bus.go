package scenarios

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"

	"achat/internal/embeddednats"
)

// ClusterChapter is the chapter whose nodes need a NATS server: each run
// starts one, `achat nats`, as a process of its own.
const ClusterChapter = "cluster"

// bus is a running `achat nats`.
type bus struct {
	cmd *exec.Cmd
	url string
}

// startBus starts `achat nats` on a free port and waits until it says where
// it listens.
func startBus(achat string) (*bus, error) {
	cmd := exec.Command(achat, "nats", "-addr", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := bufio.NewScanner(out)
	if lines.Scan() {
		if url, ok := embeddednats.AnnouncedURL(lines.Text()); ok {
			return &bus{cmd: cmd, url: url}, nil
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	return nil, fmt.Errorf("achat nats did not say where it listens")
}

// stop stops the NATS server, as Ctrl-C does, and waits for it.
func (b *bus) stop() {
	b.cmd.Process.Signal(os.Interrupt)
	b.cmd.Wait()
}
