/*
 * shutdown.pml: the shutdown protocol of achat/chat/shutdown, for Spin.
 *
 * One proctype per kind of goroutine, named after the Go function it models,
 * and one for the clients at the other end of the connections:
 *
 *   serve     chat/shutdown/server.go:Serve    the accept loop
 *   read      chat/shutdown/conn.go:read       one per connection
 *   broker    chat/shutdown/broker.go:broker   owns the peers and their queues
 *   write     chat/shutdown/conn.go:write      one per logged-in peer
 *   client    the program at the other end of a peer's connection: it reads
 *             what its writer wrote, or, for -DNONREADER, never reads
 *   shutdown  chat/shutdown/server.go:Shutdown and beginShutdown
 *   drain     chat/shutdown/server.go:drain
 *
 * Every message has an identity, carried from the reader to the client: the
 * message id s * NMSGS + k is talker s's k-th message (k from 0), told as
 * "message s.k". A peer's queue and its socket hold ids, in order, and the
 * client checks each message it reads (inline arrive).
 *
 * What is left out (see docs/model-checking.md): bytes (a client "sends a
 * line" by a nondeterministic choice, and a socket holds whole lines), names
 * (talker i logs in as peer i, so no name is ever taken), bad lines, clients
 * that leave, batching on the read side (a reader sends one message an
 * event), closeGracefully's linger, and the queue's ready token.
 *
 * Bug variants, each selected by one -D flag, change only the lines that the
 * bug changes (the chapter chat/notify has the first five at once; the last
 * is in no chapter, and only message identity catches it):
 *
 *   -DNOTIFY_WAITERS      a notification instead of a cancelled context
 *   -DWRITERS_NOT_WAITED  drain does not wait for the writers
 *   -DSELECT_STOP         a writer selects between "stop" and its queue
 *   -DCLOSE_EARLY         events is closed before the readers are done
 *   -DLOGIN_NOT_WOKEN     the context is checked before the login read, but
 *                         no read deadline wakes it (AfterFunc set up after)
 *   -DLIFO                the queue hands a batch over newest first
 *
 * The drain deadline, and a client that never reads:
 *
 *   -DDEADLINE            Shutdown's ctx may expire at any point before the
 *                         drain is over: closeConns (without it, ctx never
 *                         expires, and every check is about the drain that
 *                         ends by itself)
 *   -DNONREADER=p         talker p's client never reads its socket: its
 *                         writer blocks in Write once SOCKBUF lines wait
 *                         there, and without -DDEADLINE, Shutdown waits for
 *                         ever
 *
 * Bounds, each a -D flag too: NTALKERS clients log in and send NMSGS
 * messages each; NSILENT more connect and never send their login line;
 * EVENTS_BUF events fit in the channel; SOCKBUF lines fit in a connection's
 * socket buffers; QCAP ids fit in a queue (an assertion checks that no queue
 * ever fills: a Queue is unbounded).
 */

#ifndef NTALKERS
#define NTALKERS 2
#endif
#ifndef NSILENT
#define NSILENT 1
#endif
#ifndef NMSGS
#define NMSGS 2
#endif
#ifndef EVENTS_BUF
#define EVENTS_BUF 2
#endif
#ifndef SOCKBUF
#define SOCKBUF 1
#endif
#define NCONNS (NTALKERS + NSILENT)
#define NIDS (NTALKERS * NMSGS) /* message ids 0 .. NIDS-1; at most 8 (a byte of bits) */
#ifndef QCAP
#define QCAP NIDS
#endif
#ifndef NONREADER
#define NONREADER 255 /* every client reads */
#endif

/* --- messages ------------------------------------------------------------ */

/* Message m is talker SENDER(m)'s SEQ(m)-th message, for peer TO(m): a
 * talker's first two messages go to the next talker, its next two to itself
 * (with 2 talkers of 2 messages, each talker sends both of its messages to
 * the other). Sets of messages are bytes of bits: BIT(m) is m's bit, and
 * EARLIER(m) the bits of its sender's messages sent before it. */
