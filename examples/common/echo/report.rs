//! What a load run found, how it is printed, and the checks on its arguments.

use super::procfs::ServerUsage;
use hdrhistogram::Histogram;
use ringio::runtime::Backend;
use std::fmt::Write as _;
use std::io;
use std::time::Duration;

/// How an echo request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The connection could not be opened.
    Connect,
    /// The peer reset or aborted the connection (ECONNRESET, EPIPE, ECONNABORTED).
    Reset,
    /// The peer closed before the whole reply came back.
    Eof,
    /// The reply came back with other bytes than were sent.
    Verify,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// The kind of a failed read or write on an open connection.
    pub fn of_io(e: &io::Error) -> ErrorKind {
        match e.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => ErrorKind::Reset,
            io::ErrorKind::UnexpectedEof | io::ErrorKind::WriteZero => ErrorKind::Eof,
            _ => ErrorKind::Other,
        }
    }

    /// The name used in the summary and the JSON.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Reset => "reset",
            ErrorKind::Eof => "eof",
            ErrorKind::Verify => "verify",
            ErrorKind::Other => "other",
        }
    }
}

/// Errors counted by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ErrorCounts {
    /// By kind, in the order of [`ErrorCounts::KINDS`].
    counts: [u64; 5],
}

impl ErrorCounts {
    /// Every kind, in the order the summary lists them.
    pub const KINDS: [ErrorKind; 5] = [
        ErrorKind::Connect,
        ErrorKind::Reset,
        ErrorKind::Eof,
        ErrorKind::Verify,
        ErrorKind::Other,
    ];

    /// Counts one more error of `kind`.
    pub fn add(&mut self, kind: ErrorKind) {
        self.counts[kind as usize] += 1;
    }

    /// Errors of `kind`.
    pub fn get(&self, kind: ErrorKind) -> u64 {
        self.counts[kind as usize]
    }

    /// Errors of every kind.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Adds the counts of `other` (another client core's) to these.
    pub fn merge(&mut self, other: &ErrorCounts) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a += b;
        }
    }
}

/// Latency percentiles in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Latency {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Latency {
    /// The percentiles of `h` (all zero if it is empty).
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// What the load generator measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Connections asked for.
    pub conns: usize,
    /// Most connections up at once (a connection is up once its first echo came back).
    pub conns_up: usize,
    /// Message size in bytes.
    pub size: usize,
    /// Client cores.
    pub workers: usize,
    /// Offered requests a second in total (0: closed loop).
    pub rate: u64,
    /// Warm-up before the measured window.
    pub warmup: Duration,
    /// Length of the measured window as it really ran.
    pub measured: Duration,
    /// Requests completed inside the measured window.
    pub requests: u64,
    /// Requests completed over the whole run, warm-up included.
    pub requests_total: u64,
    /// Requests of the window sent late because the previous reply of their
    /// connection came back after they were due (open loop only).
    pub behind: u64,
    /// Latency of the requests inside the measured window (open loop: from each
    /// request's scheduled send time).
    pub latency: Latency,
    /// How late after its scheduled time each request went out (open loop only): the
    /// client's own pacing error (timer resolution, falling behind), part of `latency`.
    pub send_lag: Latency,
    /// Reply bytes compared with what was sent, over the whole run.
    pub bytes_verified: u64,
    /// Errors over the whole run.
    pub errors: ErrorCounts,
    /// The server's CPU and memory over the window (with `--server-pid`).
    pub server_usage: Option<ServerUsage>,
    /// The I/O backend the load generator's runtime ran.
    pub backend: Backend,
    /// Why that runtime's Auto choice fell back to epoll, if it did.
    pub fallback_reason: Option<&'static str>,
}

impl Report {
    /// Requests per second in the measured window.
    pub fn req_per_s(&self) -> f64 {
        ratio(self.requests as f64, self.measured.as_secs_f64())
    }
}

/// The echo server's own counters over the measured window (from its runtime's metrics).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerFigures {
    /// `io_uring_enter` calls (epoll: `epoll_pwait2` calls).
    pub enters: u64,
    /// Operation SQEs submitted.
    pub ops_submitted: u64,
    /// The ring flags the kernel accepted.
    pub ring_flags: String,
    /// The I/O backend the server's runtime ran.
    pub backend: Backend,
    /// Why the server runtime's Auto choice fell back to epoll, if it did.
    pub fallback_reason: Option<&'static str>,
    /// The CPUs the server and the client ran on.
    pub cpus: (usize, usize),
}

impl ServerFigures {
    /// The system call [`enters`](ServerFigures::enters) counts on this backend.
    pub fn enter_call(&self) -> &'static str {
        match self.backend {
            Backend::Epoll => "epoll_pwait2",
            _ => "io_uring_enter",
        }
    }

    /// io_uring_enter (epoll: epoll_pwait2) calls per echoed request.
    pub fn enters_per_request(&self, requests: u64) -> f64 {
        ratio(self.enters as f64, requests as f64)
    }

    /// Operations submitted per enter: how well the server batches.
    pub fn ops_per_enter(&self) -> f64 {
        ratio(self.ops_submitted as f64, self.enters as f64)
    }
}

/// `s` as a JSON string, quotes included.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `"backend":"<name>"`, and `,"fallback_reason":"<text>"` after a fallback.
fn json_backend(backend: Backend, fallback_reason: Option<&str>) -> String {
    let mut s = format!("\"backend\":{}", json_str(&backend.to_string()));
    if let Some(why) = fallback_reason {
        let _ = write!(s, ",\"fallback_reason\":{}", json_str(why));
    }
    s
}

