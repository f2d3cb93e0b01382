//! The echo server: one accept loop, one task per connection.
//!
//! Three ways to receive, to compare them (`--recv`):
//! - `stream` (default): one multishot receive per connection into the core's buffer
//!   pool (`TcpStream::recv_stream`); each chunk is sent back in the pooled buffer it
//!   came in, which returns to the pool once sent. An idle connection holds no buffer.
//! - `pooled`: one receive per message into the pool (`TcpStream::recv_pooled`).
//! - `owned`: one receive per message into the connection's own `--buf`-sized `Vec`.
//! - `compat` (built with the feature `tokio-io`): the stream's halves through
//!   `compat::Compat` and `tokio::io::copy_buf`, as code written against tokio's I/O
//!   traits runs on ringio: receives into the pool, one copy into the send buffer.
//!
//! For a graceful shutdown, [`serve_with`] counts each core's open connections in a
//! [`Connections`], which can wait for them to close and cut those still open.
//!
//! A [`ConnLimit`] (`--max-conns`, shared by every core) bounds the connections open at
//! once: past it, a new connection is accepted and closed at once (its client reads end
//! of stream), and counted. Accepting it rather than leaving it in the kernel's backlog
//! keeps the backlog from filling with connections nobody serves, and tells the client
//! now instead of after its connect timeout.

