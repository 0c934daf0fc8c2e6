package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"text/tabwriter"

	"achat/chat/broker"
	"achat/chat/disconnect"
	"achat/chat/naive"
	"achat/chat/notify"
	"achat/chat/shutdown"
)

// server is what every chapter's *Server is.
type server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
}

// chapter is one runnable chapter of the tutorial, in reading order.
type chapter struct {
	name            string
	summary         string
	new             func(*slog.Logger) server
	errServerClosed error // what Serve returns once shutdown has begun
}

var chapters = []chapter{
	{"naive", "no broker: readers write into each other's connections; Ctrl-C drops work",
		func(l *slog.Logger) server { return naive.New(naive.Config{Logger: l}) },
		naive.ErrServerClosed},
	{"broker", "reader -> broker -> writer over channels; Ctrl-C drops what is queued",
		func(l *slog.Logger) server { return broker.New(broker.Config{Logger: l}) },
		broker.ErrServerClosed},
	{"notify", "the seed's clean shutdown, translated literally: loses messages, can hang",
		func(l *slog.Logger) server { return notify.New(notify.Config{Logger: l}) },
		notify.ErrServerClosed},
	{"shutdown", "clean shutdown: Ctrl-C delivers every accepted message, then exits",
		func(l *slog.Logger) server { return shutdown.New(shutdown.Config{Logger: l}) },
		shutdown.ErrServerClosed},
	{"disconnect", "leaving frees the name at once; every mistake gets an error line",
		func(l *slog.Logger) server { return disconnect.New(disconnect.Config{Logger: l}) },
		disconnect.ErrServerClosed},
}

// defaultChapter is the newest chapter: the best server so far.
const defaultChapter = "disconnect"

func findChapter(name string) (chapter, error) {
	var names []string
	for _, c := range chapters {
		if c.name == name {
			return c, nil
		}
		names = append(names, c.name)
	}
	return chapter{}, fmt.Errorf("unknown chapter %q (have %s)", name, strings.Join(names, ", "))
}

func listChapters(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range chapters {
		fmt.Fprintf(tw, "%s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
}
