//! The load generator: echo connections spread over one or more ringio cores.
//!
//! Closed loop (`rate == 0`): each connection sends a request, reads the whole reply,
//! checks every byte, and only then sends the next one. Open loop (`rate > 0`): each
//! connection sends on the [`Schedule`] of [`pacing`](super::pacing), still one request
//! in flight, and latency runs from each request's scheduled time.
//!
//! Connection `id` runs on core `id % workers`. Each core keeps its counters in its own
//! [`Shared`] behind an `Rc` (one thread, so `Cell`s, no locks) and returns a
//! [`CoreTally`] that core 0's caller merges. The only cross-core state is the
//! [`LiveBoard`] the progress line reads, written by one core per slot.

use super::pacing::Schedule;
use super::payload;
use super::report::{ErrorCounts, ErrorKind, Report};
use super::tally::{CoreTally, merge_all, new_histogram};
use hdrhistogram::Histogram;
use ringio::JoinHandle;
use ringio::buf::IoBuf;
use ringio::net::TcpStream;
use ringio::runtime::Backend;
use ringio::sync::{Event, Semaphore};
use ringio::time::{interval, sleep_until, timeout, timeout_at};
use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often the progress line is printed; the brief asks for one per second.
const PROGRESS_PERIOD: Duration = Duration::from_secs(1);
/// How long connections get to finish the request they have in flight when the run
/// ends: a healthy loopback echo answers in well under a millisecond, so 2 s only
/// matters when the server hangs; then the stuck tasks are cancelled and counted as errors.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// Errors printed one by one (per core); later ones are only counted, so a broken
/// server cannot flood the terminal with thousands of lines.
const MAX_ERROR_LINES: u64 = 10;

/// What the load generator should do.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// The echo server.
    pub addr: SocketAddr,
    /// The client runtime's I/O backend; `None`: `RINGIO_BACKEND` or Auto decide.
    pub backend: Option<Backend>,
    /// Connections to open, over all client cores.
    pub conns: usize,
    /// Bytes per request (and per reply).
    pub size: usize,
    /// Length of the measured window.
    pub duration: Duration,
    /// Time before the measured window: connections come up, caches warm.
    pub warmup: Duration,
    /// Connects in flight at once at most, over all client cores.
    pub connect_concurrency: usize,
    /// Offered requests a second over all connections; 0 is closed loop.
    pub rate: u64,
    /// Client cores.
    pub workers: usize,
    /// CPU to pin client core `i` to (`cpus[i]`); empty: not pinned.
    pub cpus: Vec<usize>,
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

/// One core's live figures for the progress line: written only by that core, read by
/// core 0 once a second. Aligned to its own cache lines so cores do not contend.
#[derive(Default)]
#[repr(align(128))]
pub struct LiveSlot {
    conns_up: AtomicU64,
    requests_total: AtomicU64,
    errors: AtomicU64,
}

