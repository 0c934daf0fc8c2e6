package pipeline

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Every line taken before the input ends is written, in order.
func TestPipelineWritesEverythingItTook(t *testing.T) {
	in := make(chan string, 3)
	in <- "a"
	in <- "b"
	in <- "c"
	close(in)
	var out strings.Builder
	require.NoError(t, Pipeline(context.Background(), in, &out))
	assert.Equal(t, "a\nb\nc\n", out.String())
}

// Cancelled, it stops taking input, and returns once both stages have.
func TestPipelineStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in := make(chan string) // never sends: only ctx can end the reader
	var out strings.Builder
	require.NoError(t, Pipeline(ctx, in, &out))
	assert.Empty(t, out.String())
}

// A write error is returned, and the reader is never left blocked.
func TestPipelineReturnsTheFirstWriteError(t *testing.T) {
	in := make(chan string, 2)
	in <- "a"
	in <- "b"
	close(in)
	assert.ErrorIs(t, Pipeline(context.Background(), in, failingWriter{}), errWrite)
}

var errWrite = errors.New("disk full")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errWrite }
