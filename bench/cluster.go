package bench

import (
	"bufio"
	"errors"
	"fmt"
	"os/exec"
	"time"

	"achat/internal/embeddednats"
)

// This file measures chapter cluster: pairs with both partners on one node,
// and with the partners on two nodes, on a NATS server of their own; and
// the same pairs as bare NATS publish/subscribe (NATSPairs), the ceiling of
// the bus.

// Cluster starts `achat nats` and nodes nodes of chapter cluster on it, with
// extra flags for achat serve. The Server it returns stands for all of
// them: its Addrs are the nodes' (a traffic workload puts client i on
// Addrs[i % len]), its PID and RSS are the first node's, and Stop stops the
// nodes, then the bus. Its NATS is the bus's URL.
func Cluster(achat string, nodes int, extra []string) (*Server, error) {
	bus, url, err := startBus(achat)
	if err != nil {
		return nil, err
	}
	parts := []*Server{}
	stopAll := func() {
		for _, p := range parts {
			p.Stop()
		}
		bus.Stop()
	}
	for i := range nodes {
		args := append([]string{"serve", "-chapter", "cluster", "-addr", "127.0.0.1:0", "-nats", url}, extra...)
		node, err := StartLogging(fmt.Sprintf("cluster node %d", i+1), exec.Command(achat, args...))
		if err != nil {
			stopAll()
			return nil, err
		}
		parts = append(parts, node)
	}
	name := fmt.Sprintf("cluster, %d nodes", nodes)
	if nodes == 1 {
		name = "cluster, 1 node"
	}
	s := &Server{Name: name, Addr: parts[0].Addr, PID: parts[0].PID,
		NATS: url, exited: make(chan struct{})}
	for _, p := range parts {
		s.Addrs = append(s.Addrs, p.Addr)
	}
	s.interrupt = func() error {
		var errs []error
		for _, p := range parts {
			errs = append(errs, p.Interrupt())
		}
		return errors.Join(errs...)
	}
	s.kill = func() error {
		for _, p := range parts {
			p.kill()
		}
		return bus.kill()
	}
	go func() { // ends when every node has exited, and then the bus
		for _, p := range parts {
			<-p.exited
		}
		bus.Stop()
		close(s.exited)
	}()
	return s, nil
}

// startBus starts `achat nats` on a free port and returns it and its URL.
func startBus(achat string) (*Server, string, error) {
	cmd := exec.Command(achat, "nats", "-addr", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	s, err := startProcess("achat nats", cmd)
	if err != nil {
		return nil, "", err
	}
	lines := bufio.NewScanner(out)
	go s.watch(cmd, nil) // ends when the process has exited; closes exited
	found := make(chan string, 1)
	go func() { // reads the one line achat nats prints
		if lines.Scan() {
			if url, ok := embeddednats.AnnouncedURL(lines.Text()); ok {
				found <- url
			}
		}
	}()
	select {
	case url := <-found:
		return s, url, nil
	case <-time.After(10 * time.Second):
		s.kill()
		<-s.exited
		return nil, "", errors.New("achat nats did not say where it listens within 10 s")
	}
}

// NATS starts `achat nats` alone: the server of NATSPairs.
func NATS(achat string) (*Server, error) {
	bus, url, err := startBus(achat)
	if err != nil {
		return nil, err
	}
	bus.Name, bus.NATS = "bare NATS", url
	return bus, nil
}
