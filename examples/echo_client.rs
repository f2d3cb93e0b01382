//! The echo load generator, itself built on ringio: many echo connections on one or
//! more cores, every reply checked byte for byte, latency in an HDR histogram.
//!
//! Each connection sends `--size` bytes (a pattern derived from its id and request
//! number, so a mis-routed or stale reply is caught), reads the same number back,
//! compares, and goes again: at once (closed loop, the default) or on a fixed schedule
//! (`--rate R`: R requests a second in total, spread evenly over the connections; latency
//! counts from each request's scheduled send time, so a slow server cannot hide behind a
//! client that waits for it). After `--warmup` seconds it counts for `--duration`
//! seconds, then stops every connection and prints a summary (`--json`: one JSON object
//! on stdout). A progress line goes to stderr each second.
//!
//! `--workers N` spreads the connections over N client cores (pinned to `--cpus a,b,..`
//! if given, else left to the scheduler); `--server-pid` adds the server's CPU time per
//! request and its RSS, read from `/proc`; `--backend auto|io_uring|epoll` picks the
//! client runtime's I/O backend (default: `RINGIO_BACKEND`, else auto), which the
//! summary names (with the reason, if auto fell back to epoll).
//!
//! ```text
//! cargo run --release --example echo_server
//! cargo run --release --example echo_client -- --conns 1000 --size 64 --duration 10
//! cargo run --release --example echo_client -- --rate 100000 --server-pid $(pgrep -n echo_server)
//! ```
//!
//! Exit code: 0 if no error, 1 if any request failed, 2 if the arguments cannot work
//! (e.g. more connections than file descriptors, a server pid that cannot be read).

#[allow(dead_code)] // shared by the three echo examples; each uses part of it
#[path = "common/echo.rs"]
mod echo;

use clap::Parser;
use echo::client::{Phase, run_load};
use echo::limits::{check_fd_budget, check_load_args, check_workers};
use echo::procfs::{ServerUsage, clock_ticks_per_s, read_cpu_ticks, read_rss_kib};
use echo::report::{format_json, format_text};
use ringio::runtime::Backend;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Mutex;

/// ringio echo load generator.
#[derive(Parser, Debug)]
#[command(about = "TCP echo load generator (closed or open loop) on ringio cores")]
struct Args {
    /// The echo server.
    #[arg(long, default_value = "127.0.0.1:7000")]
    addr: SocketAddr,
    #[command(flatten)]
    load: echo::LoadArgs,
    /// CPUs to pin the client cores to, one per core (e.g. `--cpus 1,2`); default: not pinned.
    #[arg(long, value_delimiter = ',')]
    cpus: Vec<usize>,
    /// The server's process id: report its CPU time per request and its RSS.
    #[arg(long)]
    server_pid: Option<u32>,
    /// I/O backend of the client cores: auto (io_uring where it works, else epoll),
    /// io_uring or epoll. Default: what RINGIO_BACKEND says, else auto.
    #[arg(long, value_name = "auto|io_uring|epoll")]
    backend: Option<Backend>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(msg) = check_load_args(
        args.load.conns,
        args.load.size,
        args.load.duration,
        args.load.connect_concurrency,
    ) {
        eprintln!("{msg}");
        return ExitCode::from(2);
    }
    if let Err(msg) = check_workers(args.load.conns, args.load.workers, &args.cpus) {
        eprintln!("{msg}");
        return ExitCode::from(2);
    }
    let allowed = echo::allowed_cpus();
    if let Some(cpu) = args.cpus.iter().find(|c| !allowed.contains(c)) {
        eprintln!("--cpus: this process may not run on CPU {cpu} (allowed: {allowed:?})");
        return ExitCode::from(2);
    }
    if let Some(pid) = args.server_pid {
        // Checked now, so a typo fails at once rather than after the whole run.
        if let Err(e) = read_cpu_ticks(pid).and_then(|_| read_rss_kib(pid)) {
            eprintln!("--server-pid {pid}: {e}");
            return ExitCode::from(2);
        }
    }
    let limit = match echo::raise_fd_limit() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    // One descriptor per connection in this process, plus each core's ring and eventfd.
    let reserve = echo::client_fd_reserve(args.load.workers);
    if let Err(fit) = check_fd_budget(args.load.conns, 1, limit, reserve) {
        eprintln!(
            "--conns {} does not fit the file-descriptor limit {limit}: at most {fit} \
             connections fit (raise the hard limit with `ulimit -Hn` as root)",
            args.load.conns
        );
        return ExitCode::from(2);
    }
    let cfg = args.load.config(args.addr, args.cpus.clone(), args.backend);
    if args.cpus.is_empty() && args.load.workers > 1 {
        eprintln!("client cores not pinned (give --cpus to pin them)");
    }
    // The server's CPU ticks at the window's start, then its usage at the end.
    let ticks_start: Mutex<Option<u64>> = Mutex::new(None);
    let usage: Mutex<Option<ServerUsage>> = Mutex::new(None);
    let sample_server = |phase: Phase| {
        let Some(pid) = args.server_pid else { return };
        let mut start = ticks_start.lock().unwrap_or_else(|e| e.into_inner());
        let read = match phase {
            Phase::Measuring => read_cpu_ticks(pid).map(|t| *start = Some(t)),
            Phase::Done => read_cpu_ticks(pid).and_then(|end| {
                let rss = read_rss_kib(pid)?;
                let begin = start.unwrap_or(end);
                let u = ServerUsage::new(begin, end, clock_ticks_per_s(), rss);
                *usage.lock().unwrap_or_else(|e| e.into_inner()) = Some(u);
                Ok(())
            }),
        };
        if let Err(e) = read {
            eprintln!("warning: server usage not reported: {e}");
        }
    };
    let mut report = match run_load(&cfg, sample_server) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    report.server_usage = usage.into_inner().unwrap_or_else(|e| e.into_inner());
    if args.load.json {
        println!("{}", format_json(&report, None));
    } else {
        print!("{}", format_text(&report, None));
    }
    if report.errors.total() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
