//! The load itself: keep-alive HTTP/1.1 connections spread over one or more ringio cores.
//!
//! Each connection sends its pre-serialized request, reads one whole response (parsed
//! from a receive buffer that keeps any bytes past it), and goes again: at once (closed
//! loop) or on the [`Schedule`] of `pacing` (`rate > 0`; latency then runs from each
//! request's scheduled time, so a stalled server shows in the percentiles instead of
//! slowing the client down with it). One request is in flight per connection.
//!
//! A connection that fails (reset, early close, malformed response, no response within
//! the timeout) counts the error and is reopened; one whose server said
//! `Connection: close` is reopened without an error. A failed connect is retried after
//! [`CONNECT_BACKOFF`]. Connection `id` runs on core `id % workers`; each core counts in
//! its own [`CoreState`] (one thread: `Cell`s) and hands back a [`CoreTally`].

use super::Config;
use super::echo::client::{LiveSlot, progress};
use super::echo::pacing::Schedule;
use super::echo::tally::new_histogram;
use super::parse::{Response, parse_response};
use super::report::{ErrorCounts, ErrorKind, Summary};
use hdrhistogram::Histogram;
use ringio::buf::IoBuf;
use ringio::net::TcpStream;
use ringio::sync::{Event, Semaphore};
use ringio::time::{sleep_until, timeout, timeout_at};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Pause before connecting again after a failed connect: long enough that a server that
/// is down is not hammered by every connection, short against a run of seconds.
pub const CONNECT_BACKOFF: Duration = Duration::from_millis(100);
/// How long connections get to finish their request in flight when the run ends; what
/// is still waiting after that is cancelled and counted as a timeout.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// Errors printed one by one per core; later ones are only counted.
const MAX_ERROR_LINES: u64 = 10;
/// Receive buffer per connection, and the least free room a read is given: 16 KiB holds
/// a typical response in one read; a larger one grows the buffer.
const READ_CHUNK: usize = 16 * 1024;

/// What one core counted.
#[derive(Clone, Debug)]
pub struct CoreTally {
    conns_up_peak: usize,
    requests: u64,
    behind: u64,
    reconnects: u64,
    status: BTreeMap<u16, u64>,
    errors: ErrorCounts,
    latency_us: Histogram<u64>,
    send_lag_us: Histogram<u64>,
}

/// State the connection tasks of one core share.
struct CoreState {
    cfg: Config,
    live: Arc<[LiveSlot]>,
    core: usize,
    start: Instant,
    stop: Event,
    measuring: Cell<bool>,
    conns_up: Cell<usize>,
    conns_up_peak: Cell<usize>,
    requests: Cell<u64>,
    behind: Cell<u64>,
    reconnects: Cell<u64>,
    status: RefCell<BTreeMap<u16, u64>>,
    errors: Cell<ErrorCounts>,
    latency_us: RefCell<Histogram<u64>>,
    send_lag_us: RefCell<Histogram<u64>>,
    connect_slots: Semaphore,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl CoreState {
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

    /// A whole response came; `lag` (send lag, late) only in open loop.
    fn completed(&self, status: u16, latency: Duration, lag: Option<(Duration, bool)>) {
        self.live().completed();
        if !self.measuring.get() {
            return;
        }
        self.requests.set(self.requests.get() + 1);
        *self.status.borrow_mut().entry(status).or_default() += 1;
        self.latency_us
            .borrow_mut()
            .saturating_record(micros(latency));
        if let Some((lag, late)) = lag {
            self.send_lag_us.borrow_mut().saturating_record(micros(lag));
            self.behind.set(self.behind.get() + u64::from(late));
        }
    }

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
            behind: self.behind.get(),
            reconnects: self.reconnects.get(),
            status: self.status.borrow().clone(),
            errors: self.errors.get(),
            latency_us: self.latency_us.borrow().clone(),
            send_lag_us: self.send_lag_us.borrow().clone(),
        }
    }
}

