//! A line-based chat server on ringio: every line a client sends is broadcast to every
//! connected client, prefixed with the sender's name.
//!
//! Shows `BufReader::read_line` with a line limit, one `sync::Queue` per client drained
//! by that client's writer task (a slow reader only fills its own queue; when it is full
//! the client is dropped instead of stalling everyone), and `BufWriter` batching the
//! lines a writer finds queued into one send.
//!
//! ```text
//! cargo run --example chat -- --demo --clients 20   # server + 20 clients, then exits
//! cargo run --example chat -- --addr 127.0.0.1:7001 # serve until Ctrl-C
//! nc 127.0.0.1 7001                                 # in other terminals
//! ```
//!
//! Flags: `--addr` (default 127.0.0.1:7001; the demo uses a free port), `--demo`,
//! `--clients` (demo clients, default 10), `--queue` (lines queued per client before it
//! is dropped, default 256).

use clap::Parser;
use ringio::io::{BufReader, BufWriter};
use ringio::net::{TcpListener, TcpStream, TcpWriteHalf};
use ringio::sync::{Barrier, Queue};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashSet};
use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Longest line a client may send, newline included: a chat line, not a file upload.
const MAX_LINE: usize = 4096;
/// How long the demo may take before it is declared stuck.
const DEMO_TIMEOUT: Duration = Duration::from_secs(20);

/// Line-based broadcast chat server.
#[derive(Parser, Debug)]
#[command(about = "Line-based broadcast chat server (BufReader::read_line + a Queue per client)")]
struct Args {
    /// Address to listen on (ignored by --demo, which picks a free loopback port).
    #[arg(long, default_value = "127.0.0.1:7001")]
    addr: SocketAddr,
    /// Start demo clients that each say hello and check they hear everyone, then exit.
    #[arg(long)]
    demo: bool,
    /// How many demo clients.
    #[arg(long, default_value_t = 10)]
    clients: usize,
    /// Lines queued for one client before it counts as too slow and is dropped.
    #[arg(long, default_value_t = 256)]
    queue: usize,
}

/// One line to deliver; shared by every recipient's queue.
type Line = Rc<str>;
/// A client's outgoing lines, drained by its writer task.
type Outbox = Rc<Queue<Line>>;

/// The connected clients: id -> outgoing queue.
#[derive(Default)]
struct Room {
    clients: RefCell<BTreeMap<u64, Outbox>>,
    next_id: Cell<u64>,
}

impl Room {
    fn join(&self, queue_len: usize) -> (u64, String, Outbox) {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let name = format!("guest{id}");
        let queue = Rc::new(Queue::new(queue_len));
        self.clients.borrow_mut().insert(id, queue.clone());
        (id, name, queue)
    }

    fn leave(&self, id: u64) {
        if let Some(queue) = self.clients.borrow_mut().remove(&id) {
            // Wake the writer task so it ends; lines still queued are dropped.
            queue.shutdown(true);
        }
    }

