// Package pipeline is the errgroup illustration of docs/coming-from-rust.md,
// compiled and tested so that the page quotes code that works. It is not
// achat's code: the chapters spell the same steps out by hand.
package pipeline

import (
	"context"
	"fmt"
	"io"

	"golang.org/x/sync/errgroup"
)

// Pipeline is an illustration, not achat's code: two stages joined by one
// channel. Cancel ctx, and shutdown flows downstream: the reader stops taking
// input and closes lines; the writer writes what is left, then ends.
func Pipeline(ctx context.Context, in <-chan string, out io.Writer) error {
	g, ctx := errgroup.WithContext(ctx)
	lines := make(chan string)
	g.Go(func() error { // the reader: lines' only sender
		defer close(lines) // its single owner closes it, after the last send
		for {
			select {
			case <-ctx.Done(): // a state: checked late, still seen
				return nil
			case line, ok := <-in:
				if !ok {
					return nil
				}
				lines <- line // never blocks for ever: the writer takes every line
			}
		}
	})
	g.Go(func() error { // the writer: ends when lines is closed and empty
		var err error
		for line := range lines {
			if err == nil {
				_, err = fmt.Fprintln(out, line)
			} // after an error, keep taking lines so that the reader never blocks
		}
		return err // the first error, which g.Wait returns
	})
	return g.Wait() // both have returned: nothing is left running
}