#define SENDER(m) ((m) / NMSGS)
#define SEQ(m) ((m) % NMSGS)
#define TO(m) ((SENDER(m) + 1 + SEQ(m) / 2) % NTALKERS)
#define BIT(m) (1 << (m))
#define EARLIER(m) (((1 << SEQ(m)) - 1) << (SENDER(m) * NMSGS))

/* --- what the goroutines share ------------------------------------------ */

/* server.go:Server.events, buffered: eventsBuffered (64) in Go, EVENTS_BUF
 * here, enough for a reader to send while the broker is busy, and for the
 * close to find events still waiting (-DEVENTS_BUF=0: unbuffered). A Promela
 * channel cannot be closed, so its close is the flag eventsClosed: the
 * broker's "range" ends when it is set and nothing waits, and a reader that
 * sends once it is set panics (an assertion). An event is a LOGIN of peer
 * "from", or the MSG whose id is m (messageEvent, with one message). */
mtype = { LOGIN, MSG };
chan events = [EVENTS_BUF] of { mtype, byte, byte }; /* kind, from, m */
bool eventsClosed;

/* queue/queue.go:Queue, one per peer, pushed and closed by the broker only:
 * peer p's Queue.items is items[p*QCAP .. p*QCAP + nitems[p] - 1], oldest
 * first. A slot not in use holds 0, so that two equal queues are one state. */
byte items[NTALKERS * QCAP]; /* Queue.items, message ids */
byte nitems[NTALKERS];       /* len(Queue.items) */
bool queueClosed[NTALKERS];  /* Queue.closed */
bool loggedIn[NTALKERS];     /* broker.go:broker's peers map */

/* A peer's connection, from its writer to its client: the socket buffers of
 * both ends (the server's send buffer, the client's receive buffer), which
 * hold SOCKBUF lines in all. conn.Write blocks while they are full; the
 * client's Read takes everything they hold. */
byte sock[NTALKERS * SOCKBUF]; /* message ids, oldest first; 0 when unused */
byte nsock[NTALKERS];          /* lines in the socket buffers */

bool listenerClosed; /* server.go:beginShutdown, listener.Close() */
bool cancelled;      /* server.go:Server.ctx cancelled: a state, not an event */
bool acceptDone;     /* server.go:Server.acceptDone closed */
bool brokerDone;     /* server.go:Server.brokerDone closed */
bool drained;        /* server.go:Server.drained closed */
bool connsClosed;    /* server.go:Server.connsClosed: closeConns ran (-DDEADLINE) */
bool terminated;     /* Shutdown returned, nil or ctx.Err() */
byte readers;        /* server.go:Server.readers, a WaitGroup's counter */
byte writers;        /* server.go:Server.writers, a WaitGroup's counter */

/* A go statement. Every goroutine's process exists from the start and
 * waits, in a valid end state, for its go statement: "go s.read(conn)" is
 * readerGo[i] = true. (With "run", the order in which readers and writers
 * happened to be created would be part of the state, and the same state
 * reached in two creation orders would be counted twice.) */
bool readerGo[NCONNS];   /* server.go:Serve, go s.read(conn) */
bool writerGo[NTALKERS]; /* broker.go:login, go s.write(...) */
bool drainGo;            /* server.go:beginShutdown, go s.drain() */

/* Bookkeeping for the properties; no goroutine reads these. accepted and
 * routed count messages; the others are sets of message ids (a byte of
 * bits), one per peer. */
byte accepted;              /* chattrace ReportAccepted: the server owes it */
byte routed;                /* taken off events by the broker */
byte owed[NTALKERS];        /* pushed on the peer's queue */
byte written[NTALKERS];     /* written to its connection by its writer */
byte undelivered[NTALKERS]; /* counted by its writer in "undelivered" */
byte got[NTALKERS];         /* read by its client */

#ifdef NOTIFY_WAITERS
/* chat/notify: a notifier that reaches only the readers registered at that
 * instant (tokio's Notify::notify_waiters, which reaches the Notified futures
 * that exist then). A reader registers as it enters its select and withdraws
 * as it leaves: waiting[i] says reader i is registered; woken[i] is the
 * notification it got while it was. */
bool waiting[NCONNS];
bool woken[NCONNS];
#endif
#ifdef WRITERS_NOT_WAITED
bool exited; /* main returned: the process is gone, and its writers with it */
#endif
#ifdef SELECT_STOP
bool stop[NTALKERS]; /* a writer's stop signal, fired when its reader returns */
#endif

