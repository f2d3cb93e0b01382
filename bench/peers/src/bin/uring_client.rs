//! An echo load generator written straight on the `io-uring` crate, with no runtime: the
//! cheapest client that shares no code with ringio, so that the server under test, not
//! the client, sets the pace. One thread, one ring; closed loop: each connection has one
//! request in flight, sends `--size` bytes, receives until `--size` bytes are back, checks
//! every byte and goes again. Prints one JSON line of the same shape as `peer-client`'s
//! (requests a second over the measured window, latency percentiles in microseconds),
//! plus `enters_per_req`: `io_uring_enter` calls per request in the window.
//!
//! `cargo run --release -p ringio-peers --bin peer-uring-client -- --addr 127.0.0.1:7000 --conns 1000 --cpu 1`
//!
//! Rules the code keeps:
//!
//! 1. Buffers: each connection owns `--size` bytes to send and `--size` bytes to receive
//!    into, slices of two arrays that are leaked, so memory the kernel may still write to
//!    is never freed, whichever way the run ends.
//! 2. user_data is the connection index shifted left by 8 with the op (SEND or RECV) in
//!    the low byte. A request pushes its send and its receive together (one enter hands
//!    both to the kernel); a short send or receive pushes the rest; at most one send and
//!    one receive per connection are in flight, on disjoint buffers.
//! 3. A request's latency runs from the `io_uring_enter` that submits its first send to
//!    the wake-up that reaps its last completion. The measured window opens `--warmup`
//!    seconds after every connection is up and lasts `--duration` seconds; `requests`
//!    counts requests completed inside it, the percentiles cover those that also started
//!    inside it.
//! 4. The bytes of request `n` on connection `c` are a pseudo-random stream seeded by
//!    `(c, n)`, so an echo of another connection's or an earlier request's bytes is caught.
//! 5. Any failure (refused connect, reset, EOF, short or wrong echo) ends the run at once
//!    with exit code 1 and a message naming the connection. A connection that completes
//!    no request during the whole measured window (a stalled or starving server) is
//!    counted in `errors`, and the exit code is 1.

