// Command achat runs the chapters of achat.
//
// TEMPORARY: this file exists only on the client branch, so that the client
// can be built and tested. The real main.go, with every subcommand, is owned
// elsewhere and calls runClient for "achat client".
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	if len(os.Args) < 2 || os.Args[1] != "client" {
		fmt.Fprintln(os.Stderr, "usage: achat client [-addr host:port] [-name NAME]")
		os.Exit(2)
	}
	code := runClient(ctx, os.Args[2:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