/* --- read: conn.go:read and readLogin ----------------------------------- */

/* send is "s.events <- ev". A send on a closed channel panics in Go: if the
 * channel is closed while this reader waits to send, it panics too. A
 * buffered send happens only while the channel is open and has room, checked
 * in the same step, so that it cannot succeed after the close. */
inline send(kind, from, m) {
	if /* s.events <- ev */
#if EVENTS_BUF > 0
	:: atomic { !eventsClosed && nfull(events) -> events!kind, from, m }
#else
	:: events!kind, from, m
#endif
	:: eventsClosed ->
		printf("reader %d: send on closed channel: panic\n", from);
		assert(!eventsClosed)
	fi
}

/* readLogin waits for the login line. A talker's arrives at some point; a
 * silent client's never does. It returns false by "goto leave".
 *
 * In Go, s.ctx.Err() is checked, then Scan blocks until the line comes or
 * until the past read deadline that AfterFunc sets fails it. Here the guard
 * !cancelled is the check; the branch "cancelled" is both "the check saw
 * it" and "the deadline woke the Read": no other goroutine can tell those
 * two apart, so one branch is enough. */
inline readLogin(id) {
#if defined(NOTIFY_WAITERS)
	id < NTALKERS; /* chat/notify: a bare Scan, which nothing wakes */
#elif defined(LOGIN_NOT_WOKEN)
	if
	:: cancelled -> goto leave /* s.ctx.Err() is checked... */
	:: else
	fi;
	id < NTALKERS; /* ...but no read deadline wakes this Scan */
#else
	if
	:: atomic { !cancelled && id < NTALKERS -> /* the login line arrives */
		printf("reader %d read its login line\n", id)
	}
	:: atomic { cancelled -> /* s.ctx.Err() != nil, or the past read deadline */
		printf("reader %d: shutdown seen while waiting for its login\n", id);
		goto leave
	}
	fi
#endif
}

/* accept is what follows a successful lines.ScanBatch, with a batch of one
 * line here (in Go, the batch's messages go in one event): the client's k-th
 * line is message id*NMSGS + k. ReportAccepted happens before the send, as in
 * conn.go. */
inline accept(id, sent, m) {
	atomic {
		m = id * NMSGS + sent;
		sent++;
		accepted++;
		printf("reader %d accepted message %d.%d for peer %d\n",
			id, SENDER(m), SEQ(m), TO(m))
	};
	send(MSG, id, m)
}

proctype read(byte id) {
	byte sent = 0; /* lines this client has sent after its login */
	byte m;

end_not_started:
	readerGo[id];
	readLogin(id);
	send(LOGIN, id, 0);
#ifndef NOTIFY_WAITERS
	/* As in readLogin, the guard is the check of s.ctx.Err(). The context
	 * may be cancelled between the guard and accept: that is the batch the
	 * reader had taken when shutdown began. */
	do /* for s.ctx.Err() == nil && lines.ScanBatch() */
	:: !cancelled && sent < NMSGS -> accept(id, sent, m)
	:: cancelled -> break
	od;
#else
	/* for { select { case line: ...; case <-notified: return } } */
	do
	:: atomic { woken[id] = false; waiting[id] = true }; /* register() */
		if /* select { case line := <-incoming: case <-notified: } */
		:: atomic { sent < NMSGS -> /* a line: unregister() */
			waiting[id] = false;
			printf("reader %d got a line: busy, deaf to notifications\n", id)
		};
			accept(id, sent, m)
		:: woken[id] -> break
		fi
	od;
#endif
leave:
	atomic {
		printf("reader %d returns\n", id);
#ifdef SELECT_STOP
		if
		:: id < NTALKERS -> stop[id] = true
		:: else
		fi;
#endif
		readers-- /* defer s.readers.Done() */
	}
}

/* --- serve: server.go:Serve --------------------------------------------- */

proctype serve() {
	byte n = 0; /* connections accepted so far; the next reader's id */
	do
	:: atomic { n < NCONNS && !listenerClosed -> /* Accept returns a conn */
		readers++; /* s.readers.Add(1) before the go statement */
		readerGo[n] = true; /* go s.read(conn) */
		n++
	}
	:: listenerClosed -> break /* Accept fails */
	od;
	acceptDone = true /* defer close(s.acceptDone) */
}

