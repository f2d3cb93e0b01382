//! The echo load generator, itself built on ringio: many closed-loop connections on one
//! core, every reply checked byte for byte, latency in an HDR histogram.
//!
//! Each connection sends `--size` bytes (a pattern derived from its id and request
//! number, so a mis-routed or stale reply is caught), reads the same number back,
//! compares, and goes again. After `--warmup` seconds it counts for `--duration`
//! seconds, then stops every connection and prints a summary (`--json`: one JSON
//! object on stdout). A progress line goes to stderr each second.
//!
//! ```text
//! cargo run --release --example echo_server
//! cargo run --release --example echo_client -- --conns 1000 --size 64 --duration 10
//! ```
//!
//! Exit code: 0 if no error, 1 if any request failed, 2 if the arguments cannot work
//! (e.g. more connections than file descriptors).

#[allow(dead_code)] // shared by the three echo examples; each uses part of it
#[path = "common/echo.rs"]
mod echo;

use clap::Parser;
use echo::client::{LoadConfig, run_load};
use echo::report::{check_fd_budget, check_load_args, format_json, format_text};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

/// ringio echo load generator.
#[derive(Parser, Debug)]
#[command(about = "Closed-loop TCP echo load generator on one ringio core")]
struct Args {
    /// The echo server.
    #[arg(long, default_value = "127.0.0.1:7000")]
    addr: SocketAddr,
    /// Connections to keep busy.
    #[arg(long, default_value_t = 1000)]
    conns: usize,
    /// Bytes per request and per reply.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Measured seconds, after the warm-up.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds of warm-up, not counted.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Connects in flight at once at most.
    #[arg(long, default_value_t = 256)]
    connect_concurrency: usize,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(msg) = check_load_args(
        args.conns,
        args.size,
        args.duration,
        args.connect_concurrency,
    ) {
        eprintln!("{msg}");
        return ExitCode::from(2);
    }
    let limit = match echo::raise_fd_limit() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    // One descriptor per connection in this process.
    if let Err(fit) = check_fd_budget(args.conns, 1, limit, echo::FD_RESERVE) {
        eprintln!(
            "--conns {} does not fit the file-descriptor limit {limit}: at most {fit} \
             connections fit (raise the hard limit with `ulimit -Hn` as root)",
            args.conns
        );
        return ExitCode::from(2);
    }
    let rt = match echo::one_core_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let cfg = LoadConfig {
        addr: args.addr,
        conns: args.conns,
        size: args.size,
        duration: Duration::from_secs(args.duration),
        warmup: Duration::from_secs(args.warmup),
        connect_concurrency: args.connect_concurrency,
        progress: true,
    };
    let report = rt.block_on(run_load(&cfg, |_| {}));
    if args.json {
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