/// Runs the load on a new runtime of `cfg.workers` cores (core 0 is this thread) and
/// returns the merged summary.
///
/// # Errors
///
/// If the runtime cannot start or a client core cannot be pinned to its CPU.
pub fn run_load(cfg: &Config) -> Result<Summary, String> {
    let rt =
        super::echo::with_backend(ringio::Runtime::builder().workers(cfg.workers), cfg.backend)
            .build()
            .map_err(|e| e.to_string())?;
    let live: Arc<[LiveSlot]> = (0..cfg.workers).map(|_| LiveSlot::default()).collect();
    let start = Instant::now();
    let results = rt.run_per_core(|core| {
        let live = live.clone();
        async move {
            if let Some(&cpu) = cfg.cpus.get(core) {
                super::echo::pin_current_thread(cpu).map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(run_core(cfg, core, start, live).await)
        }
    });
    let mut total = Summary {
        conns: cfg.conns,
        rate: cfg.rate,
        ..Summary::default()
    };
    for (core, r) in results.into_iter().enumerate() {
        let (t, measured) = r?;
        if core == 0 {
            total.duration_s = measured.as_secs_f64();
        }
        total.conns_up += t.conns_up_peak;
        total.requests += t.requests;
        total.behind += t.behind;
        total.reconnects += t.reconnects;
        for (code, n) in t.status {
            *total.status.entry(code).or_default() += n;
        }
        total.errors.merge(&t.errors);
        let same = "histograms from new_histogram have the same bounds";
        total.latency_us.add(&t.latency_us).expect(same);
        total.send_lag_us.add(&t.send_lag_us).expect(same);
    }
    total.rps = total.requests as f64 / total.duration_s.max(f64::MIN_POSITIVE);
    let m = rt.metrics();
    total.backend = super::echo::backend_summary(m.backend, m.fallback_reason);
    Ok(total)
}

/// One client core: its share of the connections (ids `core`, `core + workers`, ...)
/// until the window ends; returns its counts and the window as it saw it.
async fn run_core(
    cfg: &Config,
    core: usize,
    start: Instant,
    live: Arc<[LiveSlot]>,
) -> (CoreTally, Duration) {
    let sh = Rc::new(CoreState {
        cfg: cfg.clone(),
        live: live.clone(),
        core,
        start,
        stop: Event::new(),
        measuring: Cell::new(false),
        conns_up: Cell::new(0),
        conns_up_peak: Cell::new(0),
        requests: Cell::new(0),
        behind: Cell::new(0),
        reconnects: Cell::new(0),
        status: RefCell::new(BTreeMap::new()),
        errors: Cell::new(ErrorCounts::default()),
        latency_us: RefCell::new(new_histogram()),
        send_lag_us: RefCell::new(new_histogram()),
        connect_slots: Semaphore::new(cfg.connect_concurrency.div_ceil(cfg.workers).max(1)),
    });
    let mut tasks: Vec<_> = (core..cfg.conns)
        .step_by(cfg.workers)
        .map(|id| ringio::spawn(connection(sh.clone(), id as u64)))
        .collect();
    let progress = (core == 0 && cfg.progress).then(|| ringio::spawn(progress(live, start)));

    // Every core sleeps to the same absolute edges, so the windows line up across cores.
    let window_start = start + cfg.warmup;
    sleep_until(window_start.into()).await;
    sh.measuring.set(true);
    let opened = Instant::now();
    sleep_until((window_start + cfg.duration).into()).await;
    sh.measuring.set(false);
    let measured = opened.elapsed();

    sh.stop.set();
    let _ = timeout(STOP_GRACE, async {
        for task in tasks.iter_mut() {
            let _ = task.await;
        }
    })
    .await;
    for (i, task) in tasks.iter().enumerate() {
        if task.cancel() {
            let what = format!("no response {STOP_GRACE:?} after the run ended; cancelled");
            sh.fail(ErrorKind::Timeout, (core + i * cfg.workers) as u64, &what);
        }
    }
    // Awaited so that every socket is closed before the summary goes out.
    for task in tasks {
        let _ = task.await;
    }
    if let Some(p) = progress {
        p.cancel();
        let _ = p.await;
    }
    (sh.tally(), measured)
}

/// One connection's receive side: the bytes read and not yet parsed.
struct RecvBuf {
    buf: Vec<u8>,
    /// Where the unparsed bytes start.
    pos: usize,
    /// The peer closed its side.
    eof: bool,
}

impl RecvBuf {
    fn new() -> RecvBuf {
        RecvBuf {
            buf: Vec::with_capacity(READ_CHUNK),
            pos: 0,
            eof: false,
        }
    }

    /// Reads more bytes after those held; `Ok(0)` at EOF.
    async fn fill(&mut self, stream: &TcpStream) -> std::io::Result<usize> {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 0 && self.buf.capacity() - self.buf.len() < READ_CHUNK {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        if self.buf.capacity() - self.buf.len() < READ_CHUNK {
            self.buf.reserve(READ_CHUNK);
        }
        let len = self.buf.len();
        let cap = self.buf.capacity();
        // If this future is dropped mid-read (a timeout), the buffer goes with it; the
        // caller then drops the connection too, so no bytes are lost to a later response.
        let (res, slice) = stream
            .read(std::mem::take(&mut self.buf).slice(len..cap))
            .await;
        self.buf = slice.into_inner();
        let n = res?;
        self.eof |= n == 0;
        Ok(n)
    }
}

/// Why one exchange failed.
type Failure = (ErrorKind, String);

/// Sends the request and reads one whole response.
async fn exchange(
    sh: &CoreState,
    stream: &TcpStream,
    recv: &mut RecvBuf,
    request: &mut Vec<u8>,
) -> Result<Response, Failure> {
    let (res, buf) = stream.write_all(std::mem::take(request)).await;
    *request = buf;
    if let Err(e) = res {
        return Err((ErrorKind::of_io(&e), format!("write: {e}")));
    }
    loop {
        let held = &recv.buf[recv.pos..];
        match parse_response(held, recv.eof, sh.cfg.head_request, sh.cfg.verify) {
            Ok(Some(r)) => {
                recv.pos += r.consumed;
                return Ok(r);
            }
            Ok(None) if recv.eof => {
                let what = format!("closed after {} bytes of the response", held.len());
                return Err((ErrorKind::Eof, what));
            }
            Ok(None) => {}
            Err(e) => return Err((ErrorKind::Parse, e.0)),
        }
        if let Err(e) = recv.fill(stream).await {
            return Err((ErrorKind::of_io(&e), format!("read: {e}")));
        }
    }
}

/// Connects, within the request timeout and at most `connect_concurrency` at once.
async fn connect(sh: &CoreState) -> Result<TcpStream, String> {
    let _slot = sh.connect_slots.acquire().await;
    match timeout(sh.cfg.timeout, TcpStream::connect(sh.cfg.addr)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no connection within {:?}", sh.cfg.timeout)),
    }
}

/// One connection slot: connect, then request after request until the run stops; on an
/// error or a close, count it and connect again.
async fn connection(sh: Rc<CoreState>, id: u64) {
    let mut schedule =
        (sh.cfg.rate > 0).then(|| Schedule::new(sh.start, sh.cfg.rate, sh.cfg.conns, id as usize));
    let mut request = sh.cfg.request.clone();
    let mut opened = false;
    let mut up = false;
    while !sh.stop.is_set() {
        let stream = match connect(&sh).await {
            Ok(s) => s,
            Err(e) => {
                sh.fail(ErrorKind::Connect, id, &e);
                // The stop event ends the back-off early.
                let _ = timeout(CONNECT_BACKOFF, sh.stop.wait()).await;
                continue;
            }
        };
        if opened {
            sh.reconnects.set(sh.reconnects.get() + 1);
        }
        opened = true;
        // Nagle would hold a request back waiting for the previous response's ACK.
        let _ = stream.set_nodelay(true);
        let mut recv = RecvBuf::new();
        while !sh.stop.is_set() {
            // Closed loop times from the send; open loop from the scheduled time.
            let (t0, late) = match schedule.as_mut() {
                None => (Instant::now(), false),
                Some(s) => {
                    let slot = s.take(Instant::now());
                    if !slot.late && timeout_at(slot.at.into(), sh.stop.wait()).await.is_ok() {
                        break;
                    }
                    (slot.at, slot.late)
                }
            };
            let sent = Instant::now();
            let lag = schedule
                .is_some()
                .then(|| (sent.saturating_duration_since(t0), late));
            let deadline = sent + sh.cfg.timeout;
            let result = timeout_at(
                deadline.into(),
                exchange(&sh, &stream, &mut recv, &mut request),
            )
            .await;
            let response = match result {
                Ok(Ok(r)) => r,
                Ok(Err((kind, what))) => {
                    sh.fail(kind, id, &what);
                    break;
                }
                Err(_) => {
                    let what = format!("no whole response within {:?}", sh.cfg.timeout);
                    sh.fail(ErrorKind::Timeout, id, &what);
                    // The request buffer was dropped with the exchange.
                    request = sh.cfg.request.clone();
                    break;
                }
            };
            let latency = t0.elapsed();
            if !up {
                up = true;
                sh.conn_up();
            }
            sh.completed(response.status, latency, lag);
            if !(200..300).contains(&response.status) {
                let what = format!("status {}", response.status);
                sh.fail(ErrorKind::Status, id, &what);
            } else if let Some(body) = &response.body
                && body[..] != sh.cfg.body[..]
            {
                let what = format!(
                    "response body of {} bytes differs from the {}-byte request body",
                    body.len(),
                    sh.cfg.body.len()
                );
                sh.fail(ErrorKind::Verify, id, &what);
            }
            if response.close {
                break;
            }
        }
        if up {
            up = false;
            sh.conn_down();
        }
    }
}