use hdrhistogram::Histogram;
use io_uring::{IoUring, opcode, squeue, types};
use ringio_peers::LoadArgs;
use std::io::{self, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const USAGE: &str = "peer-uring-client [--addr 127.0.0.1:7000] [--conns 1000] [--size 64] \
                     [--duration 10] [--warmup 2] [--cpu N] [--entries 4096]";

/// Submission queue entries by default: a loop turn that fills the SQ submits early, so
/// this bounds the batch, not the connections; 4096 is peer-raw's size.
const DEFAULT_ENTRIES: u32 = 4096;
/// The kernel's ceiling on CQ entries (IORING_MAX_CQ_ENTRIES); past it NODROP keeps the
/// overflow in the kernel, flushed on the next enter.
const MAX_CQ_ENTRIES: u32 = 65536;
/// How long one connect may take: a server that stopped accepting fills its backlog, and
/// the SYN retransmits would otherwise stall the client for two minutes.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Flag ceilings: sixteen million connections, 1 GiB requests (a send takes at most
/// 2^32 - 1 bytes, and user_data's 56 index bits hold any connection count).
const MAX_CONNS: usize = 1 << 24;
const MAX_SIZE: usize = 1 << 30;
/// Highest latency the histogram holds (µs): a minute, longer than any run.
const MAX_LATENCY_US: u64 = 60_000_000;

/// Task-work modes to try, cheapest first: (name, SINGLE_ISSUER + DEFER_TASKRUN (Linux
/// 6.1), COOP_TASKRUN (5.19)); a kernel without one answers EINVAL and the next is tried.
const RING_MODES: [(&str, bool, bool); 3] = [
    ("SINGLE_ISSUER+DEFER_TASKRUN", true, false),
    ("COOP_TASKRUN", false, true),
    ("without task-run flags", false, false),
];

/// Op kinds in the low byte of user_data (rule 2).
const SEND: u64 = 1;
const RECV: u64 = 2;

fn user_data(conn: usize, op: u64) -> u64 {
    ((conn as u64) << 8) | op
}

/// The shared load flags, and this client's own.
struct Args {
    load: LoadArgs,
    cpu: Option<usize>,
    entries: u32,
}

fn args() -> Args {
    let mut a = Args {
        load: LoadArgs::default(),
        cpu: None,
        entries: DEFAULT_ENTRIES,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let mut v = it.next();
        if a.load.take(&flag, &mut v, USAGE) {
            continue;
        }
        match flag.as_str() {
            "--cpu" => a.cpu = Some(ringio_peers::parse_value(&flag, v, USAGE)),
            "--entries" => a.entries = ringio_peers::parse_value(&flag, v, USAGE),
            _ => ringio_peers::bad_usage(&format!("unknown flag {flag}"), USAGE),
        }
    }
    if a.load.conns == 0 || a.load.size == 0 || a.entries == 0 || a.load.duration.is_zero() {
        ringio_peers::bad_usage(
            "--conns, --size, --entries and --duration must be above 0",
            USAGE,
        );
    }
    // Far beyond any fd limit and any sensible request, and their product fits in memory.
    if a.load.conns > MAX_CONNS || a.load.size > MAX_SIZE {
        ringio_peers::bad_usage("--conns or --size is too large", USAGE);
    }
    if let Some(cpu) = a.cpu
        && !ringio_peers::allowed_cpus().contains(&cpu)
    {
        let allowed = ringio_peers::allowed_cpus();
        ringio_peers::bad_usage(&format!("--cpu {cpu}: not one of {allowed:?}"), USAGE);
    }
    a
}

/// One connection's request in progress.
struct Conn {
    stream: TcpStream,
    /// Requests completed, so also the number of the one in progress (rule 4).
    seq: u64,
    sent: usize,
    received: usize,
    send_busy: bool,
    recv_busy: bool,
    start: Instant,
    /// Whether a request of this connection completed inside the measured window.
    served: bool,
}

/// What a finished run measured.
struct Outcome {
    requests: u64,
    enters: u64,
    hist: Histogram<u64>,
    /// Connections that completed no request in the measured window (rule 5).
    stuck: Vec<usize>,
}

struct Client {
    ring: IoUring,
    conns: Vec<Conn>,
    size: usize,
    /// Bytes sent, `size` per connection (rule 1).
    out: &'static mut [u8],
    /// Bytes received, `size` per connection (rule 1).
    back: &'static mut [u8],
    /// Connections whose request was pushed since the last enter, to stamp at it (rule 3).
    unstamped: Vec<usize>,
    /// Whether the kernel takes a timeout with the wait (IORING_FEAT_EXT_ARG, Linux 5.11).
    ext_arg: bool,
    enters: u64,
}

fn main() {
    let a = args();
    let code = match run(&a) {
        Ok(o) => report(&a, &o),
        Err(e) => {
            eprintln!("peer-uring-client: {e}");
            1
        }
    };
    std::process::exit(code)
}

/// Prints the JSON line; returns the exit code.
fn report(a: &Args, o: &Outcome) -> i32 {
    let pct = |q: f64| o.hist.value_at_quantile(q);
    let per_req = if o.requests > 0 {
        o.enters as f64 / o.requests as f64
    } else {
        0.0
    };
    let mut out = io::stdout().lock();
    let _ = writeln!(
        out,
        "{{\"client\":\"uring\",\"connections\":{},\"size\":{},\"requests\":{},\"req_per_s\":{:.1},\"errors\":{},\"p50_us\":{},\"p99_us\":{},\"p999_us\":{},\"enters_per_req\":{:.3}}}",
        a.load.conns,
        a.load.size,
        o.requests,
        o.requests as f64 / a.load.duration.as_secs_f64(),
        o.stuck.len(),
        pct(0.5),
        pct(0.99),
        pct(0.999),
        per_req
    );
    let _ = out.flush();
    if let Some(first) = o.stuck.first() {
        eprintln!(
            "peer-uring-client: {} of {} connections completed no request during the whole {:?} \
             window (first: connection {first})",
            o.stuck.len(),
            a.load.conns,
            a.load.duration
        );
        return 1;
    }
    0
}

fn run(a: &Args) -> io::Result<Outcome> {
    if let Some(cpu) = a.cpu {
        ringio_peers::pin_current_thread(cpu);
    }
    ringio_peers::raise_fd_limit()?;
    let up = Instant::now();
    let mut streams = Vec::with_capacity(a.load.conns);
    for i in 0..a.load.conns {
        let s = TcpStream::connect_timeout(&a.load.addr, CONNECT_TIMEOUT).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "connection {i} of {} to {}: connect: {e}",
                    a.load.conns, a.load.addr
                ),
            )
        })?;
        s.set_nodelay(true)
            .map_err(|e| io::Error::new(e.kind(), format!("connection {i}: TCP_NODELAY: {e}")))?;
        streams.push(s);
    }
    let (ring, setup) = ring(a.entries, a.load.conns)?;
    eprintln!(
        "peer-uring-client: {} connections to {} up in {:.2} s; ring {setup}, SQ {}, CQ {}",
        a.load.conns,
        a.load.addr,
        up.elapsed().as_secs_f64(),
        ring.params().sq_entries(),
        ring.params().cq_entries()
    );
    let now = Instant::now();
    let mut c = Client {
        ext_arg: ring.params().is_feature_ext_arg(),
        ring,
        conns: streams
            .into_iter()
            .map(|stream| Conn {
                stream,
                seq: 0,
                sent: 0,
                received: 0,
                send_busy: false,
                recv_busy: false,
                start: now,
                served: false,
            })
            .collect(),
        size: a.load.size,
        out: vec![0u8; a.load.conns * a.load.size].leak(),
        back: vec![0u8; a.load.conns * a.load.size].leak(),
        unstamped: Vec::with_capacity(a.load.conns),
        enters: 0,
    };
    c.run(now + a.load.warmup, a.load.duration)
}