/// `a / b`, or 0 when `b` is 0 (so JSON never gets NaN or inf).
fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// The summary as text, one figure per line.
pub fn format_text(r: &Report, server: Option<&ServerFigures>) -> String {
    let l = &r.latency;
    let e = &r.errors;
    let mut s = String::new();
    let _ = writeln!(s, "connections     {} ({} up)", r.conns, r.conns_up);
    let _ = writeln!(s, "message size    {} bytes", r.size);
    let _ = writeln!(s, "client cores    {}", r.workers);
    let _ = writeln!(
        s,
        "client backend  {}",
        super::backend_summary(r.backend, r.fallback_reason)
    );
    if r.rate == 0 {
        let _ = writeln!(
            s,
            "load            closed loop, one request in flight per connection"
        );
    } else {
        let _ = writeln!(
            s,
            "load            open loop at {} req/s offered; {} requests sent late",
            r.rate, r.behind
        );
    }
    let _ = writeln!(
        s,
        "duration        {:.2} s measured after {:.0} s warm-up",
        r.measured.as_secs_f64(),
        r.warmup.as_secs_f64()
    );
    let _ = writeln!(s, "requests        {}", r.requests);
    let _ = writeln!(s, "req/s           {:.0}", r.req_per_s());
    let _ = writeln!(
        s,
        "latency (µs)    p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
        l.p50, l.p90, l.p99, l.p999, l.max
    );
    if r.rate > 0 {
        let g = &r.send_lag;
        let _ = writeln!(
            s,
            "send lag (µs)   p50 {}  p99 {}  max {}  (send after schedule: timer slack or behind)",
            g.p50, g.p99, g.max
        );
    }
    let _ = writeln!(
        s,
        "bytes verified  {} (whole run, {} requests)",
        r.bytes_verified, r.requests_total
    );
    let kinds: Vec<String> = ErrorCounts::KINDS
        .iter()
        .map(|&k| format!("{} {}", k.name(), e.get(k)))
        .collect();
    let _ = writeln!(s, "errors          {} ({})", e.total(), kinds.join(", "));
    if let Some(u) = &r.server_usage {
        let _ = writeln!(
            s,
            "server CPU      {:.2} s in the window, {:.2} µs per request",
            u.cpu_s,
            u.cpu_us_per_req(r.requests)
        );
        let _ = writeln!(
            s,
            "server RSS      peak {} KiB, now {} KiB",
            u.peak_rss_kib, u.rss_kib
        );
    }
    if let Some(f) = server {
        let _ = writeln!(
            s,
            "server          CPU {}, client CPU {}; ring flags {}",
            f.cpus.0, f.cpus.1, f.ring_flags
        );
        let _ = writeln!(
            s,
            "server backend  {}",
            super::backend_summary(f.backend, f.fallback_reason)
        );
        let _ = writeln!(
            s,
            "server enters   {:.3} {} per request ({} enters in the window)",
            f.enters_per_request(r.requests),
            f.enter_call(),
            f.enters
        );
        let _ = writeln!(
            s,
            "server batching {:.1} ops per enter ({} ops submitted in the window)",
            f.ops_per_enter(),
            f.ops_submitted
        );
    }
    s
}

/// The summary as one JSON object on one line (no trailing newline).
pub fn format_json(r: &Report, server: Option<&ServerFigures>) -> String {
    let l = &r.latency;
    let mut s = String::from("{");
    let _ = write!(
        s,
        "{},\"connections\":{},\"conns_up\":{},\"size\":{},\"workers\":{},\"rate\":{},\
         \"warmup_s\":{:.3},\"duration_s\":{:.3},",
        json_backend(r.backend, r.fallback_reason),
        r.conns,
        r.conns_up,
        r.size,
        r.workers,
        r.rate,
        r.warmup.as_secs_f64(),
        r.measured.as_secs_f64()
    );
    let _ = write!(
        s,
        "\"requests\":{},\"requests_total\":{},\"req_per_s\":{:.1},\"behind\":{},",
        r.requests,
        r.requests_total,
        r.req_per_s(),
        r.behind
    );
    let _ = write!(
        s,
        "\"latency_us\":{{\"p50\":{},\"p90\":{},\"p99\":{},\"p999\":{},\"max\":{}}},",
        l.p50, l.p90, l.p99, l.p999, l.max
    );
    let g = &r.send_lag;
    let _ = write!(
        s,
        "\"send_lag_us\":{{\"p50\":{},\"p99\":{},\"max\":{}}},",
        g.p50, g.p99, g.max
    );
    let _ = write!(
        s,
        "\"bytes_verified\":{},\"errors\":{},\"errors_by_kind\":{{",
        r.bytes_verified,
        r.errors.total()
    );
    for (i, &k) in ErrorCounts::KINDS.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        let _ = write!(s, "{sep}\"{}\":{}", k.name(), r.errors.get(k));
    }
    s.push('}');
    if let Some(u) = &r.server_usage {
        let _ = write!(
            s,
            ",\"server_cpu_s\":{:.3},\"server_cpu_us_per_req\":{:.3},\
             \"server_peak_rss_kib\":{},\"server_rss_kib\":{}",
            u.cpu_s,
            u.cpu_us_per_req(r.requests),
            u.peak_rss_kib,
            u.rss_kib
        );
    }
    if let Some(f) = server {
        let _ = write!(
            s,
            ",\"server\":{{{},\"cpu\":{},\"client_cpu\":{},\"ring_flags\":\"{}\",\"enters\":{},\
             \"ops_submitted\":{},\"enters_per_request\":{:.4},\"ops_per_enter\":{:.2}}}",
            json_backend(f.backend, f.fallback_reason),
            f.cpus.0,
            f.cpus.1,
            f.ring_flags,
            f.enters,
            f.ops_submitted,
            f.enters_per_request(r.requests),
            f.ops_per_enter()
        );
    }
    s.push('}');
    s
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
