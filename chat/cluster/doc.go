// Package cluster is the chapter "Cluster": many nodes, each chapter limits'
// server, joined by NATS into one chat, and a node's clean shutdown that is
// a rolling restart: nothing routed to its clients before it began to stop
// is lost.
//
//   - Names: a login claims its name in a JetStream key-value bucket with
//     Create, which fails if another client, on this node or another, holds
//     it. A node renews its names; the bucket's TTL (NameTTL) frees those of
//     a node that died without a shutdown.
//   - Messages: the node that holds a name subscribes to its subject; a
//     message for a client of another node is published there, and the
//     broker waits until NATS has a batch's copies before it queues the
//     batch's lines here.
//   - Knowledge: every node watches the bucket, so its broker tells a sender
//     at once which recipients are logged in nowhere.
//   - Shutdown: the readers stop; the node frees its names, drains its
//     subscriptions (what had arrived is still handled) and closes the
//     broker's channel; the broker routes what is left; the writers write
//     their queues; the NATS connection drains and closes.
//
// The new code is in bus.go; the rest is chapter limits', with the few lines
// that call it. docs/10-cluster.md tells it, and what may still be lost.
package cluster