/// A ring with the cheapest task-work mode the kernel accepts: SINGLE_ISSUER +
/// DEFER_TASKRUN (Linux 6.1), else COOP_TASKRUN (5.19), else none.
fn ring(entries: u32, conns: usize) -> io::Result<(IoUring, &'static str)> {
    // Two ops per connection may complete before a wake-up reaps them.
    let cq = conns
        .saturating_mul(2)
        .max(entries as usize * 2)
        .min(MAX_CQ_ENTRIES as usize)
        .next_power_of_two() as u32;
    let mut last = None;
    for (name, defer, coop) in RING_MODES {
        let mut b = IoUring::builder();
        b.setup_cqsize(cq);
        if defer {
            b.setup_single_issuer().setup_defer_taskrun();
        }
        if coop {
            b.setup_coop_taskrun();
        }
        match b.build(entries) {
            Ok(r) => return Ok((r, name)),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = Some(e),
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("io_uring_setup ({entries} SQ, {cq} CQ entries, {name}): {e}"),
                ));
            }
        }
    }
    let e = last.expect("at least one mode was tried");
    Err(io::Error::new(
        e.kind(),
        format!("io_uring_setup ({entries} SQ, {cq} CQ entries): {e}"),
    ))
}

impl Client {
    fn run(&mut self, window_start: Instant, duration: Duration) -> io::Result<Outcome> {
        let end = window_start + duration;
        let mut hist = Histogram::<u64>::new_with_bounds(1, MAX_LATENCY_US, 3)
            .map_err(|e| io::Error::other(format!("latency histogram: {e}")))?;
        let mut requests = 0u64;
        let mut window_enters = None;
        let mut cqes: Vec<(u64, i32)> = Vec::new();
        for i in 0..self.conns.len() {
            self.start_request(i)?;
        }
        loop {
            let before = Instant::now();
            if before >= end {
                break;
            }
            if window_enters.is_none() && before >= window_start {
                window_enters = Some(self.enters);
            }
            self.enter(Some(end - before))?;
            let now = Instant::now();
            cqes.extend(self.ring.completion().map(|c| (c.user_data(), c.result())));
            for (ud, res) in cqes.drain(..) {
                let idx = (ud >> 8) as usize;
                if !self.complete(idx, ud & 0xff, res)? {
                    continue;
                }
                let c = &mut self.conns[idx];
                if now >= window_start && now <= end {
                    requests += 1;
                    c.served = true;
                    if c.start >= window_start {
                        hist.saturating_record((now - c.start).as_micros() as u64);
                    }
                }
                c.seq += 1;
                if now < end {
                    self.start_request(idx)?;
                }
            }
        }
        let stuck = self
            .conns
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.served)
            .map(|(i, _)| i)
            .collect();
        Ok(Outcome {
            requests,
            enters: self.enters - window_enters.unwrap_or(self.enters),
            hist,
            stuck,
        })
    }

    /// Fills connection `idx`'s bytes for its next request and pushes its send and receive.
    fn start_request(&mut self, idx: usize) -> io::Result<()> {
        let size = self.size;
        fill(
            &mut self.out[idx * size..][..size],
            idx,
            self.conns[idx].seq,
        );
        let c = &mut self.conns[idx];
        c.sent = 0;
        c.received = 0;
        self.push_send(idx)?;
        // Stamped by the enter that submits the send, even if pushing the receive has to
        // submit early.
        self.unstamped.push(idx);
        self.push_recv(idx)
    }

    fn push_send(&mut self, idx: usize) -> io::Result<()> {
        let c = &mut self.conns[idx];
        let rest = &self.out[idx * self.size + c.sent..][..self.size - c.sent];
        let sqe = opcode::Send::new(
            types::Fd(c.stream.as_raw_fd()),
            rest.as_ptr(),
            rest.len() as u32,
        )
        .flags(libc::MSG_NOSIGNAL)
        .build()
        .user_data(user_data(idx, SEND));
        c.send_busy = true;
        self.push(sqe)
    }

    fn push_recv(&mut self, idx: usize) -> io::Result<()> {
        let c = &mut self.conns[idx];
        let rest = &mut self.back[idx * self.size + c.received..][..self.size - c.received];
        let sqe = opcode::Recv::new(
            types::Fd(c.stream.as_raw_fd()),
            rest.as_mut_ptr(),
            rest.len() as u32,
        )
        .build()
        .user_data(user_data(idx, RECV));
        c.recv_busy = true;
        self.push(sqe)
    }

    /// Queues one SQE, submitting what is queued first if the SQ is full.
    fn push(&mut self, sqe: squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: the SQE points into `out` or `back`, which are never freed (rule 1),
            // at the range of one connection that has no other op of the same kind in
            // flight (rule 2); its fd stays open while `self.conns` holds its stream, and
            // closing it with ops in flight only cancels them.
            if unsafe { self.ring.submission().push(&sqe) }.is_ok() {
                return Ok(());
            }
            self.enter(None)?;
        }
    }

    /// One `io_uring_enter`: submits what is queued, and with a timeout waits for at least
    /// one completion or until the timeout; stamps the requests it submits (rule 3).
    fn enter(&mut self, wait: Option<Duration>) -> io::Result<()> {
        let now = Instant::now();
        for i in self.unstamped.drain(..) {
            self.conns[i].start = now;
        }
        self.enters += 1;
        let r = match wait {
            None => self.ring.submit(),
            Some(d) if self.ext_arg => {
                let ts = types::Timespec::from(d);
                let args = types::SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(1, &args)
            }
            Some(_) => self.ring.submit_and_wait(1),
        };
        match r.map_err(|e| (e.raw_os_error(), e)) {
            // ETIME: the wait timed out; EINTR: a signal.
            Ok(_) | Err((Some(libc::ETIME | libc::EINTR), _)) => Ok(()),
            // Completions to reap first: the caller that waits reaps them next.
            Err((Some(libc::EBUSY), _)) if wait.is_some() => Ok(()),
            Err((_, e)) => Err(io::Error::new(
                e.kind(),
                format!(
                    "io_uring_enter ({} connections, CQ {} entries): {e}",
                    self.conns.len(),
                    self.ring.params().cq_entries()
                ),
            )),
        }
    }

    /// Handles one completion of connection `idx`; returns whether its request is done.
    fn complete(&mut self, idx: usize, op: u64, res: i32) -> io::Result<bool> {
        let size = self.size;
        let Some(c) = self.conns.get(idx) else {
            return Err(io::Error::other(format!(
                "a CQE for connection {idx} of {}",
                self.conns.len()
            )));
        };
        let what = if op == SEND { "send" } else { "recv" };
        if res < 0 {
            let e = io::Error::from_raw_os_error(-res);
            return Err(io::Error::new(
                e.kind(),
                self.describe(idx, &format!("{what} failed: {e}")),
            ));
        }
        if res == 0 {
            let msg = if op == SEND {
                "send took no bytes".to_string()
            } else {
                format!(
                    "the server closed the connection (EOF) with {} of {size} echoed bytes in",
                    c.received
                )
            };
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                self.describe(idx, &msg),
            ));
        }
        let c = &mut self.conns[idx];
        match op {
            SEND => {
                c.sent += res as usize;
                c.send_busy = false;
                if c.sent < size {
                    self.push_send(idx)?;
                }
            }
            RECV => {
                c.received += res as usize;
                c.recv_busy = false;
                if c.received < size {
                    self.push_recv(idx)?;
                } else {
                    self.check(idx)?;
                }
            }
            other => return Err(io::Error::other(format!("unknown op {other} in a CQE"))),
        }
        let c = &self.conns[idx];
        Ok(!c.send_busy && !c.recv_busy)
    }

    /// Compares connection `idx`'s echo with what it sent (rule 4).
    fn check(&self, idx: usize) -> io::Result<()> {
        let size = self.size;
        let sent = &self.out[idx * size..][..size];
        let got = &self.back[idx * size..][..size];
        let Some(at) = sent.iter().zip(got).position(|(a, b)| a != b) else {
            return Ok(());
        };
        let seq = self.conns[idx].seq;
        let mut earlier = vec![0u8; size];
        let mut whose = "corrupt bytes or another connection's";
        if seq > 0 {
            fill(&mut earlier, idx, seq - 1);
            if earlier == got {
                whose = "a stale echo: this connection's previous request";
            }
        }
        Err(io::Error::other(self.describe(
            idx,
            &format!(
                "echo byte {at} of {size} is {:#04x}, {:#04x} was sent ({whose})",
                got[at], sent[at]
            ),
        )))
    }

    fn describe(&self, idx: usize, what: &str) -> String {
        let c = &self.conns[idx];
        let port = c.stream.local_addr().map(|a| a.port()).unwrap_or(0);
        format!(
            "connection {idx} (local port {port}), request {} (sent {}, received {} of {} bytes): {what}",
            c.seq, c.sent, c.received, self.size
        )
    }
}

/// The bytes of request `seq` on connection `conn` (rule 4): splitmix64 of both, then a
/// 64-bit LCG, eight bytes a step.
fn fill(buf: &mut [u8], conn: usize, seq: u64) {
    let mut x = (conn as u64).rotate_left(32) ^ seq ^ 0x9e37_79b9_7f4a_7c15;
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    for chunk in buf.chunks_mut(8) {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        chunk.copy_from_slice(&x.to_be_bytes()[..chunk.len()]);
    }
}

// A bin's root file looks for modules beside it, in src/bin/, where cargo would take a
// file for another binary.
#[cfg(test)]
#[path = "uring_client/tests.rs"]
mod tests;
