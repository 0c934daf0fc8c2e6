package scenarios

import (
	"fmt"
	"time"
)

// A scenario may run several nodes ("server nodes 2"). Against chapter
// cluster they are one chat, on one NATS server; against any other chapter
// they are servers that know nothing of each other, which is all that
// chapter can be, and the table shows what that costs. The lines below name
// a node; a line that names none is about node 1, and is refused in a
// scenario of several nodes, where it would be ambiguous.

// nodeLine is a step or an expectation about one node: atNode is its number
// (from 1), or 0 for a line that names none ("ctrl-c", "alice logs in").
type nodeLine interface {
	atNode() int
}

func (a connect) atNode() int     { return a.node }
func (a login) atNode() int       { return a.node }
func (a keepTrying) atNode() int  { return a.node }
func (a ctrlC) atNode() int       { return a.node }
func (a killNode) atNode() int    { return a.node }
func (a restartNode) atNode() int { return a.node }
func (crowdConnect) atNode() int  { return 0 }
func (e exits) atNode() int       { return e.node }
func (peakMemory) atNode() int    { return 0 }
func (e logs) atNode() int        { return e.node }

// killNode kills a node's process with SIGKILL, as kill -9 does: it stops
// at once, without a drain, and frees nothing.
type killNode struct{ node int }

func (a killNode) do(r *run) error {
	r.node(a.node).kill()
	return nil
}

// restartNode waits until a node's process has exited, after a ctrl-c or
// a kill, then starts a new one in its place, on a new port: what a rolling
// restart does. Clients that connect to the node from then on reach the new
// process.
type restartNode struct{ node int }

func (a restartNode) do(r *run) error {
	if !r.node(a.node).waitExit(time.Now().Add(r.patience)) {
		return fmt.Errorf("node %d still running %s after it was stopped", a.node, duration(r.patience))
	}
	srv, err := r.launch()
	if err != nil {
		return fmt.Errorf("node %d did not start again: %w", a.node, err)
	}
	r.nodes[a.node-1] = append(r.nodes[a.node-1], srv)
	return nil
}

// retryEvery is how often keepTrying tries a login again.
const retryEvery = 250 * time.Millisecond

// keepTrying logs in again and again, each time on a new connection, until
// the login succeeds or the time is up. A name held by a node that was
// killed comes free on a clock (its time to live runs out), not on an
// event a client can see: polling is the only way to see when.
type keepTrying struct {
	client, name string
	node         int
	within       time.Duration
}

func (a keepTrying) do(r *run) error {
	start := time.Now()
	tick := time.NewTicker(retryEvery)
	defer tick.Stop()
	for tries := 1; ; tries++ {
		login{client: a.client, name: a.name, node: a.node}.do(r)
		c := r.clients[a.client]
		if c.state() == loggedIn || time.Since(start) > a.within {
			c.mu.Lock()
			c.tried = fmt.Sprintf(" after %s, %s", duration(time.Since(start)), plural(tries, "try", "tries"))
			c.mu.Unlock()
			return nil
		}
		c.close() // refused: it waits for nothing more
		<-tick.C
	}
}

// plural writes "1 try", "25 tries".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return count(n) + " " + many
}
