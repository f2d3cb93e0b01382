//! What a load run found, how it is printed, and the checks on its arguments.

use hdrhistogram::Histogram;
use std::fmt::Write as _;
use std::io;
use std::time::Duration;

/// Largest message the client sends: 1 MiB is far past any echo benchmark worth running
/// and keeps a typo (`--size 100000000`) from allocating gigabytes per connection.
pub const MAX_SIZE: usize = 1 << 20;
/// Cap on the client's buffer memory (two buffers of `size` per connection): 1 GiB fits
/// any developer machine and allows 10k connections of 32 KiB messages.
pub const MAX_BUFFER_BYTES: u64 = 1 << 30;

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
    /// Warm-up before the measured window.
    pub warmup: Duration,
    /// Length of the measured window as it really ran.
    pub measured: Duration,
    /// Requests completed inside the measured window.
    pub requests: u64,
    /// Requests completed over the whole run, warm-up included.
    pub requests_total: u64,
    /// Latency of the requests inside the measured window.
    pub latency: Latency,
    /// Reply bytes compared with what was sent, over the whole run.
    pub bytes_verified: u64,
    /// Errors over the whole run.
    pub errors: ErrorCounts,
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
    /// `io_uring_enter` calls.
    pub enters: u64,
    /// Operation SQEs submitted.
    pub ops_submitted: u64,
    /// The ring flags the kernel accepted.
    pub ring_flags: String,
    /// The CPUs the server and the client ran on.
    pub cpus: (usize, usize),
}

impl ServerFigures {
    /// io_uring_enter calls per echoed request.
    pub fn enters_per_request(&self, requests: u64) -> f64 {
        ratio(self.enters as f64, requests as f64)
    }

