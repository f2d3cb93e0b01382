//! Shared bits of the comparison echo servers: flag parsing, the fd limit, CPU pinning,
//! and the `listening on` line the benchmark script waits for.
//!
//! Every server speaks the protocol of `examples/echo_server.rs`: echo every byte, a
//! 4 KiB read buffer per connection, TCP_NODELAY on accepted sockets.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;

/// Read buffer per connection, the same as ringio's echo server default.
pub const BUF_SIZE: usize = 4096;

/// Back-off after accept fails with EMFILE/ENFILE: long enough not to spin on a full fd
/// table, short enough that a freed fd is reused within a blink.
pub const ACCEPT_BACKOFF_MS: u64 = 10;

/// Flags shared by the servers: `--addr`, `--workers`.
#[derive(Debug)]
pub struct ServerArgs {
    /// Address to listen on.
    pub addr: SocketAddr,
    /// Threads (cores); `None` when the flag was not given.
    pub workers: Option<usize>,
}

/// Parses `--addr A` and `--workers N` (both optional); exits with code 2 on anything else.
pub fn server_args(usage: &str) -> ServerArgs {
    let mut addr: SocketAddr = "127.0.0.1:7000".parse().expect("a literal address");
    let mut workers = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--addr" => addr = parse_value(&flag, it.next(), usage),
            "--workers" => workers = Some(parse_value(&flag, it.next(), usage)),
            "-h" | "--help" => {
                println!("{usage}");
                std::process::exit(0);
            }
            _ => bad_usage(&format!("unknown flag {flag}"), usage),
        }
    }
    if workers == Some(0) {
        bad_usage("--workers must be at least 1", usage);
    }
    ServerArgs { addr, workers }
}

/// Flags shared by the echo clients: `--addr`, `--conns`, `--size`, `--duration`,
/// `--warmup` (seconds, fractions allowed).
#[derive(Debug)]
pub struct LoadArgs {
    /// The server.
    pub addr: SocketAddr,
    /// Connections, each with one request in flight.
    pub conns: usize,
    /// Bytes per request.
    pub size: usize,
    /// The measured window.
    pub duration: Duration,
    /// Time run before the window opens.
    pub warmup: Duration,
}

impl Default for LoadArgs {
    fn default() -> Self {
        LoadArgs {
            addr: "127.0.0.1:7000".parse().expect("a literal address"),
            conns: 1000,
            size: 64,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
        }
    }
}

impl LoadArgs {
    /// Takes `flag` and its value if it is one of the shared flags; `false` (and the value
    /// untouched) otherwise. Exits with code 2 on a bad value.
    pub fn take(&mut self, flag: &str, value: &mut Option<String>, usage: &str) -> bool {
        let secs = |value: Option<String>| {
            let s: f64 = parse_value(flag, value, usage);
            Duration::try_from_secs_f64(s)
                .unwrap_or_else(|_| bad_usage(&format!("{flag} {s}: not a duration"), usage))
        };
        match flag {
            "--addr" => self.addr = parse_value(flag, value.take(), usage),
            "--conns" => self.conns = parse_value(flag, value.take(), usage),
            "--size" => self.size = parse_value(flag, value.take(), usage),
            "--duration" => self.duration = secs(value.take()),
            "--warmup" => self.warmup = secs(value.take()),
            _ => return false,
        }
        true
    }
}

/// Parses the value that follows `flag`, or exits with code 2.
pub fn parse_value<T: std::str::FromStr>(flag: &str, value: Option<String>, usage: &str) -> T {
    match value.as_deref().map(str::parse) {
        Some(Ok(v)) => v,
        _ => bad_usage(&format!("{flag} needs a valid value"), usage),
    }
}

/// Prints the problem and the usage, exits with code 2.
pub fn bad_usage(msg: &str, usage: &str) -> ! {
    eprintln!("{msg}\n{usage}");
    std::process::exit(2)
}

/// Raises RLIMIT_NOFILE's soft limit to the hard limit and returns it.
pub fn raise_fd_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the call's duration.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    lim.rlim_cur = lim.rlim_max;
    // SAFETY: `lim` is a valid rlimit; raising the soft limit up to the hard one is allowed.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(lim.rlim_cur)
}

/// The CPUs this process may run on (its affinity mask), in order.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is valid and writable and its size is passed along.
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    if rc != 0 {
        return vec![0];
    }
    // SAFETY: CPU_ISSET only reads `set`, which the kernel has filled in.
    (0..libc::CPU_SETSIZE as usize)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect()
}

/// Pins the calling thread to `cpu`; a failure is reported and otherwise ignored, since
/// an unpinned server still serves.
pub fn pin_current_thread(cpu: usize) {
    // SAFETY: as in `allowed_cpus`.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` < CPU_SETSIZE because it came from `allowed_cpus`; `set` is writable.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is valid for reads and its size is passed along; 0 = this thread.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) } != 0 {
        eprintln!(
            "warning: could not pin to CPU {cpu}: {}",
            io::Error::last_os_error()
        );
    }
}

/// A listener with SO_REUSEADDR (and SO_REUSEPORT when `reuse_port`), TCP_NODELAY set
/// (Linux copies it to accepted sockets too; the servers still set it on each), and the
/// given accept backlog.
pub fn listener(addr: SocketAddr, reuse_port: bool) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    sock.set_reuse_address(true)?;
    if reuse_port {
        sock.set_reuse_port(true)?;
    }
    sock.set_tcp_nodelay(true)?;
    sock.bind(&addr.into())?;
    sock.listen(LISTEN_BACKLOG)?;
    Ok(sock.into())
}

/// Accept backlog: 10,000 connections arrive in bursts of `--connect-concurrency`, and
/// the kernel caps this at net.core.somaxconn anyway.
pub const LISTEN_BACKLOG: i32 = 4096;

/// Prints `listening on <addr>` (plus a note) on stdout and flushes, so that a script
/// reading the pipe sees it at once.
pub fn announce(addr: SocketAddr, note: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "listening on {addr} ({note})");
    let _ = out.flush();
}
