package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"text/tabwriter"
	"time"

	"achat/chat/broker"
	"achat/chat/cluster"
	"achat/chat/disconnect"
	"achat/chat/drain"
	"achat/chat/limits"
	"achat/chat/naive"
	"achat/chat/notify"
	"achat/chat/replies"
	"achat/chat/shutdown"
	"achat/chat/slow"
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
	new             func(settings) server
	errServerClosed error    // what Serve returns once shutdown has begun
	flags           []string // the flags of achat serve that it takes, beyond the common ones
}

// settings are what a chapter's server is built with; a chapter ignores
// what it has no use for (and achat serve refuses a flag for it).
type settings struct {
	logger         *slog.Logger
	maxQueued      int           // slow, limits: lines that may wait for one client (0: its default)
	maxQueuedBytes int           // limits: bytes that may wait for one client
	maxConns       int           // limits: connections held at once
	loginTimeout   time.Duration // limits: for a connection's first line
	writeTimeout   time.Duration // limits: for a write that makes no progress
	nats           string        // cluster: the NATS server's URL (achat serve starts one if empty)
	nameTTL        time.Duration // cluster: how long a dead node's names stay taken
}

var chapters = []chapter{
	{"naive", "no broker: readers write into each other's connections; Ctrl-C drops work",
		func(s settings) server { return naive.New(naive.Config{Logger: s.logger}) },
		naive.ErrServerClosed, nil},
	{"broker", "reader -> broker -> writer over channels; Ctrl-C drops what is queued",
		func(s settings) server { return broker.New(broker.Config{Logger: s.logger}) },
		broker.ErrServerClosed, nil},
	{"notify", "the seed's clean shutdown, translated literally: loses messages, can hang",
		func(s settings) server { return notify.New(notify.Config{Logger: s.logger}) },
		notify.ErrServerClosed, nil},
	{"drain", "clean shutdown: Ctrl-C delivers every accepted message, however long it takes",
		func(s settings) server { return drain.New(drain.Config{Logger: s.logger}) },
		drain.ErrServerClosed, nil},
	{"shutdown", "the drain has a deadline: Ctrl-C ends in time, whatever clients do",
		func(s settings) server { return shutdown.New(shutdown.Config{Logger: s.logger}) },
		shutdown.ErrServerClosed, nil},
	{"disconnect", "leaving frees the name at once; what was queued is still written",
		func(s settings) server { return disconnect.New(disconnect.Config{Logger: s.logger}) },
		disconnect.ErrServerClosed, nil},
	{"replies", "every mistake gets an error line; a login waits for the broker's verdict",
		func(s settings) server { return replies.New(replies.Config{Logger: s.logger}) },
		replies.ErrServerClosed, nil},
	{"slow", "a client too far behind is disconnected: memory stays bounded",
		func(s settings) server { return slow.New(slow.Config{Logger: s.logger, MaxQueued: s.maxQueued}) },
		slow.ErrServerClosed, []string{"max-queued"}},
	{"limits", "every resource a client can hold has a bound or a clock; accept errors are retried",
		func(s settings) server {
			return limits.New(limits.Config{Logger: s.logger, MaxQueued: s.maxQueued,
				MaxQueuedBytes: s.maxQueuedBytes, MaxConns: s.maxConns,
				LoginTimeout: s.loginTimeout, WriteTimeout: s.writeTimeout})
		},
		limits.ErrServerClosed,
		[]string{"max-queued", "max-queued-bytes", "max-conns", "login-timeout", "write-timeout"}},
	{"cluster", "many nodes on NATS are one chat; a node's Ctrl-C is a rolling restart that loses nothing",
		func(s settings) server {
			return cluster.New(cluster.Config{Logger: s.logger, MaxQueued: s.maxQueued,
				MaxQueuedBytes: s.maxQueuedBytes, MaxConns: s.maxConns,
				LoginTimeout: s.loginTimeout, WriteTimeout: s.writeTimeout,
				NATS: s.nats, NameTTL: s.nameTTL})
		},
		cluster.ErrServerClosed,
		[]string{"max-queued", "max-queued-bytes", "max-conns", "login-timeout", "write-timeout", "nats", "name-ttl"}},
}

// defaultChapter is the newest chapter that runs alone, the best single
// server so far: chapter cluster, after it, needs a NATS server.
const defaultChapter = "limits"

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
