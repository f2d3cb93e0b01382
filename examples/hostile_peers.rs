//! Hostile peers for a TCP server on loopback, for `bench/hostile.sh`:
//!
//! - `--mode slow` (slowloris): opens `--conns` connections, then sends one byte on each
//!   every `--interval-ms` and never reads, for `--duration` seconds. Prints `slow: N
//!   connections open` once all are up (the script starts its healthy clients then), and
//!   a summary at the end.
//! - `--mode flood`: makes `--attempts` connection attempts, `--concurrency` at a time,
//!   closing each at once with a reset (SO_LINGER 0, so no TIME_WAIT uses up the
//!   client's ports), and prints how many connected, failed, and how long it took.
//!
//! ```sh
//! cargo run --release --example echo_server -- --addr 127.0.0.1:7000 &
//! cargo run --release --example hostile_peers -- --mode slow --conns 5000 --duration 20
//! cargo run --release --example hostile_peers -- --mode flood --attempts 50000
//! ```
//!
//! Only loopback addresses are accepted. Exit code 0 when the run ended as asked (a flood
//! counts refused attempts, it does not fail on them), 2 for arguments that cannot work.

#[path = "common/rlimit.rs"]
mod rlimit;

use clap::{Parser, ValueEnum};
use ringio::net::TcpStream;
use ringio::sync::Semaphore;
use std::cell::Cell;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Connections that trickle one byte at a time and never read.
    Slow,
    /// Connection attempts as fast as they go, each closed at once.
    Flood,
}

/// Hostile peers against a loopback server.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The server (loopback only).
    #[arg(long, default_value = "127.0.0.1:7000")]
    addr: SocketAddr,
    #[arg(long, value_enum)]
    mode: Mode,
    /// Slow connections to hold open.
    #[arg(long, default_value_t = 5000)]
    conns: usize,
    /// Time between two bytes on one slow connection, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// How long the slow connections stay, in seconds (counted once all are up).
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Connection attempts of the flood.
    #[arg(long, default_value_t = 50_000)]
    attempts: usize,
    /// Flood attempts in flight at once.
    #[arg(long, default_value_t = 512)]
    concurrency: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !args.addr.ip().is_loopback() {
        eprintln!("--addr {}: only loopback addresses are allowed", args.addr);
        return ExitCode::from(2);
    }
    match rlimit::raise_nofile_limit() {
        Ok(limit) if args.mode == Mode::Slow && limit < args.conns as u64 + 64 => {
            eprintln!(
                "--conns {}: RLIMIT_NOFILE is {limit}; at most {} slow connections fit",
                args.conns,
                limit.saturating_sub(64)
            );
            return ExitCode::from(2);
        }
        Ok(_) => {}
        Err(e) => eprintln!("cannot raise RLIMIT_NOFILE: {e}"),
    }
    match args.mode {
        Mode::Slow => ringio::run(slow(&args)),
        Mode::Flood => ringio::run(flood(&args)),
    }
    ExitCode::SUCCESS
}

/// Holds `--conns` connections, each sending a byte every `--interval-ms`.
async fn slow(args: &Args) {
    let started = Instant::now();
    let opening = Rc::new(Semaphore::new(256));
    let conns: Vec<_> = (0..args.conns)
        .map(|_| {
            let opening = opening.clone();
            let addr = args.addr;
            ringio::spawn(async move {
                let _permit = opening.acquire().await;
                TcpStream::connect(addr).await
            })
        })
        .collect();
    let mut streams = Vec::with_capacity(args.conns);
    let mut failed = 0usize;
    for c in conns {
        match c.await {
            Ok(Ok(s)) => streams.push(s),
            _ => failed += 1,
        }
    }
    println!(
        "slow: {} connections open ({failed} failed) in {:.1?}",
        streams.len(),
        started.elapsed()
    );
    let deadline = Instant::now() + Duration::from_secs(args.duration);
    let interval = Duration::from_millis(args.interval_ms);
    let sent = Rc::new(Cell::new(0u64));
    let cut = Rc::new(Cell::new(0usize));
    let n = streams.len().max(1);
    let trickles: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let (sent, cut) = (sent.clone(), cut.clone());
            // Spread the first bytes over one interval, so they do not all come at once.
            let offset = interval * u32::try_from(i).unwrap_or(u32::MAX) / n as u32;
            ringio::spawn(async move {
                ringio::time::sleep(offset).await;
                while Instant::now() < deadline {
                    if s.write_all(vec![b'x']).await.0.is_err() {
                        cut.set(cut.get() + 1);
                        return;
                    }
                    sent.set(sent.get() + 1);
                    ringio::time::sleep(interval).await;
                }
            })
        })
        .collect();
    for t in trickles {
        let _ = t.await;
    }
    println!(
        "slow: done: {} bytes sent, {} connections cut by the server",
        sent.get(),
        cut.get()
    );
}

/// Makes `--attempts` connection attempts from `--concurrency` workers, each attempt
/// reset at once.
async fn flood(args: &Args) {
    let started = Instant::now();
    let left = Rc::new(Cell::new(args.attempts));
    let connected = Rc::new(Cell::new(0usize));
    let failed = Rc::new(Cell::new(0usize));
    let workers: Vec<_> = (0..args.concurrency.max(1))
        .map(|_| {
            let (left, connected, failed) = (left.clone(), connected.clone(), failed.clone());
            let addr = args.addr;
            ringio::spawn(async move {
                while left.get() > 0 {
                    left.set(left.get() - 1);
                    match TcpStream::connect(addr).await {
                        Ok(s) => {
                            // A reset, not a FIN: no TIME_WAIT on this side.
                            let _ = s.set_linger(Some(Duration::ZERO));
                            connected.set(connected.get() + 1);
                        }
                        Err(_) => failed.set(failed.get() + 1),
                    }
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.await;
    }
    println!(
        "flood: {} attempts, {} connected, {} failed, in {:.2?}",
        args.attempts,
        connected.get(),
        failed.get(),
        started.elapsed()
    );
}
