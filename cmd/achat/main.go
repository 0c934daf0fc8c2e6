// Command achat runs the chat server of any chapter of the tutorial.
//
//	achat serve [-chapter limits] [-addr 127.0.0.1:8080] [-drain-timeout 10s] [chapter settings]
//	achat client [-addr 127.0.0.1:8080] [-name NAME]
//	achat nats [-addr 127.0.0.1:4222]
//	achat chapters
//	achat compare [-chapters a,b] [-scenarios x,y] [-format text|markdown] [-update]
//
// Connect with `nc 127.0.0.1 8080`: the first line is your name, then
// `bob: hello` sends bob a message. compare runs every scenario of the
// directory scenarios against every chapter (docs/compare.md).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
)

const usage = `usage:
  achat serve [-chapter NAME] [-addr HOST:PORT] [-drain-timeout DURATION] [chapter settings]
              (achat serve -h: every flag, and the chapters that take it)
  achat client [-addr HOST:PORT] [-name NAME]
  achat nats [-addr HOST:PORT]   (a NATS server for chapter cluster's nodes)
  achat chapters
  achat compare [-chapters A,B] [-scenarios X,Y] [-format text|markdown] [-update]
                (achat compare -h: every flag)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return runServe(args[1:], stderr)
	case "client":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		return runClient(ctx, args[1:], stdin, stdout, stderr)
	case "nats":
		return runNATS(args[1:], stdout, stderr)
	case "chapters":
		listChapters(stdout)
		return 0
	case "compare":
		return runCompare(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "achat: unknown command %q\n%s", args[0], usage)
	return 2
}
