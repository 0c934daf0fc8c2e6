package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"achat/chat/client"
)

// Exit codes of "achat client".
const (
	exitOK          = 0
	exitFailed      = 1   // cannot connect, name refused, connection broken
	exitUsage       = 2   // bad flags, as package flag's own programs do
	exitInterrupted = 130 // Ctrl-C: 128 + SIGINT, as a shell reports it
)

// runClient is "achat client": args are the arguments after "client". ctx is
// cancelled by Ctrl-C. It returns the exit code, having printed why on stderr
// if the code is not 0 (and not 130: who pressed Ctrl-C knows why).
func runClient(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("achat client", flag.ContinueOnError)
	flags.SetOutput(stderr)
	addr := flags.String("addr", "127.0.0.1:8080",
		"the server's `host:port`; or several nodes' of a cluster, comma-separated: when one goes away, the client logs in on the next")
	name := flags.String("name", "", "log in as `NAME` (if not given, the client asks for it)")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: achat client [-addr host:port[,host:port...]] [-name NAME]")
		fmt.Fprintln(stderr, "Type \"alice, bob: text\" to send text to alice and bob; Ctrl-D to leave.")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "achat client: unexpected argument %q\n", flags.Arg(0))
		flags.Usage()
		return exitUsage
	}

	err := client.Run(ctx, client.Config{
		Addr:   *addr,
		Name:   *name,
		Stdin:  stdin,
		Stdout: stdout,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	return exitCode(err, stderr)
}

// exitCode maps what client.Run returned to an exit code, and says why on
// stderr.
func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, client.ErrInterrupted):
		return exitInterrupted
	}
	fmt.Fprintf(stderr, "achat client: %v\n", err)
	return exitFailed
}
