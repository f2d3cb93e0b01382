//! An echo server for fault tests: a one-core runtime on its own thread, pinned to the
//! first CPU, that echoes every connection with the echo example's `recv_stream` handler
//! (optionally with an idle timeout on each receive) and publishes a [`Snap`] of its
//! counters and runtime metrics every [`PUBLISH_EVERY`] for the test thread to read.

use ringio::Runtime;
use ringio::net::{TcpListener, TcpStream};
use ringio::time::{sleep, timeout};
use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the server core publishes its counters for the test thread.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(2);

pub fn bump(c: &Cell<u64>, by: u64) {
    c.set(c.get() + by);
}

/// Counters of the server core (one core: plain cells).
#[derive(Default)]
struct Counters {
    accepted: Cell<u64>,
    open: Cell<u64>,
    eof: Cell<u64>,
    recv_errors: Cell<u64>,
    write_errors: Cell<u64>,
    timeouts: Cell<u64>,
    bytes: Cell<u64>,
}

/// What the server core last published.
#[derive(Clone, Copy, Debug, Default)]
pub struct Snap {
    /// Publications so far: a snapshot with a later `seq` was taken later.
    pub seq: u64,
    pub ops_in_flight: usize,
    pub tasks_alive: usize,
    pub timers_pending: usize,
    pub pool_in_use: usize,
    pub pool_buffers: usize,
    pub accepted: u64,
    pub open: u64,
    /// Handlers ended by the peer's EOF, a failed receive, a failed write, the idle timeout.
    pub eof: u64,
    pub recv_errors: u64,
    pub write_errors: u64,
    pub timeouts: u64,
    /// Bytes echoed.
    pub bytes: u64,
    /// The core's `io_uring_enter` calls: one per loop turn that waits, so a core left
    /// spinning shows as tens of thousands a second, an idle one as its publications.
    pub enters: u64,
}

impl Snap {
    /// The server-side state that must come back to baseline once every peer is gone.
    pub fn state(&self) -> (usize, usize, usize, usize, u64) {
        (
            self.ops_in_flight,
            self.tasks_alive,
            self.timers_pending,
            self.pool_in_use,
            self.open,
        )
    }

    /// Handlers ended by an error, in the receive or in the write.
    pub fn errors(&self) -> u64 {
        self.recv_errors + self.write_errors
    }
}

/// The echo server on its own thread; stopped and joined when dropped.
pub struct Server {
    pub addr: SocketAddr,
    /// Where the server core publishes; [`Server::snap`] reads it.
    pub snap: Arc<Mutex<Snap>>,
    /// How long [`Server::fresh`] and [`Server::settle`] wait.
    limit: Duration,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts the server; each connection is closed once it sends nothing for `idle`, if
    /// given. `limit` bounds the waits of [`Server::fresh`] and [`Server::settle`].
    pub fn start(idle: Option<Duration>, limit: Duration) -> Server {
        let snap = Arc::new(Mutex::new(Snap::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = {
            let (snap, stop) = (snap.clone(), stop.clone());
            std::thread::spawn(move || {
                let rt = Runtime::builder()
                    .workers(1)
                    .pin_cores(true)
                    .build()
                    .unwrap();
                rt.block_on(serve(idle, tx, snap, stop));
            })
        };
        let addr = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("server address");
        let server = Server {
            addr,
            snap,
            limit,
            stop,
            thread: Some(thread),
        };
        server.fresh();
        server
    }

    /// The last snapshot published.
    pub fn snap(&self) -> Snap {
        *self.snap.lock().unwrap()
    }

    /// A snapshot taken after this call began.
    pub fn fresh(&self) -> Snap {
        let seq = self.snap().seq;
        let deadline = Instant::now() + self.limit;
        loop {
            let s = self.snap();
            if s.seq >= seq + 2 {
                return s;
            }
            assert!(Instant::now() < deadline, "the server stopped publishing");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Waits until `cond` holds for a fresh snapshot; returns the last one seen and
    /// whether it held.
    pub fn settle(&self, mut cond: impl FnMut(&Snap) -> bool) -> (Snap, bool) {
        let deadline = Instant::now() + self.limit;
        loop {
            let s = self.fresh();
            if cond(&s) {
                return (s, true);
            }
            if Instant::now() > deadline {
                return (s, false);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let res = t.join();
            if !std::thread::panicking() {
                res.expect("the server thread panicked");
            }
        }
    }
}

async fn serve(
    idle: Option<Duration>,
    tx: std::sync::mpsc::Sender<SocketAddr>,
    snap: Arc<Mutex<Snap>>,
    stop: Arc<AtomicBool>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    tx.send(listener.local_addr().unwrap()).unwrap();
    let counters = Rc::new(Counters::default());
    let c = counters.clone();
    let acceptor = ringio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    bump(&c.accepted, 1);
                    bump(&c.open, 1);
                    drop(ringio::spawn(echo(stream, idle, c.clone())));
                }
                Err(e) => {
                    eprintln!("server: accept failed: {e}");
                    sleep(Duration::from_millis(1)).await;
                }
            }
        }
    });
    let mut seq = 0;
    while !stop.load(Ordering::Acquire) {
        seq += 1;
        let m = ringio::metrics();
        let c = &counters;
        *snap.lock().unwrap() = Snap {
            seq,
            ops_in_flight: m.ops_in_flight,
            tasks_alive: m.tasks_alive,
            timers_pending: m.timers_pending,
            pool_in_use: m.pool_in_use,
            pool_buffers: m.pool_buffers,
            accepted: c.accepted.get(),
            open: c.open.get(),
            eof: c.eof.get(),
            recv_errors: c.recv_errors.get(),
            write_errors: c.write_errors.get(),
            timeouts: c.timeouts.get(),
            bytes: c.bytes.get(),
            enters: m.enters,
        };
        sleep(PUBLISH_EVERY).await;
    }
    acceptor.cancel();
}

/// The echo example's `recv_stream` handler, with an idle timeout on each receive if
/// `idle` is given, counting how it ended.
async fn echo(stream: TcpStream, idle: Option<Duration>, c: Rc<Counters>) {
    let ended = {
        let mut data = stream.recv_stream();
        loop {
            let next = match idle {
                Some(idle) => match timeout(idle, data.next()).await {
                    Ok(next) => next,
                    Err(_) => break &c.timeouts,
                },
                None => data.next().await,
            };
            match next {
                None => break &c.eof,
                Some(Err(_)) => break &c.recv_errors,
                Some(Ok(buf)) => {
                    let n = buf.len() as u64;
                    if stream.write_all(buf).await.0.is_err() {
                        break &c.write_errors;
                    }
                    bump(&c.bytes, n);
                }
            }
        }
    };
    bump(ended, 1);
    c.open.set(c.open.get() - 1);
}

/// CPUs for client threads: every CPU but the server's, when there is more than one.
pub fn client_cpus() -> Vec<usize> {
    let cpus = ringio::runtime::available_cpus();
    if cpus.len() > 1 {
        cpus[1..].to_vec()
    } else {
        Vec::new()
    }
}

/// Pins the calling thread to `cpus`; does nothing if it is empty.
pub fn pin_current_thread(cpus: &[usize]) {
    if cpus.is_empty() {
        return;
    }
    // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        // SAFETY: `set` is a live cpu_set_t and CPU_SET bounds-checks `cpu`.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: sched_setaffinity reads `size_of::<cpu_set_t>()` bytes of the live `set`.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    assert_eq!(
        rc,
        0,
        "sched_setaffinity: {}",
        std::io::Error::last_os_error()
    );
}