/* --- broker: broker.go:broker and login --------------------------------- */

inline login(peer) {
	atomic {
		loggedIn[peer] = true;
		writers++; /* s.writers.Add(1) before the go statement */
		printf("broker: peer %d logged in\n", peer);
		writerGo[peer] = true /* go s.write(ev.conn, ev.name, q) */
	}
}

/* route is broker.go:route: it pushes message m on its recipient's queue if
 * the recipient is logged in; if it is not, the server owes it to nobody
 * (chattrace's Accepted). */
inline route(m, to) {
	atomic {
		routed++;
		to = TO(m);
		if
		:: loggedIn[to] ->
			assert(!queueClosed[to]); /* Push on a closed queue panics */
			assert(nitems[to] < QCAP); /* the model's bound, never Go's */
			items[to * QCAP + nitems[to]] = m; /* q.Push(line): never blocks */
			nitems[to]++;
			owed[to] = owed[to] | BIT(m)
		:: else
		fi;
		to = 0
	}
}

proctype broker() {
	mtype kind;
	byte from, m, peer;
	do /* for ev := range s.events */
	:: atomic { events?kind, from, m -> /* handled in the same step */
		if
		:: kind == LOGIN -> login(from)
		:: kind == MSG -> route(m, peer)
		fi;
		kind = 0; from = 0; m = 0
	}
	:: eventsClosed && empty(events) -> break /* the range ends: closed, and empty */
	od;
	atomic {
		for (peer : 0 .. NTALKERS - 1) {
			if
			:: loggedIn[peer] -> queueClosed[peer] = true /* q.Close() */
			:: else
			fi
		}
		printf("broker: every queue closed\n");
		brokerDone = true
	}
}

/* --- write: conn.go:write, queue.go:Next and protocol.WriteLines -------- */

#ifdef WRITERS_NOT_WAITED
#define ALIVE !exited &&
#else
#define ALIVE
#endif

/* next is queue.go:Next: it takes everything queued, in order, and leaves
 * the queue empty. With -DLIFO, the batch comes newest first. With
 * -DKEEPS_LAST, the queue keeps the last item it handed over (an off-by-one
 * in the slice it keeps), so the next batch hands it over again. */
inline next(id) {
	n = nitems[id];
	for (i : 0 .. n - 1) {
#ifndef LIFO
		batch[i] = items[id * QCAP + i];
#else
		batch[n - 1 - i] = items[id * QCAP + i];
#endif
		items[id * QCAP + i] = 0
	}
	nitems[id] = 0;
#ifdef LIFO
	printf("writer %d took %d message(s), newest first\n", id, n);
#endif
#ifdef KEEPS_LAST
	items[id * QCAP] = batch[n - 1];
	nitems[id] = 1;
	printf("writer %d took %d message(s), and the queue kept the last\n", id, n);
#endif
	i = 0
}

/* clearBatch is the end of a batch: written, or counted as undelivered. */
inline clearBatch() {
	for (i : 0 .. n - 1) {
		batch[i] = 0
	}
	n = 0;
	i = 0
}

/* writeLines is protocol.WriteLines while no write has failed: a Write puts
 * in the socket as many lines as fit, in one step, and blocks until there is
 * room for the rest. */
inline writeLines(id) {
	do
	:: i < n && nsock[id] < SOCKBUF ->
		sock[id * SOCKBUF + nsock[id]] = batch[i];
		nsock[id]++;
		written[id] = written[id] | BIT(batch[i]);
		printf("writer %d wrote message %d.%d\n",
			id, SENDER(batch[i]), SEQ(batch[i]));
		i++
	:: else -> break
	od
}

/* countUndelivered is "undelivered += len(batch)" once err != nil: the
 * whole batch, even the lines of a failed batch that went out. */
inline countUndelivered(id) {
	if
	:: !failed ->
		failed = true;
		printf("writer %d: write failed: connection closed\n", id)
	:: else
	fi;
	for (i : 0 .. n - 1) {
		undelivered[id] = undelivered[id] | BIT(batch[i])
	}
	printf("writer %d counted %d message(s) as undelivered\n", id, n)
}

