package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"achat/internal/embeddednats"
)

// runNATS runs a NATS server with JetStream, in this process, until SIGINT
// or SIGTERM: the bus of chapter cluster, for a machine without nats-server.
func runNATS(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("nats", flag.ContinueOnError)
	flags.SetOutput(stderr)
	addr := flags.String("addr", "127.0.0.1:4222", "the address to listen on")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	bus, err := embeddednats.Start(*addr)
	if err != nil {
		fmt.Fprintf(stderr, "achat nats: %v\n", err)
		return 1
	}
	embeddednats.Announce(stdout, bus.URL())
	<-ctx.Done()
	bus.Shutdown()
	return 0
}
