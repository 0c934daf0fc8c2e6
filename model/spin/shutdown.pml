/*
 * shutdown.pml: the shutdown protocol of achat/chat/shutdown, for Spin.
 *
 * One proctype per kind of goroutine, named after the Go function it models:
 *
 *   serve     chat/shutdown/server.go:Serve   the accept loop
 *   read      chat/shutdown/conn.go:read      one per connection
 *   broker    chat/shutdown/broker.go:broker  owns the peers and their queues
 *   write     chat/shutdown/conn.go:write     one per logged-in peer
 *   shutdown  chat/shutdown/server.go:Shutdown, beginShutdown and drain
 *
 * What is left out (see docs/model-checking.md): bytes and sockets (a client
 * "sends a line" by a nondeterministic choice), names (talker i logs in as
 * peer i, so no name is ever taken), bad lines, clients that leave, batching
 * (a reader sends one message an event, and a writer takes one message at a
 * time), and the drain deadline: Shutdown's
 * ctx never expires here, so every check is about the drain that ends by
 * itself.
 *
 * Bug variants, each selected by one -D flag, change only the lines that the
 * bug changes (the chapter chat/notify has all of them at once):
 *
 *   -DNOTIFY_WAITERS      a notification instead of a cancelled context
 *   -DWRITERS_NOT_WAITED  drain does not wait for the writers
 *   -DSELECT_STOP         a writer selects between "stop" and its queue
 *   -DCLOSE_EARLY         events is closed before the readers are done
 *   -DLOGIN_NOT_WOKEN     the context is checked before the login read, but
 *                         no read deadline wakes it (AfterFunc set up after)
 *
 * Bounds, each a -D flag too: NTALKERS clients log in and send NMSGS
 * messages each; NSILENT more connect and never send their login line;
 * EVENTS_BUF events fit in the channel.
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
#define NCONNS (NTALKERS + NSILENT)

/* --- what the goroutines share ------------------------------------------ */

/* server.go:Server.events, buffered: eventsBuffered (64) in Go, EVENTS_BUF
 * here, enough for a reader to send while the broker is busy, and for the
 * close to find events still waiting (-DEVENTS_BUF=0: unbuffered). A Promela
 * channel cannot be closed, so its close is the flag eventsClosed: the
 * broker's "range" ends when it is set and nothing waits, and a reader that
 * sends once it is set panics (an assertion). */
mtype = { LOGIN, MSG };
chan events = [EVENTS_BUF] of { mtype, byte, byte }; /* kind, sender, recipient */
bool eventsClosed;

/* queue/queue.go:Queue, one per peer, pushed and closed by the broker only.
 * A writer only needs how many messages wait, not which: queued[i] is
 * len(Queue.items), unbounded in Go as here (a byte, never near 255). */
byte queued[NTALKERS];      /* Queue.items */
bool queueClosed[NTALKERS]; /* Queue.closed */
bool loggedIn[NTALKERS];                   /* broker.go:broker's peers map */

bool listenerClosed; /* server.go:beginShutdown, listener.Close() */
bool cancelled;      /* server.go:Server.ctx cancelled: a state, not an event */
bool acceptDone;     /* server.go:Server.acceptDone closed */
bool brokerDone;     /* server.go:Server.brokerDone closed */
bool terminated;     /* server.go:Server.drained closed: Shutdown returns nil */
byte readers;        /* server.go:Server.readers, a WaitGroup's counter */
byte writers;        /* server.go:Server.writers, a WaitGroup's counter */

/* A go statement. Every goroutine's process exists from the start and
 * waits, in a valid end state, for its go statement: "go s.read(conn)" is
 * readerGo[i] = true. (With "run", the order in which readers and writers
 * happened to be created would be part of the state, and the same state
 * reached in two creation orders would be counted twice.) */
bool readerGo[NCONNS];   /* server.go:Serve, go s.read(conn) */
bool writerGo[NTALKERS]; /* broker.go:login, go s.write(...) */

/* Bookkeeping for the properties; no goroutine reads these. */
byte accepted;             /* chattrace ReportAccepted: the server owes it */
byte routed;               /* taken off events by the broker */
byte owed[NTALKERS];       /* pushed on a peer's queue */
byte delivered[NTALKERS];  /* written by that peer's writer */

