//! The command line, its checks, and the request it describes.

use super::echo::limits::check_fd_budget;
use clap::Parser;
use ringio::runtime::Backend;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Largest generated body (`--body-size`): 16 MiB is what `hyper_server`'s `POST /echo`
/// accepts; a typo cannot make every connection allocate gigabytes.
pub const MAX_BODY_SIZE: usize = 16 << 20;

/// ringio HTTP/1.1 load generator.
#[derive(Parser, Debug, Clone)]
#[command(about = "HTTP/1.1 keep-alive load generator (closed or open loop) on ringio cores")]
pub struct Args {
    /// The HTTP server (loopback).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Request path.
    #[arg(long, default_value = "/")]
    pub path: String,
    /// Request method.
    #[arg(long, default_value = "GET")]
    pub method: String,
    /// Request body.
    #[arg(long, conflicts_with = "body_size")]
    pub body: Option<String>,
    /// A generated request body of this many bytes.
    #[arg(long)]
    pub body_size: Option<usize>,
    /// An extra request header, `Name: value` (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Connections, over all client cores.
    #[arg(long, default_value_t = 100)]
    pub conns: usize,
    /// Length of the measured window (`10`, `10s`, `500ms`).
    #[arg(long, default_value = "10", value_parser = parse_duration)]
    pub duration: Duration,
    /// Time before the window: connections come up, caches warm (`2`, `500ms`).
    #[arg(long, default_value = "2", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Offered requests a second over all connections; 0 is closed loop.
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Client cores.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// CPUs to pin the client cores to, one per core (e.g. `--cpus 1,2`).
    #[arg(long, value_delimiter = ',')]
    pub cpus: Vec<usize>,
    /// Connects in flight at once at most, over all client cores.
    #[arg(long, default_value_t = 256)]
    pub connect_concurrency: usize,
    /// Per request: no whole response by then is a `timeout` and the connection is reopened.
    #[arg(long, default_value_t = 5000)]
    pub timeout_ms: u64,
    /// Check that each response body equals the request body (for `POST /echo`).
    #[arg(long)]
    pub verify: bool,
    /// Print one JSON object on stdout instead of the text summary.
    #[arg(long)]
    pub json: bool,
    /// I/O backend of the client cores: auto, io_uring or epoll (default: RINGIO_BACKEND, else auto).
    #[arg(long, value_name = "auto|io_uring|epoll")]
    pub backend: Option<Backend>,
    /// No load: merge these JSON summaries (from `--json` runs) and print the result.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub merge: Vec<PathBuf>,
    /// Do not print the progress line each second.
    #[arg(long)]
    pub quiet: bool,
}

/// `10`, `1.5`, `10s` or `500ms`: a duration in seconds unless it ends in `ms`.
///
/// # Errors
///
/// If the text is not such a number.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 1e-3)
    } else {
        (text.strip_suffix('s').unwrap_or(text), 1.0)
    };
    match number.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Ok(Duration::from_secs_f64(n * scale)),
        _ => Err(format!("{text:?} is not a duration (e.g. 10, 10s, 500ms)")),
    }
}

/// What the load generator does, checked.
#[derive(Clone, Debug)]
pub struct Config {
    /// The server.
    pub addr: SocketAddr,
    /// The request each connection sends, serialized once (head and body).
    pub request: Vec<u8>,
    /// The request body, for `--verify`.
    pub body: Vec<u8>,
    /// The method is HEAD: responses carry no body.
    pub head_request: bool,
    /// Connections over all client cores.
    pub conns: usize,
    /// Length of the measured window.
    pub duration: Duration,
    /// Time before the window.
    pub warmup: Duration,
    /// Offered req/s in total; 0: closed loop.
    pub rate: u64,
    /// Client cores.
    pub workers: usize,
    /// CPU to pin client core `i` to; empty: not pinned.
    pub cpus: Vec<usize>,
    /// Connects in flight at once at most, over all client cores.
    pub connect_concurrency: usize,
    /// How long a request (or a connect) may take.
    pub timeout: Duration,
    /// Compare each response body with the request body.
    pub verify: bool,
    /// The client runtime's I/O backend; `None`: RINGIO_BACKEND or Auto decide.
    pub backend: Option<Backend>,
    /// Print the progress line each second.
    pub progress: bool,
}

