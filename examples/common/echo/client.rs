//! The load generator: closed-loop echo connections on one ringio core.
//!
//! Each connection sends a request, reads the whole reply, checks every byte, and only
//! then sends the next one. All connections are tasks on the calling runtime; their
//! counters live in one [`Shared`] behind an `Rc` (one thread, so `Cell`s, no locks).

use super::payload;
use super::report::{ErrorCounts, ErrorKind, Latency, Report};
use hdrhistogram::Histogram;
use ringio::JoinHandle;
use ringio::buf::IoBuf;
use ringio::net::TcpStream;
use ringio::sync::Semaphore;
use ringio::time::{interval, sleep, timeout};
use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Highest latency the histogram tells apart: 60 s, far past any sane echo; slower
/// requests are recorded as 60 s rather than dropped.
const HIST_MAX_US: u64 = 60_000_000;
/// Significant digits of the histogram: 3 gives 0.1% resolution in a few tens of KiB.
const HIST_SIGFIGS: u8 = 3;
/// How often the progress line is printed; the brief asks for one per second.
const PROGRESS_PERIOD: Duration = Duration::from_secs(1);
/// How long connections get to finish the request they have in flight when the run
/// ends: a healthy loopback echo answers in well under a millisecond, so 2 s only
/// matters when the server hangs; then the stuck tasks are cancelled and counted as errors.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// Errors printed one by one; later ones are only counted, so a broken server cannot
/// flood the terminal with thousands of lines.
const MAX_ERROR_LINES: u64 = 10;

/// What the load generator should do.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// The echo server.
    pub addr: SocketAddr,
    /// Connections to open.
    pub conns: usize,
    /// Bytes per request (and per reply).
    pub size: usize,
    /// Length of the measured window.
    pub duration: Duration,
    /// Time before the measured window: connections come up, caches warm.
    pub warmup: Duration,
    /// Connects in flight at once at most.
    pub connect_concurrency: usize,
    /// Whether to print the progress line on stderr every second.
    pub progress: bool,
}

/// The edges of the measured window, reported to the caller as they pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Warm-up is over: counting starts now.
    Measuring,
    /// The window is over: counting has stopped, connections are closing.
    Done,
}

/// State every connection task shares.
struct Shared {
    addr: SocketAddr,
    size: usize,
    /// Set when the run is over: each connection stops after its request in flight.
    stop: Cell<bool>,
    /// Set inside the measured window: completed requests count and are timed.
    measuring: Cell<bool>,
    conns_up: Cell<usize>,
    conns_up_peak: Cell<usize>,
    requests: Cell<u64>,
    requests_total: Cell<u64>,
    bytes_verified: Cell<u64>,
    errors: Cell<ErrorCounts>,
    latency_us: RefCell<Histogram<u64>>,
    connect_slots: Semaphore,
}

impl Shared {
    fn conn_up(&self) {
        let up = self.conns_up.get() + 1;
        self.conns_up.set(up);
        self.conns_up_peak.set(self.conns_up_peak.get().max(up));
    }

    fn conn_down(&self) {
        self.conns_up.set(self.conns_up.get() - 1);
    }

    /// One request came back whole and verified.
    fn completed(&self, latency: Duration) {
        self.requests_total.set(self.requests_total.get() + 1);
        self.bytes_verified
            .set(self.bytes_verified.get() + self.size as u64);
        if self.measuring.get() {
            self.requests.set(self.requests.get() + 1);
            let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
            self.latency_us.borrow_mut().saturating_record(us);
        }
    }

    /// Counts an error and prints it if fewer than [`MAX_ERROR_LINES`] were printed.
    fn fail(&self, kind: ErrorKind, conn: u64, what: &str) {
        let mut errors = self.errors.get();
        errors.add(kind);
        self.errors.set(errors);
        let n = errors.total();
        if n <= MAX_ERROR_LINES {
            eprintln!("error: connection {conn}: {}: {what}", kind.name());
        }
        if n == MAX_ERROR_LINES {
            eprintln!("(further errors are counted, not shown)");
        }
    }
}