#ifdef NOTIFY_WAITERS
/* chat/notify: a notifier that wakes only the readers waiting at that
 * instant (tokio's Notify::notify_waiters). waiting[i] says reader i is in
 * its select; woken[i] is the notification it got while there. */
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
inline send(kind, from, to) {
	if /* s.events <- ev */
#if EVENTS_BUF > 0
	:: atomic { !eventsClosed && nfull(events) -> events!kind, from, to }
#else
	:: events!kind, from, to
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
 * line here (in Go, the batch's messages go in one event): the client's k-th line
 * is for peer (id + k) % NTALKERS, so each talker writes to itself and to
 * the other. ReportAccepted happens before the send, as in conn.go. */
inline accept(id, sent, to) {
	atomic {
		to = (id + sent) % NTALKERS;
		sent++;
		accepted++;
		printf("reader %d accepted a message for peer %d\n", id, to)
	};
	send(MSG, id, to)
}

proctype read(byte id) {
	byte sent = 0; /* lines this client has sent after its login */
	byte to;

end_not_started:
	readerGo[id];
	readLogin(id);
	send(LOGIN, id, id);
#ifndef NOTIFY_WAITERS
	/* As in readLogin, the guard is the check of s.ctx.Err(). The context
	 * may be cancelled between the guard and accept: that is the batch the
	 * reader had taken when shutdown began. */
	do /* for s.ctx.Err() == nil && lines.ScanBatch() */
	:: !cancelled && sent < NMSGS -> accept(id, sent, to)
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
			accept(id, sent, to)
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

/* route pushes the message on the recipient's queue if it is logged in;
 * if it is not, the server owes it to nobody (chattrace's Accepted). */
inline route(from, to) {
	atomic {
		routed++;
		if
		:: loggedIn[to] ->
			assert(!queueClosed[to]); /* Push on a closed queue panics */
			queued[to]++; /* q.Push(line): never blocks */
			owed[to]++
		:: else
		fi
	}
}

proctype broker() {
	mtype kind;
	byte from, to, peer;
	do /* for ev := range s.events */
	:: atomic { events?kind, from, to -> /* handled in the same step */
		if
		:: kind == LOGIN -> login(from)
		:: kind == MSG -> route(from, to)
		fi
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

/* --- write: conn.go:write and queue.go:Next ----------------------------- */

#ifdef WRITERS_NOT_WAITED
#define ALIVE !exited &&
#else
#define ALIVE
#endif

proctype write(byte id) {
	byte batch; /* taken from the queue by Next, not yet written */

end_not_started:
	writerGo[id];
#ifdef WRITERS_NOT_WAITED
end_exited_in_next: /* stopping here when the process exits is no deadlock */
#endif
	do /* for { batch, ok := q.Next(batch) ... } */
	:: atomic { ALIVE queued[id] > 0 -> /* Next takes everything queued */
		batch = queued[id];
		queued[id] = 0
	};
#ifdef WRITERS_NOT_WAITED
end_exited_in_write:
#endif
		atomic { ALIVE true -> /* writeBatch */
			delivered[id] = delivered[id] + batch;
			printf("writer %d wrote %d message(s)\n", id, batch);
			batch = 0
		}
	:: ALIVE queued[id] == 0 && queueClosed[id] -> break /* Next: closed, empty */
#ifdef SELECT_STOP
	:: atomic { stop[id] -> /* Go's select may choose this with messages queued */
		printf("writer %d: select chose stop\n", id);
		break
	}
#endif
	od;
	atomic {
		printf("writer %d returns with %d queued\n", id, queued[id]);
		writers-- /* defer s.writers.Done() */
	}
}

/* --- shutdown: server.go:Shutdown, beginShutdown and drain --------------- */

/* The property: Shutdown returned nil, so every message the server took
 * responsibility for reached the broker, and every message routed to a peer
 * was written to it. */
inline assertNothingLost() {
	byte peer;
	assert(routed == accepted);
	for (peer : 0 .. NTALKERS - 1) {
		if
		:: delivered[peer] != owed[peer] ->
			printf("LOST: peer %d was owed %d, got %d\n",
				peer, owed[peer], delivered[peer])
		:: else
		fi;
		assert(delivered[peer] == owed[peer])
	}
}

proctype shutdown() {
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
				printf("notify: reader %d is waiting: woken\n", r)
			:: readerGo[r] && !waiting[r] ->
				printf("notify: reader %d is not waiting: missed it\n", r)
			:: else
			fi
		}
	}
#endif
	/* go s.drain() */
	acceptDone; /* <-s.acceptDone */
#ifndef CLOSE_EARLY
	readers == 0; /* s.readers.Wait() */
#endif
	eventsClosed = true; /* close(s.events) */
	printf("drain: events closed\n");
	brokerDone; /* <-s.brokerDone */
#ifndef WRITERS_NOT_WAITED
	writers == 0; /* s.writers.Wait() */
#else
	exited = true;
	printf("main returns: the process exits\n");
#endif
	assertNothingLost();
	terminated = true; /* close(s.drained): Shutdown returns nil */
	printf("shutdown returned\n")
}

/* Pids, as spin -t reports them: 0 init, 1 .. NCONNS the readers 0 ..
 * NCONNS-1, then the writers 0 .. NTALKERS-1, then serve, broker, shutdown. */
init {
	byte i;
	atomic {
		for (i : 0 .. NCONNS - 1) {
			run read(i)
		}
		for (i : 0 .. NTALKERS - 1) {
			run write(i)
		}
		run serve();
		run broker();
		run shutdown() /* main calls Shutdown at some point: any point */
	}
}

/* Termination: whatever the schedule, Shutdown returns. Checked with
 * "pan -a", over every schedule, and for a bug with "pan -a -f" (weak
 * fairness), to show that even a fair scheduler hangs. The safety runs
 * compile pan with -DNOCLAIM, which leaves this claim out. */
ltl terminates { <> terminated }