impl LiveSlot {
    /// Adds `n` to a counter only this core writes (a plain store: no locked add).
    fn bump(counter: &AtomicU64, n: u64) {
        counter.store(
            counter.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// One more connection of this core is up.
    pub fn conn_up(&self) {
        Self::bump(&self.conns_up, 1);
    }

    /// One connection of this core went down.
    pub fn conn_down(&self) {
        Self::bump(&self.conns_up, u64::MAX); // wrapping: minus one
    }

    /// One more request of this core completed.
    pub fn completed(&self) {
        Self::bump(&self.requests_total, 1);
    }

    /// One more error on this core.
    pub fn failed(&self) {
        Self::bump(&self.errors, 1);
    }
}

/// One [`LiveSlot`] per client core.
pub type LiveBoard = [LiveSlot];

/// State every connection task of one core shares.
struct Shared {
    cfg: LoadConfig,
    /// The progress board; this core writes slot `core` only.
    live: Arc<LiveBoard>,
    core: usize,
    /// When the run started: the open-loop schedules count from here.
    start: Instant,
    /// Set when the run is over: each connection stops after its request in flight.
    stop: Event,
    /// Set inside the measured window: completed requests count and are timed.
    measuring: Cell<bool>,
    conns_up: Cell<usize>,
    conns_up_peak: Cell<usize>,
    requests: Cell<u64>,
    requests_total: Cell<u64>,
    behind: Cell<u64>,
    bytes_verified: Cell<u64>,
    errors: Cell<ErrorCounts>,
    latency_us: RefCell<Histogram<u64>>,
    send_lag_us: RefCell<Histogram<u64>>,
    connect_slots: Semaphore,
}

impl Shared {
    fn live(&self) -> &LiveSlot {
        &self.live[self.core]
    }

    fn conn_up(&self) {
        let up = self.conns_up.get() + 1;
        self.conns_up.set(up);
        self.conns_up_peak.set(self.conns_up_peak.get().max(up));
        self.live().conn_up();
    }

    fn conn_down(&self) {
        self.conns_up.set(self.conns_up.get() - 1);
        self.live().conn_down();
    }

    /// One request came back whole and verified; `late` and `lag` only in open loop.
    fn completed(&self, latency: Duration, lag: Option<(Duration, bool)>) {
        self.requests_total.set(self.requests_total.get() + 1);
        self.live().completed();
        self.bytes_verified
            .set(self.bytes_verified.get() + self.cfg.size as u64);
        if self.measuring.get() {
            self.requests.set(self.requests.get() + 1);
            self.latency_us
                .borrow_mut()
                .saturating_record(micros(latency));
            if let Some((lag, late)) = lag {
                self.send_lag_us.borrow_mut().saturating_record(micros(lag));
                self.behind.set(self.behind.get() + u64::from(late));
            }
        }
    }

    /// Counts an error and prints it if fewer than [`MAX_ERROR_LINES`] were printed.
    fn fail(&self, kind: ErrorKind, conn: u64, what: &str) {
        let mut errors = self.errors.get();
        errors.add(kind);
        self.errors.set(errors);
        self.live().failed();
        let n = errors.total();
        if n <= MAX_ERROR_LINES {
            eprintln!("error: connection {conn}: {}: {what}", kind.name());
        }
        if n == MAX_ERROR_LINES {
            eprintln!("(further errors on this core are counted, not shown)");
        }
    }

    fn tally(&self) -> CoreTally {
        CoreTally {
            conns_up_peak: self.conns_up_peak.get(),
            requests: self.requests.get(),
            requests_total: self.requests_total.get(),
            behind: self.behind.get(),
            bytes_verified: self.bytes_verified.get(),
            errors: self.errors.get(),
            latency_us: self.latency_us.borrow().clone(),
            send_lag_us: self.send_lag_us.borrow().clone(),
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Runs the whole load on a new runtime of `cfg.workers` cores (core 0 is this thread)
/// and returns the merged report. `on_phase` is called on core 0 as the measured window
/// opens and closes (the callers sample the server there).
///
/// # Errors
///
/// If the runtime cannot start or a client core cannot be pinned to its CPU.
pub fn run_load(cfg: &LoadConfig, on_phase: impl Fn(Phase) + Sync) -> Result<Report, String> {
    let rt = super::with_backend(ringio::Runtime::builder().workers(cfg.workers), cfg.backend)
        .build()
        .map_err(|e| e.to_string())?;
    let live: Arc<LiveBoard> = (0..cfg.workers).map(|_| LiveSlot::default()).collect();
    // One start for every core: the window's edges and the schedules line up across cores.
    let start = Instant::now();
    let results = rt.run_per_core(|core| {
        let (live, on_phase) = (live.clone(), &on_phase);
        async move {
            if let Some(&cpu) = cfg.cpus.get(core) {
                super::pin_current_thread(cpu).map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(run_core(cfg, core, start, live, on_phase).await)
        }
    });
    let mut tallies = Vec::with_capacity(results.len());
    let mut measured = Duration::ZERO;
    for (core, r) in results.into_iter().enumerate() {
        let (tally, m) = r?;
        if core == 0 {
            measured = m;
        }
        tallies.push(tally);
    }
    let total = merge_all(&tallies);
    if total.conns_up_peak < cfg.conns {
        // Not an error (nothing failed), but the figures are for fewer connections.
        eprintln!(
            "warning: only {} of {} connections got an echo back during the run",
            total.conns_up_peak, cfg.conns
        );
    }
    let mut report = total.report(cfg, measured);
    let m = rt.metrics();
    (report.backend, report.fallback_reason) = (m.backend, m.fallback_reason);
    Ok(report)
}

/// One client core: opens its share of the connections (ids `core`, `core + workers`,
/// ...), drives them until the window ends, stops them, and returns its counts and the
/// window as this core saw it.
async fn run_core(
    cfg: &LoadConfig,
    core: usize,
    start: Instant,
    live: Arc<LiveBoard>,
    on_phase: &(impl Fn(Phase) + Sync),
) -> (CoreTally, Duration) {
    let shared = Rc::new(Shared {
        cfg: cfg.clone(),
        live: live.clone(),
        core,
        start,
        stop: Event::new(),
        measuring: Cell::new(false),
        conns_up: Cell::new(0),
        conns_up_peak: Cell::new(0),
        requests: Cell::new(0),
        requests_total: Cell::new(0),
        behind: Cell::new(0),
        bytes_verified: Cell::new(0),
        errors: Cell::new(ErrorCounts::default()),
        latency_us: RefCell::new(new_histogram()),
        send_lag_us: RefCell::new(new_histogram()),
        // The total stays what --connect-concurrency says.
        connect_slots: Semaphore::new(cfg.connect_concurrency.div_ceil(cfg.workers).max(1)),
    });
    let mut tasks: Vec<JoinHandle<()>> = (core..cfg.conns)
        .step_by(cfg.workers)
        .map(|id| ringio::spawn(connection(shared.clone(), id as u64)))
        .collect();
    let progress = (core == 0 && cfg.progress).then(|| ringio::spawn(progress(live, start)));

    // Every core sleeps to the same absolute edges, so the windows line up across cores.
    let window_start = start + cfg.warmup;
    sleep_until(window_start.into()).await;
    shared.measuring.set(true);
    let opened = Instant::now();
    if core == 0 {
        on_phase(Phase::Measuring);
    }
    sleep_until((window_start + cfg.duration).into()).await;
    shared.measuring.set(false);
    let measured = opened.elapsed();
    if core == 0 {
        on_phase(Phase::Done);
    }

    shared.stop.set();
    let _ = timeout(STOP_GRACE, async {
        for task in tasks.iter_mut() {
            let _ = task.await;
        }
    })
    .await;
    // Whatever is still stuck (a server that stopped answering) counts as an error, is
    // cancelled, and is awaited so that its socket is closed before the report goes out.
    for (i, task) in tasks.iter().enumerate() {
        if task.cancel() {
            let what = format!("no reply {STOP_GRACE:?} after the run ended; cancelled");
            let id = core + i * cfg.workers;
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
    (shared.tally(), measured)
}

/// One connection: connect (at most `connect_concurrency` at once), then request,
/// reply, verify, until the run stops or something fails. A failed connection is not
/// reopened: it is counted and the run goes on with the others.
async fn connection(sh: Rc<Shared>, id: u64) {
    let stream = {
        let _slot = sh.connect_slots.acquire().await;
        if sh.stop.is_set() {
            return;
        }
        match TcpStream::connect(sh.cfg.addr).await {
            Ok(s) => s,
            Err(e) => return sh.fail(ErrorKind::Connect, id, &e.to_string()),
        }
    };
    // Nagle would hold each small request back waiting for the previous reply's ACK.
    let _ = stream.set_nodelay(true);
    let size = sh.cfg.size;
    let mut schedule =
        (sh.cfg.rate > 0).then(|| Schedule::new(sh.start, sh.cfg.rate, sh.cfg.conns, id as usize));
    let mut sent = vec![0u8; size];
    let mut reply = vec![0u8; size];
    let mut up = false;
    let mut req: u64 = 0;
    while !sh.stop.is_set() {
        payload::fill(&mut sent, id, req);
        // Closed loop times from the send; open loop from the scheduled time.
        let (t0, late) = match schedule.as_mut() {
            None => (Instant::now(), false),
            Some(s) => {
                let slot = s.take(Instant::now());
                // A wait may outlast the run (a low rate): the stop event ends it.
                if !slot.late && timeout_at(slot.at.into(), sh.stop.wait()).await.is_ok() {
                    break;
                }
                (slot.at, slot.late)
            }
        };
        let lag = schedule
            .is_some()
            .then(|| (Instant::now().saturating_duration_since(t0), late));
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
        sh.completed(latency, lag);
        req += 1;
    }
    if up {
        sh.conn_down();
    }
}

/// Prints `t=3s conns_up=1000 req/s=123456 errors=0` on stderr once a period, summed
/// over every client core (the HTTP load generator's progress line too).
pub async fn progress(live: Arc<LiveBoard>, start: Instant) {
    let sum = |f: fn(&LiveSlot) -> &AtomicU64| -> u64 {
        live.iter()
            .map(|s| f(s).load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    };
    let mut ticks = interval(PROGRESS_PERIOD);
    ticks.tick().await; // the first tick is immediate
    let mut last_total = sum(|s| &s.requests_total);
    let mut last_at = Instant::now();
    loop {
        ticks.tick().await;
        let now = Instant::now();
        let total = sum(|s| &s.requests_total);
        let rate =
            total.wrapping_sub(last_total) as f64 / now.duration_since(last_at).as_secs_f64();
        eprintln!(
            "t={}s conns_up={} req/s={:.0} errors={}",
            now.duration_since(start).as_secs_f64().round(),
            sum(|s| &s.conns_up),
            rate,
            sum(|s| &s.errors)
        );
        last_total = total;
        last_at = now;
    }
}