    /// Operations submitted per io_uring_enter call: how well the server batches.
    pub fn ops_per_enter(&self) -> f64 {
        ratio(self.ops_submitted as f64, self.enters as f64)
    }
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
    if let Some(f) = server {
        let _ = writeln!(
            s,
            "server          CPU {}, client CPU {}; ring flags {}",
            f.cpus.0, f.cpus.1, f.ring_flags
        );
        let _ = writeln!(
            s,
            "server enters   {:.3} io_uring_enter per request ({} enters in the window)",
            f.enters_per_request(r.requests),
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
        "\"connections\":{},\"conns_up\":{},\"size\":{},\"warmup_s\":{:.3},\"duration_s\":{:.3},",
        r.conns,
        r.conns_up,
        r.size,
        r.warmup.as_secs_f64(),
        r.measured.as_secs_f64()
    );
    let _ = write!(
        s,
        "\"requests\":{},\"requests_total\":{},\"req_per_s\":{:.1},",
        r.requests,
        r.requests_total,
        r.req_per_s()
    );
    let _ = write!(
        s,
        "\"latency_us\":{{\"p50\":{},\"p90\":{},\"p99\":{},\"p999\":{},\"max\":{}}},",
        l.p50, l.p90, l.p99, l.p999, l.max
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
    if let Some(f) = server {
        let _ = write!(
            s,
            ",\"server\":{{\"cpu\":{},\"client_cpu\":{},\"ring_flags\":\"{}\",\"enters\":{},\
             \"ops_submitted\":{},\"enters_per_request\":{:.4},\"ops_per_enter\":{:.2}}}",
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

/// Checks the load generator's numbers before anything is opened.
///
/// # Errors
///
/// A message naming the flag and what it must be.
pub fn check_load_args(
    conns: usize,
    size: usize,
    duration_s: u64,
    connect_concurrency: usize,
) -> Result<(), String> {
    if conns == 0 {
        return Err("--conns must be at least 1".into());
    }
    if size == 0 || size > MAX_SIZE {
        return Err(format!("--size must be 1..={MAX_SIZE} bytes, not {size}"));
    }
    if duration_s == 0 {
        return Err("--duration must be at least 1 second".into());
    }
    if connect_concurrency == 0 {
        return Err("--connect-concurrency must be at least 1".into());
    }
    let buffers = 2 * conns as u64 * size as u64;
    if buffers > MAX_BUFFER_BYTES {
        return Err(format!(
            "--conns {conns} × --size {size} needs {buffers} bytes of buffers, over the \
             {MAX_BUFFER_BYTES}-byte cap; use fewer connections or smaller messages"
        ));
    }
    Ok(())
}

/// Checks that `conns` connections, each costing `fds_per_conn` descriptors in this
/// process, fit under `limit` with `reserve` to spare.
///
/// # Errors
///
/// The number of connections that would fit.
pub fn check_fd_budget(
    conns: usize,
    fds_per_conn: u64,
    limit: u64,
    reserve: u64,
) -> Result<(), u64> {
    let needed = (conns as u64).saturating_mul(fds_per_conn) + reserve;
    if needed <= limit {
        Ok(())
    } else {
        Err(limit.saturating_sub(reserve) / fds_per_conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for v in 1..=1000 {
            h.record(v).unwrap();
        }
        let mut errors = ErrorCounts::default();
        errors.add(ErrorKind::Verify);
        errors.add(ErrorKind::Verify);
        errors.add(ErrorKind::Reset);
        Report {
            conns: 4,
            conns_up: 3,
            size: 64,
            warmup: Duration::from_secs(2),
            measured: Duration::from_secs(10),
            requests: 12_346,
            requests_total: 15_000,
            latency: Latency::of(&h),
            bytes_verified: 960_000,
            errors,
        }
    }

    #[test]
    fn percentiles_of_a_uniform_histogram() {
        let l = sample().latency;
        assert_eq!(
            (l.p50, l.p90, l.p99, l.p999, l.max),
            (500, 900, 990, 999, 1000)
        );
        let empty = Histogram::<u64>::new(3).unwrap();
        assert_eq!(Latency::of(&empty), Latency::default());
    }

    #[test]
    fn io_errors_are_sorted_into_kinds() {
        let k = |kind| ErrorKind::of_io(&io::Error::from(kind));
        assert_eq!(k(io::ErrorKind::ConnectionReset), ErrorKind::Reset);
        assert_eq!(k(io::ErrorKind::BrokenPipe), ErrorKind::Reset);
        assert_eq!(k(io::ErrorKind::UnexpectedEof), ErrorKind::Eof);
        assert_eq!(k(io::ErrorKind::TimedOut), ErrorKind::Other);
    }

    #[test]
    fn text_summary_has_every_figure() {
        let t = format_text(&sample(), None);
        assert!(t.contains("connections     4 (3 up)"), "{t}");
        assert!(t.contains("req/s           1235\n"), "{t}");
        assert!(
            t.contains("p50 500  p90 900  p99 990  p99.9 999  max 1000"),
            "{t}"
        );
        assert!(
            t.contains("errors          3 (connect 0, reset 1, eof 0, verify 2, other 0)"),
            "{t}"
        );
        assert!(!t.contains("server"), "{t}");
    }

    #[test]
    fn json_summary_is_one_flat_line_with_server_figures() {
        let f = ServerFigures {
            enters: 1000,
            ops_submitted: 24_690,
            ring_flags: "SINGLE_ISSUER".into(),
            cpus: (0, 1),
        };
        let j = format_json(&sample(), Some(&f));
        assert!(
            j.starts_with('{') && j.ends_with('}') && !j.contains('\n'),
            "{j}"
        );
        assert_eq!(j.matches('{').count(), j.matches('}').count(), "{j}");
        for field in [
            "\"requests\":12346,",
            "\"req_per_s\":1234.6,",
            "\"p999\":999,",
            "\"errors\":3,",
            "\"verify\":2,",
            "\"enters_per_request\":0.0810,",
            "\"ops_per_enter\":24.69}",
        ] {
            assert!(j.contains(field), "{field} missing in {j}");
        }
    }

    #[test]
    fn ratios_never_divide_by_zero() {
        let r = Report::default();
        assert_eq!(r.req_per_s(), 0.0);
        let f = ServerFigures::default();
        assert_eq!((f.ops_per_enter(), f.enters_per_request(0)), (0.0, 0.0));
        assert!(!format_json(&r, Some(&f)).contains("NaN"));
    }

    #[test]
    fn bad_arguments_are_named() {
        assert!(check_load_args(1000, 64, 10, 256).is_ok());
        assert!(
            check_load_args(0, 64, 10, 256)
                .unwrap_err()
                .contains("--conns")
        );
        assert!(
            check_load_args(1, 0, 10, 256)
                .unwrap_err()
                .contains("--size")
        );
        assert!(
            check_load_args(1, MAX_SIZE + 1, 10, 256)
                .unwrap_err()
                .contains("--size")
        );
        assert!(
            check_load_args(1, 64, 0, 256)
                .unwrap_err()
                .contains("--duration")
        );
        assert!(
            check_load_args(1, 64, 1, 0)
                .unwrap_err()
                .contains("--connect-concurrency")
        );
        assert!(
            check_load_args(100_000, MAX_SIZE, 1, 1)
                .unwrap_err()
                .contains("cap")
        );
    }

    #[test]
    fn fd_budget_says_how_many_fit() {
        assert_eq!(check_fd_budget(1000, 1, 1064, 64), Ok(()));
        assert_eq!(check_fd_budget(1001, 1, 1064, 64), Err(1000));
        assert_eq!(check_fd_budget(1000, 2, 1064, 64), Err(500));
        assert_eq!(check_fd_budget(1, 1, 10, 64), Err(0));
    }
}