    /// Queues `line` for everyone; clients whose queue is full are dropped.
    fn broadcast(&self, line: &str) {
        let line: Line = Rc::from(line);
        let mut too_slow = Vec::new();
        for (&id, queue) in self.clients.borrow().iter() {
            if queue.try_put(line.clone()).is_err() {
                too_slow.push(id);
            }
        }
        for id in too_slow {
            self.leave(id);
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    ringio::run(async move {
        let res = if args.demo {
            demo(&args).await
        } else {
            serve_until_ctrl_c(&args).await
        };
        match res {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("chat: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn serve_until_ctrl_c(args: &Args) -> io::Result<()> {
    let listener = TcpListener::bind(args.addr)?;
    let addr = listener.local_addr()?;
    println!(
        "chat on {addr}; connect with `nc {} {}`; Ctrl-C stops",
        addr.ip(),
        addr.port()
    );
    ringio::spawn(serve(listener, Rc::new(Room::default()), args.queue));
    ringio::signal::ctrl_c().await?;
    println!("\nbye");
    Ok(()) // `run` cancels the server and client tasks as it returns
}

async fn serve(listener: TcpListener, room: Rc<Room>, queue_len: usize) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let room = room.clone();
                ringio::spawn(async move {
                    match serve_client(stream, &room, queue_len).await {
                        // A client that hangs up abruptly is business as usual.
                        Err(e) if e.kind() != io::ErrorKind::ConnectionReset => {
                            eprintln!("chat: {peer}: {e}")
                        }
                        _ => {}
                    }
                });
            }
            Err(e) => eprintln!("chat: accept: {e}"),
        }
    }
}

/// Reads the client's lines and broadcasts them; a writer task sends it everyone's.
async fn serve_client(stream: TcpStream, room: &Room, queue_len: usize) -> io::Result<()> {
    let (read_half, write_half) = stream.into_split();
    let (id, name, queue) = room.join(queue_len);
    let writer = ringio::spawn(write_lines(write_half, queue.clone()));
    // The welcome goes first in the queue, so the client knows it is in the room.
    let _ = queue.try_put(Rc::from(format!("* welcome, you are {name}\n")));
    room.broadcast(&format!("* {name} joined\n"));

    let mut reader = BufReader::new(read_half).with_limit(MAX_LINE);
    let res = loop {
        let mut line = String::new();
        match reader.read_line(&mut line).await {
            Ok(0) => break Ok(()),
            Ok(_) => {
                let text = line.trim_end_matches(['\r', '\n']);
                room.broadcast(&format!("{name}: {text}\n"));
            }
            Err(e) => break Err(e),
        }
    };
    room.leave(id);
    room.broadcast(&format!("* {name} left\n"));
    let _ = writer.await;
    res
}

/// Sends the client's queued lines, as many per send as are waiting (BufWriter +
/// `flush`, asyncio's `write` + `drain`).
async fn write_lines(stream: TcpWriteHalf, queue: Outbox) {
    let mut out = BufWriter::new(stream);
    while let Ok(line) = queue.get().await {
        let mut res = out.write(line.as_bytes()).await;
        while let (Ok(()), Ok(more)) = (&res, queue.try_get()) {
            res = out.write(more.as_bytes()).await;
        }
        if res.and(out.flush().await).is_err() {
            break; // the client went away; its reader notices and leaves the room
        }
    }
    let _ = out.shutdown().await;
}

/// Starts the server and `--clients` clients; each says hello and waits until it has
/// heard every client's hello.
async fn demo(args: &Args) -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    ringio::spawn(serve(listener, Rc::new(Room::default()), args.queue));
    println!("chat demo on {addr}: {} clients", args.clients);

    let start = Instant::now();
    let everyone_in = Barrier::new(args.clients);
    let clients = (0..args.clients).map(|i| demo_client(addr, i, args.clients, &everyone_in));
    let results = ringio::time::timeout(DEMO_TIMEOUT, ringio::task::try_gather(clients))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "demo clients stuck"))??;
    let heard: usize = results.iter().sum();
    println!(
        "every client heard all {} hellos ({heard} lines delivered) in {:.1} ms",
        args.clients,
        start.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}

/// One demo client: joins, waits for everyone, says hello, reads until it has heard all
/// `total` hellos; returns how many chat lines it read.
async fn demo_client(
    addr: SocketAddr,
    i: usize,
    total: usize,
    everyone_in: &Barrier,
) -> io::Result<usize> {
    let stream = TcpStream::connect(addr).await?;
    let (read_half, write_half) = stream.into_split();
    let mut reader = BufReader::new(read_half).with_limit(MAX_LINE);
    let mut line = String::new();
    reader.read_line(&mut line).await?; // the welcome: we are in the room
    if i == 0 {
        print!("client 0 got: {line}");
    }
    everyone_in.wait().await; // nobody speaks before everyone can hear

    let mut out = BufWriter::new(write_half);
    out.write(format!("hello from client {i}\n").as_bytes())
        .await?;
    out.flush().await?;

    let mut waiting: HashSet<usize> = (0..total).collect();
    let mut lines = 0;
    while !waiting.is_empty() {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed",
            ));
        }
        lines += 1;
        if let Some((_, from)) = line.trim_end().split_once(": hello from client ") {
            let from: usize = from.parse().map_err(|_| io::Error::other("bad hello"))?;
            waiting.remove(&from);
        }
        if i == 0 && lines <= 2 {
            print!("client 0 got: {line}");
        }
    }
    Ok(lines)
}
