package queue

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// TestQueueIsAFIFO runs random sequences of Push, Next and Close on one
// goroutine against a plain slice.
func TestQueueIsAFIFO(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		q := New[int]()
		var model []int
		var batch []int
		closed := false
		next := 0
		t.Repeat(map[string]func(*rapid.T){
			"push": func(t *rapid.T) {
				if closed {
					t.Skip("closed")
				}
				q.Push(next)
				model = append(model, next)
				next++
			},
			"next": func(t *rapid.T) {
				if len(model) == 0 && !closed {
					t.Skip("Next would block")
				}
				var ok bool
				done := batch
				batch, ok = q.Next(done)
				for _, v := range done {
					require.Zero(t, v, "Next empties the batch it is given back")
				}
				assert.Equal(t, len(model) > 0, ok, "ok")
				if len(model) == 0 {
					assert.Empty(t, batch)
				} else {
					assert.Equal(t, model, batch)
				}
				model = model[:0]
			},
			"close": func(t *rapid.T) {
				if closed {
					t.Skip("closed")
				}
				q.Close()
				closed = true
			},
			"": func(t *rapid.T) {
				require.Equal(t, len(model), q.Len())
				ready := false
				select {
				case <-q.Ready():
					ready = true
					q.ready <- struct{}{} // put the token back: this was a peek
				default:
				}
				require.Equal(t, len(model) > 0 || closed, ready, "Ready() has a token")
			},
		})
	})
}

func TestQueueHandsOverEverythingAcrossGoroutines(t *testing.T) {
	const n = 100_000
	q := New[int]()
	go func() { // owned by this test; ends after its last push and the close
		for i := range n {
			q.Push(i)
		}
		q.Close() // the only closer, after the last push
	}()
	var got []int
	var batch []int
	for {
		var ok bool
		batch, ok = q.Next(batch)
		if !ok {
			break
		}
		got = append(got, batch...)
	}
	require.Len(t, got, n)
	for i, v := range got {
		if v != i {
			t.Fatalf("got[%d] = %d: out of order", i, v)
		}
	}
}

func TestQueueFollowsChannelRules(t *testing.T) {
	t.Run("push after close panics", func(t *testing.T) {
		q := New[int]()
		q.Close()
		assert.PanicsWithValue(t, "queue: push on closed queue", func() { q.Push(1) })
	})
	t.Run("close after close panics", func(t *testing.T) {
		q := New[int]()
		q.Close()
		assert.PanicsWithValue(t, "queue: close of closed queue", q.Close)
	})
	t.Run("a closed queue hands over what it held, then reports closed", func(t *testing.T) {
		q := New[string]()
		q.Push("a")
		q.Close()
		batch, ok := q.Next(nil)
		assert.True(t, ok)
		assert.Equal(t, []string{"a"}, batch)
		_, ok = q.Next(nil)
		assert.False(t, ok)
		_, ok = q.Next(nil)
		assert.False(t, ok, "a closed queue stays closed")
	})
}

func BenchmarkPushNext(b *testing.B) {
	q := New[string]()
	var batch []string
	for i := 0; b.Loop(); i++ {
		q.Push("from alice: hello\n")
		if i%64 == 63 {
			batch, _ = q.Next(batch)
		}
	}
}
