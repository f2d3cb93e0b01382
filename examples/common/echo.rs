//! Code shared by the echo examples (`echo_server`, `echo_client`, `echo_bench`).
//!
//! Each example pulls it in with `#[path = "common/echo.rs"] mod echo;`. Cargo does not
//! build `examples/common/` as an example of its own: it has no `main.rs`.
//!
//! - [`server`]: the accept loop and the per-connection echo task.
//! - [`client`]: the load generator (closed or open loop, one or more cores).
//! - [`limits`]: the checks on the client's arguments and its fd budget.
//! - [`pacing`]: the open-loop send schedule (`--rate`).
//! - [`payload`]: the per-request byte pattern and its check.
//! - [`procfs`]: the server's CPU time and RSS from `/proc` (`--server-pid`).
//! - [`report`]: the summary (text and JSON) and the error kinds.
//! - [`tally`]: one client core's counts and their merge.
//!
//! Everything here is loopback-only test tooling; the thread-pinning helper below,
//! `procfs::clock_ticks_per_s` and `rlimit.rs` (shared with `fetch_many`) are the places
//! that call libc directly.

#[path = "echo/client.rs"]
pub mod client;
#[path = "echo/limits.rs"]
pub mod limits;
#[path = "echo/pacing.rs"]
pub mod pacing;
#[path = "echo/payload.rs"]
pub mod payload;
#[path = "echo/procfs.rs"]
pub mod procfs;
#[path = "echo/report.rs"]
pub mod report;
#[path = "rlimit.rs"]
mod rlimit;
#[path = "echo/server.rs"]
pub mod server;
#[path = "echo/tally.rs"]
pub mod tally;

use ringio::runtime::Backend;
use std::io;

/// Descriptors kept back for everything that is not a connection (stdio, the ring, its
/// eventfd, the listener, cargo's pipes): 64 is several times what a run opens.
pub const FD_RESERVE: u64 = 64;

/// Descriptors each client core adds on top of [`FD_RESERVE`]: its ring and its
/// eventfd are two; 4 leaves room for what a later runtime version might add per core.
pub const FDS_PER_CORE: u64 = 4;

/// Descriptors a client process of `workers` cores needs besides its connections.
pub fn client_fd_reserve(workers: usize) -> u64 {
    FD_RESERVE + FDS_PER_CORE * workers as u64
}

/// Default read buffer of the server: 4 KiB holds any message the benchmarks send in
/// one read and is one page, the unit the allocator and the kernel copy in.
pub const DEFAULT_SERVER_BUF: usize = 4096;

/// A runtime of exactly one core, on the calling thread: each echo role is one core,
/// and the builder's default (one core per CPU) would start idle extra threads.
/// `backend`: as `--backend` said; `None` leaves the choice to `RINGIO_BACKEND` or Auto.
///
/// # Errors
///
/// If the backend cannot be used here (the message names the cause and the fix).
pub fn one_core_runtime(backend: Option<Backend>) -> io::Result<ringio::Runtime> {
    with_backend(ringio::Runtime::builder().workers(1), backend).build()
}

/// `builder` told to use `backend`, or left as it is (`RINGIO_BACKEND` or Auto decide)
/// when `--backend` was not given.
pub fn with_backend(builder: ringio::Builder, backend: Option<Backend>) -> ringio::Builder {
    match backend {
        Some(b) => builder.backend(b),
        None => builder,
    }
}

/// The backend a runtime runs, and why Auto fell back if it did: `io_uring`, `epoll`, or
/// `epoll (io_uring unavailable: <reason>)`.
pub fn backend_summary(backend: Backend, fallback_reason: Option<&str>) -> String {
    match fallback_reason {
        Some(why) => format!("{backend} (io_uring unavailable: {why})"),
        None => backend.to_string(),
    }
}

/// Raises RLIMIT_NOFILE to the hard limit and returns the limit now in force.
///
/// # Errors
///
/// If getrlimit/setrlimit fail; the message says what to do.
pub fn raise_fd_limit() -> io::Result<u64> {
    rlimit::raise_nofile_limit().map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot raise RLIMIT_NOFILE ({e}); try `ulimit -n` with a larger value"),
        )
    })
}

/// The CPUs this process may run on, in ascending order (empty if the kernel would not say).
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: an all-zero cpu_set_t is a valid, empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: sched_getaffinity writes at most `size_of::<cpu_set_t>()` bytes into the
    // live local set whose exact size we pass.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if r != 0 {
        return Vec::new();
    }
    let max = 8 * std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: CPU_ISSET only reads one bit of the live local set; `cpu < max` keeps it in bounds.
    (0..max)
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

/// Pins the calling thread to `cpu`.
///
/// # Errors
///
/// If the CPU does not exist or this process may not use it (EINVAL).
pub fn pin_current_thread(cpu: usize) -> io::Result<()> {
    let max = 8 * std::mem::size_of::<libc::cpu_set_t>();
    if cpu >= max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("CPU {cpu} is past the {max} a cpu_set_t can name"),
        ));
    }
    // SAFETY: an all-zero cpu_set_t is a valid, empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET writes one bit of the live local set; `cpu < max` was checked above.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: sched_setaffinity reads the live local set whose exact size we pass.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if r != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("cannot pin this thread to CPU {cpu}: {e}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_core_adds_to_the_fd_reserve() {
        assert_eq!(client_fd_reserve(1), FD_RESERVE + FDS_PER_CORE);
        assert_eq!(client_fd_reserve(4), FD_RESERVE + 4 * FDS_PER_CORE);
        // 1,000 connections on 4 cores under a limit of 1,064: one per connection plus
        // the reserve no longer fits, and the message would say how many do.
        let limit = 1000 + FD_RESERVE;
        assert_eq!(
            limits::check_fd_budget(1000, 1, limit, client_fd_reserve(4)),
            Err(1000 - 4 * FDS_PER_CORE)
        );
    }

    #[test]
    fn this_thread_may_run_on_some_cpu() {
        let cpus = allowed_cpus();
        assert!(!cpus.is_empty());
        // Pinning to a CPU we are allowed on works; one past the set's size is refused.
        std::thread::spawn(move || pin_current_thread(cpus[0]).unwrap())
            .join()
            .unwrap();
        assert!(pin_current_thread(1 << 20).is_err());
    }
}

/// The load flags `echo_client` and `echo_bench` share.
#[derive(clap::Args, Debug, Clone)]
pub struct LoadArgs {
    /// Connections to keep busy.
    #[arg(long, default_value_t = 1000)]
    pub conns: usize,
    /// Bytes per request and per reply.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Measured seconds, after the warm-up.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Seconds of warm-up, not counted.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Connects in flight at once at most.
    #[arg(long, default_value_t = 256)]
    pub connect_concurrency: usize,
    /// Offered requests a second over all connections (open loop); 0 is closed loop.
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Client cores to spread the connections over.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

impl LoadArgs {
    /// The load generator's settings for these flags, against `addr`, on `cpus`, on
    /// `backend` (`None`: `RINGIO_BACKEND` or Auto decide), with live progress.
    pub fn config(
        &self,
        addr: std::net::SocketAddr,
        cpus: Vec<usize>,
        backend: Option<Backend>,
    ) -> client::LoadConfig {
        client::LoadConfig {
            addr,
            backend,
            conns: self.conns,
            size: self.size,
            duration: std::time::Duration::from_secs(self.duration),
            warmup: std::time::Duration::from_secs(self.warmup),
            connect_concurrency: self.connect_concurrency,
            rate: self.rate,
            workers: self.workers,
            cpus,
            progress: true,
        }
    }
}