proctype write(byte id) {
	byte batch[QCAP]; /* taken from the queue by Next, not yet written */
	byte n;           /* len(batch) */
	byte i;           /* batch[:i] is written */
	bool failed;      /* err != nil: a write has failed */

end_not_started:
	writerGo[id];
#ifdef WRITERS_NOT_WAITED
end_exited_in_next: /* stopping here when the process exits is no deadlock */
#endif
	do /* for { batch, ok := q.Next(batch) ... } */
	:: atomic { ALIVE nitems[id] > 0 -> next(id) };
		/* if err == nil { err = protocol.WriteLines(conn, batch) }, and
		 * if err != nil { undelivered += len(batch) }. Once closeConns has
		 * run (connsClosed), a blocked Write and every later one fail. */
#ifdef WRITERS_NOT_WAITED
end_exited_in_write: /* stopping here when the process exits is no deadlock */
#endif
		do /* conn.Write blocks while the socket is full */
		:: atomic { ALIVE !failed && !connsClosed && nsock[id] < SOCKBUF ->
			writeLines(id);
			if
			:: i == n -> clearBatch(); break /* the batch is written */
			:: else /* the socket is full: the Write goes on */
			fi
		}
		:: atomic { ALIVE failed || connsClosed ->
			countUndelivered(id);
			clearBatch();
			break
		}
		od
	:: ALIVE nitems[id] == 0 && queueClosed[id] -> break /* Next: closed, empty */
#ifdef SELECT_STOP
	:: atomic { stop[id] -> /* Go's select may choose this with messages queued */
		printf("writer %d: select chose stop\n", id);
		break
	}
#endif
	od;
	atomic {
		printf("writer %d returns with %d queued\n", id, nitems[id]);
		writers-- /* defer s.writers.Done() */
	}
}

/* --- client: the other end of a peer's connection ------------------------ */

/* arrive checks message m as client p reads it: p was owed it (it was pushed
 * on p's queue), p has not read it before, and no earlier message of the
 * same sender that was pushed on p's queue is still unread ("skipped").
 * Together: what a client reads of each sender is, in order and once each, a
 * prefix of what was routed to it. */
inline arrive(p, m) {
	mine = BIT(m);
	skipped = owed[p] & EARLIER(m) & ~got[p];
	printf("client %d read message %d.%d\n", p, SENDER(m), SEQ(m));
	if
	:: !(owed[p] & mine) -> printf("NOT OWED: client %d was not owed it\n", p)
	:: else
	fi;
	if
	:: got[p] & mine -> printf("DUPLICATE: client %d had read it before\n", p)
	:: else
	fi;
	if
	:: skipped -> printf("OUT OF ORDER: client %d has not read an earlier message of talker %d\n",
		p, SENDER(m))
	:: else
	fi;
	assert((owed[p] & mine) != 0);
	assert((got[p] & mine) == 0);
	assert(skipped == 0);
	got[p] = got[p] | mine;
	mine = 0;
	skipped = 0
}

/* A client that reads takes everything in its socket at any point. Once
 * Shutdown has returned and the socket is empty, it has read all it ever
 * will: if the deadline did not pass, that must be every message routed to
 * it. Client NONREADER never reads; its process only waits, to keep the
 * pids the same in every variant. */
proctype client(byte p) {
	byte k, m, mine, skipped;
end_reading: /* a client may wait for ever: it is not the server */
	do
	:: atomic { p != NONREADER && nsock[p] > 0 -> /* conn.Read */
		for (k : 0 .. nsock[p] - 1) {
			m = sock[p * SOCKBUF + k];
			arrive(p, m);
			sock[p * SOCKBUF + k] = 0
		}
		nsock[p] = 0;
		k = 0;
		m = 0
	}
	:: atomic { terminated && (nsock[p] == 0 || p == NONREADER) ->
		if
		:: p != NONREADER && !connsClosed && got[p] != owed[p] ->
			printf("LOST: client %d never read a message routed to it\n", p)
		:: else
		fi;
		assert(p == NONREADER || connsClosed || got[p] == owed[p]);
		break
	}
	od
}