use ringio::JoinHandle;
use ringio::buf::IoBuf;
use ringio::net::{TcpListener, TcpStream, is_fd_exhaustion};
use ringio::sync::Event;
use slab::Slab;
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Pause after an accept error other than fd exhaustion (which the listener paces by
/// itself). Such errors are rare and usually transient (ECONNABORTED); 1 ms keeps a
/// persistent one from spinning a core while adding no visible delay to a transient one.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(1);

/// Default `--max-conns`: far above what a benchmark opens (10,000 connections), low
/// enough that a flood of idle connections stops at about 100 MB of server memory (under
/// 1 KiB of heap each, plus the kernel's socket memory).
pub const DEFAULT_MAX_CONNS: usize = 100_000;

/// The most connections the server keeps open at once, over all its cores, and how many
/// it closed at once for being over that (module docs).
#[derive(Debug)]
pub struct ConnLimit {
    max: usize,
    open: AtomicUsize,
    refused: AtomicU64,
}

impl ConnLimit {
    /// A limit of `max` open connections.
    pub fn new(max: usize) -> Arc<ConnLimit> {
        Arc::new(ConnLimit {
            max,
            open: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
        })
    }

    /// The limit.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Connections closed at once because `max` were open.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Counts one more open connection if there is room; else counts a refusal and
    /// returns false (true the first time, in the second value, so that it is said once).
    fn admit(&self) -> (bool, bool) {
        let room = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .is_ok();
        if room {
            return (true, false);
        }
        (false, self.refused.fetch_add(1, Ordering::Relaxed) == 0)
    }

    fn close(&self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How the server receives (module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum RecvMode {
    #[default]
    Stream,
    Pooled,
    Owned,
    #[cfg(feature = "tokio-io")]
    Compat,
}

/// Accepts connections forever and echoes each on its own task, receiving as `mode`
/// says (`buf_size`: the per-connection buffer of `RecvMode::Owned`).
///
/// Accept errors never end the loop: running out of descriptors is reported once (the
/// listener then backs off by itself and existing connections go on being served);
/// any other error is printed and the loop goes on. Connections past the limit of
/// `conns` are closed at once, counted, and the first of them is reported.
pub async fn serve(listener: TcpListener, mode: RecvMode, buf_size: usize) {
    serve_with(listener, mode, buf_size, Rc::default()).await;
}

/// As [`serve`], counting the connections in `conns` (one per core), which can cut them.
pub async fn serve_with(
    listener: TcpListener,
    mode: RecvMode,
    buf_size: usize,
    conns: Rc<Connections>,
) {
    let mut warned_fds = false;
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                let (admitted, first_refusal) = conns.limit.admit();
                if !admitted {
                    if first_refusal {
                        eprintln!(
                            "{} connections open (--max-conns): closing new ones at once",
                            conns.limit.max()
                        );
                    }
                    drop(stream);
                    continue;
                }
                // A failure here means the connection is already gone: its first
                // receive will say so.
                let _ = stream.set_nodelay(true);
                match mode {
                    RecvMode::Stream => conns.spawn(|open| echo_stream(stream, open)),
                    RecvMode::Pooled => conns.spawn(|open| echo_pooled(stream, open)),
                    RecvMode::Owned => conns.spawn(|open| echo_owned(stream, buf_size, open)),
                    #[cfg(feature = "tokio-io")]
                    RecvMode::Compat => conns.spawn(|open| echo_compat(stream, open)),
                }
            }
            Err(e) if is_fd_exhaustion(&e) => {
                if !warned_fds {
                    warned_fds = true;
                    eprintln!("out of file descriptors; backing off");
                }
            }
            Err(e) => {
                eprintln!("accept failed: {e}");
                ringio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
}

/// The open connections of one core's [`serve_with`]: their tasks, to cut them.
pub struct Connections {
    tasks: RefCell<Slab<JoinHandle<()>>>,
    /// Set while no connection is open.
    idle: Event,
    /// The server-wide bound on open connections.
    limit: Arc<ConnLimit>,
}

impl Default for Connections {
    /// A core's connections under a limit of its own, [`DEFAULT_MAX_CONNS`].
    fn default() -> Self {
        Connections::with_limit(ConnLimit::new(DEFAULT_MAX_CONNS))
    }
}

/// One open connection's place in its [`Connections`], given up when its task ends.
struct Open {
    conns: Rc<Connections>,
    key: usize,
}

impl Connections {
    /// A core's connections, counted in `limit` (shared with the other cores).
    pub fn with_limit(limit: Arc<ConnLimit>) -> Connections {
        Connections {
            tasks: RefCell::default(),
            idle: Event::default(),
            limit,
        }
    }

    /// Spawns the echo of one connection, which holds its [`Open`] place until it ends.
    /// Costs a slab entry per connection and nothing per request. The echo takes the
    /// place itself: an `async` block holding both would store the echo's future twice
    /// (as captured, and as awaited), doubling every connection's task.
    fn spawn<F>(self: &Rc<Self>, echo: impl FnOnce(Open) -> F)
    where
        F: Future<Output = ()> + 'static,
    {
        let mut tasks = self.tasks.borrow_mut();
        let open = Open {
            conns: self.clone(),
            key: tasks.vacant_key(),
        };
        self.idle.clear();
        // Tasks first run at the core's next turn, so the key is still vacant here.
        let task = ringio::spawn(echo(open));
        tasks.insert(task);
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.tasks.borrow().len()
    }

    /// Waits up to `grace` for the open connections to close, then cuts those still
    /// open (a cancelled task drops its stream, which closes it) and waits until they are
    /// closed. Returns how many were cut. Call it once the listener is gone, so that no
    /// connection opens meanwhile.
    pub async fn close_within(&self, grace: Duration) -> usize {
        if self.open() == 0 {
            return 0;
        }
        let _ = ringio::time::timeout(grace, self.idle.wait()).await;
        let cut = self.open();
        if cut > 0 {
            for (_, task) in self.tasks.borrow().iter() {
                task.cancel();
            }
            self.idle.wait().await;
        }
        cut
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.conns.limit.close();
        let mut tasks = self.conns.tasks.borrow_mut();
        // The handle goes with the task it names: dropping it detaches nothing left.
        drop(tasks.try_remove(self.key));
        if tasks.is_empty() {
            self.conns.idle.set();
        }
    }
}

/// Echoes every chunk of a multishot receive until the peer closes or the connection
/// fails (errors end the task: the client counts its own).
async fn echo_stream(stream: TcpStream, _open: Open) {
    let mut data = stream.recv_stream();
    while let Some(Ok(buf)) = data.next().await {
        if stream.write_all(buf).await.0.is_err() {
            return;
        }
    }
}

/// Echoes one pooled receive at a time until the peer closes or the connection fails.
async fn echo_pooled(stream: TcpStream, _open: Open) {
    loop {
        match stream.recv_pooled().await {
            Ok(buf) if !buf.is_empty() => {
                if stream.write_all(buf).await.0.is_err() {
                    return;
                }
            }
            _ => return, // closed or reset
        }
    }
}

/// Echoes every byte until the peer closes or the connection fails. One buffer per
/// connection, reused for every read.
async fn echo_owned(stream: TcpStream, buf_size: usize, _open: Open) {
    let mut buf = vec![0u8; buf_size];
    loop {
        let (res, b) = stream.read(buf).await;
        let n = match res {
            Ok(0) | Err(_) => return, // closed or reset: the client counts its own errors
            Ok(n) => n,
        };
        let (res, b) = stream.write_all(b.slice(..n)).await;
        if res.is_err() {
            return;
        }
        buf = b.into_inner();
    }
}

/// Echoes through the tokio-io compat layer until the peer closes or the connection
/// fails: `copy_buf` from the read half's pool buffers to the write half.
#[cfg(feature = "tokio-io")]
async fn echo_compat(stream: TcpStream, _open: Open) {
    let (read, write) = stream.into_split();
    let (mut read, mut write) = (
        ringio::compat::Compat::new(read),
        ringio::compat::Compat::new(write),
    );
    let _ = tokio::io::copy_buf(&mut read, &mut write).await;
}