/// Runs the load: opens `cfg.conns` connections, drives them for warm-up plus the
/// measured window, stops every one of them, and reports. `on_phase` is called as the
/// measured window opens and closes (the benchmark samples the server's counters there).
///
/// # Panics
///
/// Outside a ringio runtime.
pub async fn run_load(cfg: &LoadConfig, mut on_phase: impl FnMut(Phase)) -> Report {
    let latency_us = Histogram::new_with_bounds(1, HIST_MAX_US, HIST_SIGFIGS)
        .expect("constant histogram bounds are valid");
    let shared = Rc::new(Shared {
        addr: cfg.addr,
        size: cfg.size,
        stop: Cell::new(false),
        measuring: Cell::new(false),
        conns_up: Cell::new(0),
        conns_up_peak: Cell::new(0),
        requests: Cell::new(0),
        requests_total: Cell::new(0),
        bytes_verified: Cell::new(0),
        errors: Cell::new(ErrorCounts::default()),
        latency_us: RefCell::new(latency_us),
        connect_slots: Semaphore::new(cfg.connect_concurrency),
    });
    let start = Instant::now();
    let mut tasks: Vec<JoinHandle<()>> = (0..cfg.conns as u64)
        .map(|id| ringio::spawn(connection(shared.clone(), id)))
        .collect();
    let progress = cfg
        .progress
        .then(|| ringio::spawn(progress(shared.clone(), start)));

    sleep(cfg.warmup).await;
    shared.measuring.set(true);
    let window_start = Instant::now();
    on_phase(Phase::Measuring);
    sleep(cfg.duration).await;
    shared.measuring.set(false);
    let measured = window_start.elapsed();
    on_phase(Phase::Done);

    shared.stop.set(true);
    let _ = timeout(STOP_GRACE, async {
        for task in tasks.iter_mut() {
            let _ = task.await;
        }
    })
    .await;
    // Whatever is still stuck (a server that stopped answering) counts as an error, is
    // cancelled, and is awaited so that its socket is closed before the report goes out.
    for (id, task) in tasks.iter().enumerate() {
        if task.cancel() {
            let what = format!("no reply {STOP_GRACE:?} after the run ended; cancelled");
            shared.fail(ErrorKind::Other, id as u64, &what);
        }
    }
    for task in tasks {
        let _ = task.await;
    }
    if let Some(p) = progress {
        p.cancel();
        let _ = p.await;
    }
    let peak = shared.conns_up_peak.get();
    if peak < cfg.conns {
        // Not an error (nothing failed), but the figures are for fewer connections.
        eprintln!(
            "warning: only {peak} of {} connections got an echo back during the run",
            cfg.conns
        );
    }

    Report {
        conns: cfg.conns,
        conns_up: peak,
        size: cfg.size,
        warmup: cfg.warmup,
        measured,
        requests: shared.requests.get(),
        requests_total: shared.requests_total.get(),
        latency: Latency::of(&shared.latency_us.borrow()),
        bytes_verified: shared.bytes_verified.get(),
        errors: shared.errors.get(),
    }
}

/// One connection: connect (at most `connect_concurrency` at once), then request,
/// reply, verify, until the run stops or something fails. A failed connection is not
/// reopened: it is counted and the run goes on with the others.
async fn connection(sh: Rc<Shared>, id: u64) {
    let stream = {
        let _slot = sh.connect_slots.acquire().await;
        if sh.stop.get() {
            return;
        }
        match TcpStream::connect(sh.addr).await {
            Ok(s) => s,
            Err(e) => return sh.fail(ErrorKind::Connect, id, &e.to_string()),
        }
    };
    // Nagle would hold each small request back waiting for the previous reply's ACK.
    let _ = stream.set_nodelay(true);
    let size = sh.size;
    let mut sent = vec![0u8; size];
    let mut reply = vec![0u8; size];
    let mut up = false;
    let mut req: u64 = 0;
    while !sh.stop.get() {
        payload::fill(&mut sent, id, req);
        let t0 = Instant::now();
        let (res, buf) = stream.write_all(sent).await;
        sent = buf;
        if let Err(e) = res {
            sh.fail(ErrorKind::of_io(&e), id, &format!("write: {e}"));
            break;
        }
        let (res, buf) = stream.read_exact(reply.slice(..size)).await;
        reply = buf.into_inner();
        let latency = t0.elapsed();
        if let Err(e) = res {
            sh.fail(ErrorKind::of_io(&e), id, &format!("read: {e}"));
            break;
        }
        if let Some(m) = payload::check(&sent, &reply) {
            let what = format!(
                "request {req}: byte {} came back as {:#04x}, sent {:#04x}",
                m.offset, m.got, m.expected
            );
            sh.fail(ErrorKind::Verify, id, &what);
            // The stream can no longer be trusted to be in step: close it.
            break;
        }
        if !up {
            up = true;
            sh.conn_up();
        }
        sh.completed(latency);
        req += 1;
    }
    if up {
        sh.conn_down();
    }
}

/// Prints `t=3s conns_up=1000 req/s=123456 errors=0` on stderr once a period.
async fn progress(sh: Rc<Shared>, start: Instant) {
    let mut ticks = interval(PROGRESS_PERIOD);
    ticks.tick().await; // the first tick is immediate
    let mut last_total = sh.requests_total.get();
    let mut last_at = Instant::now();
    loop {
        ticks.tick().await;
        let now = Instant::now();
        let total = sh.requests_total.get();
        let rate = (total - last_total) as f64 / now.duration_since(last_at).as_secs_f64();
        eprintln!(
            "t={}s conns_up={} req/s={:.0} errors={}",
            now.duration_since(start).as_secs_f64().round(),
            sh.conns_up.get(),
            rate,
            sh.errors.get().total()
        );
        last_total = total;
        last_at = now;
    }
}