/* --- shutdown: server.go:Shutdown, beginShutdown and drain --------------- */

inline printLost(peer) {
	byte m;
	for (m : 0 .. NIDS - 1) {
		if
		:: (owed[peer] & BIT(m)) && !(written[peer] & BIT(m)) ->
			printf("LOST: message %d.%d was routed to peer %d and never written\n",
				SENDER(m), SEQ(m), peer)
		:: else
		fi
	}
}

/* Shutdown returned nil: every message the server took responsibility for
 * reached the broker, and every message routed to a peer was written to it. */
inline assertNothingLost() {
	assert(routed == accepted);
	for (peer : 0 .. NTALKERS - 1) {
		printLost(peer);
		assert(written[peer] == owed[peer])
	}
}

/* Shutdown returned ctx.Err(): every message routed to a peer was written
 * to it, or counted by its writer as undelivered; none is lost silently. */
inline assertNoneLostSilently() {
	assert(routed == accepted);
	for (peer : 0 .. NTALKERS - 1) {
		assert(!(owed[peer] & ~(written[peer] | undelivered[peer])))
	}
}

proctype drain() {
end_not_started:
	drainGo;
	acceptDone; /* <-s.acceptDone */
#ifndef CLOSE_EARLY
	readers == 0; /* s.readers.Wait() */
#endif
	eventsClosed = true; /* close(s.events) */
	printf("drain: events closed\n");
	brokerDone; /* <-s.brokerDone */
#ifndef WRITERS_NOT_WAITED
	writers == 0; /* s.writers.Wait() */
#endif
	drained = true /* close(s.drained) */
}

proctype shutdown() {
	byte peer;
	printf("shutdown began\n");
	listenerClosed = true; /* 1. listener.Close() */
#ifndef NOTIFY_WAITERS
	cancelled = true; /* 2. s.cancelCtx() */
#else
	atomic { /* 2. notify_waiters: only who is waiting now */
		byte r;
		for (r : 0 .. NCONNS - 1) {
			if
			:: readerGo[r] && waiting[r] ->
				woken[r] = true;
				printf("notify: reader %d is registered: woken\n", r)
			:: readerGo[r] && !waiting[r] ->
				printf("notify: reader %d is not registered: missed it\n", r)
			:: else
			fi
		}
	}
#endif
	drainGo = true; /* go s.drain() */
#ifdef DEADLINE
	if /* select { case <-s.drained: case <-ctx.Done(): } */
	:: drained
	:: atomic { !drained -> /* ctx.Done(), and the re-check finds drained open */
		printf("shutdown: deadline passed: closing every connection\n");
		connsClosed = true /* s.closeConns() */
	};
		drained /* <-s.drained */
	fi;
#else
	drained; /* <-s.drained: ctx never expires */
#endif
#ifdef WRITERS_NOT_WAITED
	exited = true;
	printf("main returns: the process exits\n");
#endif
	if
	:: !connsClosed ->
		assertNothingLost();
		printf("shutdown returned nil\n")
	:: else ->
		assertNoneLostSilently();
		printf("shutdown returned ctx.Err()\n")
	fi;
	terminated = true
}

/* Pids, as spin -t reports them: 0 init, 1 .. NCONNS the readers 0 ..
 * NCONNS-1, then the writers 0 .. NTALKERS-1, the clients 0 .. NTALKERS-1,
 * then serve, broker, drain, shutdown. */
init {
	byte i;
	atomic {
		assert(NIDS <= 8); /* a set of messages is a byte */
		for (i : 0 .. NCONNS - 1) {
			run read(i)
		}
		for (i : 0 .. NTALKERS - 1) {
			run write(i)
		}
		for (i : 0 .. NTALKERS - 1) {
			run client(i)
		}
		run serve();
		run broker();
		run drain();
		run shutdown() /* main calls Shutdown at some point: any point */
	}
}

/* Termination: whatever the schedule, Shutdown returns. Checked with
 * "pan -a", over every schedule, and for a bug with "pan -a -f" (weak
 * fairness), to show that even a fair scheduler hangs. The safety runs
 * compile pan with -DNOCLAIM, which leaves this claim out. */
ltl terminates { <> terminated }
