// Package embeddednats runs a NATS server, with JetStream, inside the
// process: what chapter cluster needs when no NATS server is given, and
// what its tests run on.
package embeddednats

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is a NATS server running in this process.
type Server struct {
	ns       *server.Server
	storeDir string
}

// Start starts a NATS server with JetStream on addr (host:port; port 0
// picks a free one). JetStream keeps its files in a new temporary
// directory, which Shutdown removes.
func Start(addr string) (*Server, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("embeddednats: port %q: %w", portText, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	dir, err := os.MkdirTemp("", "achat-nats-")
	if err != nil {
		return nil, err
	}
	ns, err := server.NewServer(&server.Options{
		Host: host, Port: port, JetStream: true, StoreDir: dir,
		NoLog: true, NoSigs: true, // the process's signals are achat's
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("embeddednats: %w", err)
	}
	ns.Start() // serves in goroutines of its own until Shutdown
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("embeddednats: not ready after 10s")
	}
	return &Server{ns: ns, storeDir: dir}, nil
}

// URL is the address clients connect to.
func (s *Server) URL() string { return s.ns.ClientURL() }

// Shutdown stops the server, waits for its goroutines, and removes its
// files.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
	os.RemoveAll(s.storeDir)
}

// Announce writes the line that `achat nats` prints once it listens. The
// programs that start `achat nats` (achat compare, achat bench) read its
// URL back with AnnouncedURL: one format, in one place.
func Announce(w io.Writer, url string) {
	fmt.Fprintf(w, "NATS with JetStream on %s: nodes join with -nats %s\n", url, url)
}

// AnnouncedURL returns the URL in a line that Announce wrote.
func AnnouncedURL(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, "NATS with JetStream on ")
	url, _, found := strings.Cut(rest, ": ")
	return url, ok && found
}