/// The generated body of `--body-size n`: printable, and not one byte repeated, so a
/// shifted or truncated echo shows.
pub fn generated_body(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

impl Args {
    /// The checked configuration.
    ///
    /// # Errors
    ///
    /// A message naming the flag and what it must be.
    pub fn config(&self) -> Result<Config, String> {
        if self.conns == 0 {
            return Err("--conns must be at least 1".into());
        }
        if self.duration.is_zero() {
            return Err("--duration must be above 0".into());
        }
        if self.connect_concurrency == 0 {
            return Err("--connect-concurrency must be at least 1".into());
        }
        if self.timeout_ms == 0 {
            return Err("--timeout-ms must be at least 1".into());
        }
        if self.workers == 0 || self.workers > self.conns {
            return Err(format!(
                "--workers must be 1..=--conns ({}), not {}",
                self.conns, self.workers
            ));
        }
        if !self.cpus.is_empty() && self.cpus.len() != self.workers {
            return Err(format!(
                "--cpus names {} CPUs for --workers {}: give one CPU per client core",
                self.cpus.len(),
                self.workers
            ));
        }
        let allowed = super::echo::allowed_cpus();
        if let Some(cpu) = self.cpus.iter().find(|c| !allowed.contains(c)) {
            return Err(format!(
                "--cpus: this process may not run on CPU {cpu} (allowed: {allowed:?})"
            ));
        }
        let method = self.method.trim();
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(format!("--method {method:?} is not an HTTP method"));
        }
        if !self.path.starts_with('/') || self.path.bytes().any(|b| b <= b' ') {
            return Err(format!(
                "--path {:?} must start with / and hold no spaces",
                self.path
            ));
        }
        let body = match (&self.body, self.body_size) {
            (Some(b), _) => Some(b.as_bytes().to_vec()),
            (None, Some(n)) if n > MAX_BODY_SIZE => {
                return Err(format!("--body-size must be at most {MAX_BODY_SIZE}"));
            }
            (None, Some(n)) => Some(generated_body(n)),
            (None, None) => None,
        };
        let mut head = format!("{method} {} HTTP/1.1\r\n", self.path);
        let mut has_host = false;
        for h in &self.headers {
            let Some((name, value)) = h.split_once(':') else {
                return Err(format!("--header {h:?} is not `Name: value`"));
            };
            let name = name.trim();
            if name.is_empty() || name.bytes().any(|b| b <= b' ' || b == b':') {
                return Err(format!("--header {h:?}: bad name"));
            }
            if value.contains(['\r', '\n']) {
                return Err(format!("--header {h:?}: the value holds a line break"));
            }
            if name.eq_ignore_ascii_case("content-length")
                || name.eq_ignore_ascii_case("transfer-encoding")
            {
                return Err(format!(
                    "--header {name}: the body's framing is set from --body/--body-size"
                ));
            }
            has_host |= name.eq_ignore_ascii_case("host");
            head.push_str(&format!("{name}: {}\r\n", value.trim()));
        }
        if !has_host {
            head.push_str(&format!("Host: {}\r\n", self.addr));
        }
        if let Some(b) = &body {
            head.push_str(&format!("Content-Length: {}\r\n", b.len()));
        }
        head.push_str("\r\n");
        let mut request = head.into_bytes();
        let body = body.unwrap_or_default();
        request.extend_from_slice(&body);
        Ok(Config {
            addr: self.addr,
            request,
            body,
            head_request: method.eq_ignore_ascii_case("HEAD"),
            conns: self.conns,
            duration: self.duration,
            warmup: self.warmup,
            rate: self.rate,
            workers: self.workers,
            cpus: self.cpus.clone(),
            connect_concurrency: self.connect_concurrency,
            timeout: Duration::from_millis(self.timeout_ms),
            verify: self.verify,
            backend: self.backend,
            progress: !self.quiet,
        })
    }
}

/// Raises RLIMIT_NOFILE to the hard limit and checks that `conns` connections fit.
///
/// # Errors
///
/// A message saying how many connections fit (or why the limit could not be raised).
pub fn check_fd_limit(conns: usize, workers: usize) -> Result<(), String> {
    let limit = super::echo::raise_fd_limit().map_err(|e| e.to_string())?;
    let reserve = super::echo::client_fd_reserve(workers);
    check_fd_budget(conns, 1, limit, reserve).map_err(|fit| {
        format!(
            "--conns {conns} does not fit the file-descriptor limit {limit}: at most {fit} \
             connections fit (raise the hard limit with `ulimit -Hn` as root)"
        )
    })
}
