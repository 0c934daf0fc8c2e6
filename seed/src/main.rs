//! The seed: the "Clean Shutdown" chapter of the a-chat tutorial, in its
//! tokio version, completed as literally as its text allows. Where the text
//! elides code (`// ...`, stubs), this file fills it in the way the rest of
//! the tutorial does; where the text is code, this file follows it, bugs
//! included. It exists to be measured and compared with the Go chapters
//! (`make seed`, `make bench`, `achat compare`); docs/coming-from-rust.md
//! explains its three bugs:
//!
//! 1. `Notify::notify_waiters` reaches the `Notified` futures that exist
//!    when it is called, and stores no permit. The reader creates its
//!    `notified()` anew inside `select!` on every turn of its loop, so a
//!    reader busy with a line at that moment holds none, and misses it.
//! 2. The writers are spawned and never joined: at the end of `main` the
//!    runtime drops them, with whatever their channels still hold.
//! 3. The reader reads the login line before its `select!`, where nothing
//!    wakes it: a client that connects and never sends its name keeps its
//!    reader, and with it a sender of the broker's channel, alive, so the
//!    broker never ends and `broker.await` waits for ever.
//!
//! Usage: `seed [ADDR]` (default 127.0.0.1:8080). The first line of a client
//! is its name; each later line is `name1, name2: text`.

use std::{
    collections::hash_map::{Entry, HashMap},
    future::Future,
    sync::Arc,
};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{tcp::OwnedWriteHalf, TcpListener, TcpStream, ToSocketAddrs},
    sync::{mpsc, oneshot, Notify},
    task,
};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;
type Sender<T> = mpsc::UnboundedSender<T>;
type Receiver<T> = mpsc::UnboundedReceiver<T>;

#[derive(Debug)] // as in the tutorial: send(...).unwrap() prints the event it could not send
enum Event {
    NewPeer {
        name: String,
        stream: OwnedWriteHalf,
        shutdown: oneshot::Receiver<()>,
    },
    Message {
        from: String,
        to: Vec<String>,
        msg: String,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_string());
    accept_loop(addr).await
}

// The chapter's accept_loop, as written.
async fn accept_loop(addr: impl ToSocketAddrs) -> Result<()> {
    let listener = TcpListener::bind(addr).await?;
    // Not in the chapter: the address, so that a test can find a free port.
    println!("Listening on {}", listener.local_addr()?);

    let (broker_sender, broker_receiver) = mpsc::unbounded_channel();
    let broker = task::spawn(broker_loop(broker_receiver));
    let shutdown_notification = Arc::new(Notify::new());

    loop {
        tokio::select! {
            Ok((stream, _socket_addr)) = listener.accept() => {
                // The chapter's `?`: an error here ends the accept loop, and
                // main, without a shutdown.
                println!("Accepting from: {}", stream.peer_addr()?);
                spawn_and_log_error(connection_loop(broker_sender.clone(), stream, shutdown_notification.clone()));
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    println!("Shutting down server!");
    shutdown_notification.notify_waiters(); // 1
    drop(broker_sender); // 2
    broker.await?; // 5
    Ok(())
}

// The chapter shows the loop of connection_loop; what comes before it is the
// tutorial's: the first line is the name, read before the loop (bug 3), and
// a oneshot whose sender the reader holds tells the writer that its reader
// is gone.
async fn connection_loop(broker: Sender<Event>, stream: TcpStream, shutdown: Arc<Notify>) -> Result<()> {
    let (reader, writer) = stream.into_split();
    let mut lines = BufReader::new(reader).lines();

    let name = match lines.next_line().await? {
        None => return Err("peer disconnected immediately".into()),
        Some(line) => line,
    };
    let (_shutdown_sender, shutdown_receiver) = oneshot::channel::<()>();
    broker
        .send(Event::NewPeer {
            name: name.clone(),
            stream: writer,
            shutdown: shutdown_receiver,
        })
        .unwrap();

    loop {
        tokio::select! {
            // At the end of the input, next_line gives Ok(None): the pattern
            // does not match, select! disables the branch, and the reader
            // waits for the notification alone.
            Ok(Some(line)) = lines.next_line() => {
                let (dest, msg) = match line.split_once(':') {
                    None => continue,
                    Some((dest, msg)) => (dest, msg.trim()),
                };
                let dest: Vec<String> = dest
                    .split(',')
                    .map(|name| name.trim().to_string())
                    .collect();
                let msg: String = msg.trim().to_string();

                broker
                    .send(Event::Message {
                        from: name.clone(),
                        to: dest,
                        msg,
                    })
                    .unwrap();
            },
            _ = shutdown.notified() => break, // bug 1: a new Notified each turn
        }
    }
    Ok(())
}

// Not shown in the chapter: the tutorial's writer. It writes what the broker
// sends it until the broker drops its sender, or until its reader is gone
// (the oneshot's sender dropped).
async fn connection_writer_loop(
    messages: &mut Receiver<String>,
    stream: &mut OwnedWriteHalf,
    mut shutdown: oneshot::Receiver<()>,
) -> Result<()> {
    loop {
        tokio::select! {
            msg = messages.recv() => match msg {
                Some(msg) => stream.write_all(msg.as_bytes()).await?,
                None => break,
            },
            _ = &mut shutdown => break,
        }
    }
    Ok(())
}

// The chapter's broker_loop, with its `// ...` filled as the tutorial's
// earlier chapters do, and the shutdown receiver it forgot in NewPeer's
// pattern passed on to the writer.
async fn broker_loop(mut events: Receiver<Event>) {
    let mut peers: HashMap<String, Sender<String>> = HashMap::new();

    loop {
        let event = match events.recv().await {
            Some(event) => event,
            None => break,
        };
        match event {
            Event::Message { from, to, msg } => {
                for addr in to {
                    if let Some(peer) = peers.get_mut(&addr) {
                        let msg = format!("from {}: {}\n", from, msg);
                        peer.send(msg).unwrap();
                    }
                }
            }
            Event::NewPeer {
                name,
                mut stream,
                shutdown,
            } => match peers.entry(name.clone()) {
                Entry::Occupied(..) => (),
                Entry::Vacant(entry) => {
                    let (client_sender, mut client_receiver) = mpsc::unbounded_channel();
                    entry.insert(client_sender);
                    // bug 2: spawned, and never joined.
                    spawn_and_log_error(async move {
                        connection_writer_loop(&mut client_receiver, &mut stream, shutdown).await
                    });
                }
            },
        }
    }

    drop(peers) // 4
}

// The chapter's stub, filled as the tutorial fills it.
fn spawn_and_log_error<F>(fut: F) -> task::JoinHandle<()>
where
    F: Future<Output = Result<()>> + Send + 'static,
{
    task::spawn(async move {
        if let Err(e) = fut.await {
            eprintln!("{}", e)
        }
    })
}
