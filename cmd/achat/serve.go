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
	"sync"
	"syscall"
	"time"
)

// runServe runs one chapter's server until SIGINT or SIGTERM, then shuts it
// down: it exits 0 after a clean drain, 1 if the drain deadline passed or a
// second signal cut the drain short.
func runServe(args []string, stderr io.Writer) int {
	flags := flag.NewFlagSet("serve", flag.ContinueOnError)
	flags.SetOutput(stderr)
	chapterName := flags.String("chapter", defaultChapter, "the chapter to run (see: achat chapters)")
	addr := flags.String("addr", "127.0.0.1:8080", "the address to listen on")
	drainTimeout := flags.Duration("drain-timeout", 10*time.Second,
		"how long Ctrl-C waits for clients to read what is owed to them")
	maxQueued := flags.Int("max-queued", 0,
		"chapter slow: lines that may wait for one client before it is disconnected (0: 4096)")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	ch, err := findChapter(*chapterName)
	if err != nil {
		fmt.Fprintf(stderr, "achat serve: %v\n", err)
		return 2
	}
	if *maxQueued != 0 && ch.name != "slow" {
		fmt.Fprintf(stderr, "achat serve: -max-queued is for -chapter slow: chapter %s has no bound\n", ch.name)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		logger.Error("cannot listen", "err", err)
		return 1
	}
	logger.Info("listening", "addr", l.Addr().String(), "chapter", ch.name)
	return serveUntilSignal(ch.new(settings{logger, *maxQueued}), ch, l, *drainTimeout, logger)
}

func serveUntilSignal(srv server, ch chapter, l net.Listener, drainTimeout time.Duration, logger *slog.Logger) int {
	signals := make(chan os.Signal, 2) // the first two; the third kills (see cancelOnSecondSignal)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }() // ends once Shutdown begins; waited for below
	select {
	case err := <-served:
		logger.Error("serve failed", "err", err)
		return 1
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
	if serveErr := <-served; !errors.Is(serveErr, ch.errServerClosed) {
		logger.Error("serve failed", "err", serveErr)
	}
	if err != nil {
		logger.Error("shutdown cut short", "err", err)
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
