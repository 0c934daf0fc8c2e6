package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"achat/internal/embeddednats"
)

// runServe runs one chapter's server until SIGINT or SIGTERM, then shuts it
// down: it exits 0 after a clean drain, 1 if the drain deadline passed or a
// second signal cut the drain short, or if Serve failed (after a drain of
// what was accepted).
func runServe(args []string, stderr io.Writer) int {
	flags := flag.NewFlagSet("serve", flag.ContinueOnError)
	flags.SetOutput(stderr)
	chapterName := flags.String("chapter", defaultChapter, "the chapter to run (see: achat chapters)")
	addr := flags.String("addr", "127.0.0.1:8080", "the address to listen on")
	drainTimeout := flags.Duration("drain-timeout", 10*time.Second,
		"how long Ctrl-C waits for clients to read what is owed to them")
	var set settings
	flags.IntVar(&set.maxQueued, "max-queued", 0,
		"chapters slow, limits, cluster: lines that may wait for one client before it is disconnected (0: 4096)")
	flags.IntVar(&set.maxQueuedBytes, "max-queued-bytes", 0,
		"chapters limits, cluster: bytes that may wait for one client before it is disconnected (0: 256 KiB)")
	flags.IntVar(&set.maxConns, "max-conns", 0,
		"chapters limits, cluster: connections held at once (0: 1000, or what the file limit allows)")
	flags.DurationVar(&set.loginTimeout, "login-timeout", 0,
		"chapters limits, cluster: how long a connection may take to send its name (0: 10s)")
	flags.DurationVar(&set.writeTimeout, "write-timeout", 0,
		"chapters limits, cluster: how long a write may make no progress before the client is dropped (0: 10s)")
	flags.StringVar(&set.nats, "nats", "",
		"chapter cluster: the URL of the NATS server (with JetStream) that joins the nodes (empty: start one in this process)")
	flags.DurationVar(&set.nameTTL, "name-ttl", 0,
		"chapter cluster: how long the names of a node that died without a shutdown stay taken (0: 6s)")
	lenient := flags.Bool("lenient", false,
		"ignore, with a log line, a setting that the chapter does not have (achat compare runs every chapter with one scenario's settings)")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	ch, err := findChapter(*chapterName)
	var foreign []string
	if err == nil {
		foreign = foreignFlags(flags, ch)
		if len(foreign) > 0 && !*lenient {
			err = fmt.Errorf("-%s is not a setting of chapter %s", foreign[0], ch.name)
		}
	}
	if err == nil && (ch.name == "limits" || ch.name == "cluster") {
		set.maxConns, err = fitFileLimit(set.maxConns)
	}
	if err != nil {
		fmt.Fprintf(stderr, "achat serve: %v\n", err)
		return 2
	}
	set.logger = slog.New(slog.NewTextHandler(stderr, nil))
	if len(foreign) > 0 {
		set.logger.Info("ignored: settings this chapter does not have", "chapter", ch.name, "flags", foreign)
	}
	if ch.name == "cluster" && set.nats == "" {
		bus, err := embeddednats.Start("127.0.0.1:0")
		if err != nil {
			set.logger.Error("cannot start a NATS server", "err", err)
			return 1
		}
		defer bus.Shutdown() // after the node's drain, which drains its NATS connection
		set.nats = bus.URL()
		set.logger.Info("started a NATS server in this process: more nodes join with -nats "+set.nats, "nats", set.nats)
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		set.logger.Error("cannot listen", "err", err)
		return 1
	}
	attrs := []any{"addr", l.Addr().String(), "chapter", ch.name}
	if set.maxConns > 0 { // fitted to the file limit: say what it came to
		attrs = append(attrs, "max_conns", set.maxConns)
	}
	set.logger.Info("listening", attrs...)
	return serveUntilSignal(ch.new(set), ch, l, *drainTimeout, set.logger)
}

// foreignFlags returns the flags set that chapter ch does not take.
func foreignFlags(flags *flag.FlagSet, ch chapter) []string {
	var foreign []string
	flags.Visit(func(f *flag.Flag) {
		common := slices.Contains([]string{"chapter", "addr", "drain-timeout", "lenient"}, f.Name)
		if !common && !slices.Contains(ch.flags, f.Name) {
			foreign = append(foreign, f.Name)
		}
	})
	return foreign
}

func serveUntilSignal(srv server, ch chapter, l net.Listener, drainTimeout time.Duration, logger *slog.Logger) int {
	signals := make(chan os.Signal, 2) // the first two; the third kills (see cancelOnSecondSignal)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }() // ends once Shutdown begins, or when it fails; waited for below
	var serveErr error
	select {
	case serveErr = <-served:
		// What the server accepted before is still owed: drain it as at
		// Ctrl-C, then exit 1.
		logger.Error("serve failed: draining what was accepted", "err", serveErr)
	case sig := <-signals:
		logger.Info("shutting down: press Ctrl-C again to stop at once", "signal", sig.String())
	}

	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	shutdownDone := make(chan struct{})
	var watcher sync.WaitGroup
	watcher.Go(func() { // ends at a second signal or when Shutdown has returned; waited for below
		cancelOnSecondSignal(signals, cancel, shutdownDone, logger)
	})
	err := srv.Shutdown(ctx)
	close(shutdownDone) // the only close: tells the watcher that the drain is over
	watcher.Wait()
	// Serve returned as soon as shutdown began: net/http's rule. It is
	// Shutdown's return that says the drain is over, so main waits for it.
	if serveErr == nil {
		if serveErr = <-served; errors.Is(serveErr, ch.errServerClosed) {
			serveErr = nil
		} else {
			logger.Error("serve failed", "err", serveErr)
		}
	}
	switch {
	case err != nil:
		logger.Error("shutdown cut short", "err", err)
		return 1
	case serveErr != nil:
		logger.Info("drained after serve failed")
		return 1
	}
	logger.Info("stopped cleanly")
	return 0
}

// cancelOnSecondSignal cancels the drain at a second signal; after that the
// default action is restored, so a third Ctrl-C kills the process even if a
// chapter's Shutdown ignores its context.
func cancelOnSecondSignal(signals <-chan os.Signal, cancel context.CancelFunc,
	shutdownDone <-chan struct{}, logger *slog.Logger) {
	select {
	case <-signals:
		logger.Warn("second signal: stopping now; a third one kills the process")
		cancel()
		signal.Reset(os.Interrupt, syscall.SIGTERM)
	case <-shutdownDone:
	}
}
