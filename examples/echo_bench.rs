//! The echo benchmark in one command: a ringio echo server and the ringio load
//! generator in one process, each on its own core, then the summary with the server's
//! own io_uring figures.
//!
//! The server runs on a thread pinned to the first CPU this process may use (CPU 0 on
//! most machines), bound to 127.0.0.1 on a port the kernel picks; the load generator
//! runs on the main thread pinned to the second CPU. With one CPU both share it (and the
//! run says so). Defaults: 1,000 connections × 64 bytes, closed loop, 2 s warm-up, 10 s
//! measured. `--rate R` makes the load open loop (R requests a second in total, latency
//! from each scheduled send); `--workers N` runs N client cores, pinned in turn to the
//! CPUs after the server's (sharing them if there are fewer).
//!
//! ```text
//! cargo run --release --example echo_bench
//! cargo run --release --example echo_bench -- --conns 50
//! cargo run --release --example echo_bench -- --size 1024 --json
//! cargo run --release --example echo_bench -- --rate 100000
//! ```
//!
//! `--backend auto|io_uring|epoll` picks the I/O backend of both runtimes, the server's
//! and the load generator's (default: `RINGIO_BACKEND`, else auto); the summary names
//! the backend each ran and, if auto fell back to epoll, why.
//!
//! Server figures (io_uring_enter calls per request, or epoll_pwait2 calls on epoll; ops
//! per enter) are the difference of the server runtime's `metrics()` between the edges of
//! the measured window.
//! Exit code: 0 if no error, 1 if any request failed, 2 if the arguments cannot work.

#[allow(dead_code)] // shared by the three echo examples; each uses part of it
#[path = "common/echo.rs"]
mod echo;

use clap::Parser;
use echo::client::{Phase, run_load};
use echo::limits::{check_fd_budget, check_load_args, check_workers};
use echo::report::{ServerFigures, format_json, format_text};
use ringio::net::TcpListener;
use ringio::runtime::Backend;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// How often the server checks whether the client moved to the next phase: 10 ms puts
/// the window's edges within 0.1% of a 10 s run and costs the server ~100 timer wake-ups
/// a second, which fall into loop turns it makes anyway under load.
const PHASE_POLL: Duration = Duration::from_millis(10);

/// The run's phases as the server sees them (an `AtomicU8` shared by the two threads).
const WARMUP: u8 = 0;
const MEASURING: u8 = 1;
const WINDOW_CLOSED: u8 = 2;
/// Every client connection is closed: the server may stop.
const SHUTDOWN: u8 = 3;

/// ringio echo benchmark: server and load generator on two cores.
#[derive(Parser, Debug)]
#[command(about = "ringio echo server + load generator on two pinned cores")]
struct Args {
    #[command(flatten)]
    load: echo::LoadArgs,
    /// How the server receives: multishot into its buffer pool (stream), one pooled
    /// receive per message (pooled), or into each connection's own buffer (owned).
    #[arg(long, value_enum, default_value_t = echo::server::RecvMode::Stream)]
    recv: echo::server::RecvMode,
    /// I/O backend of both the server and the load generator: auto (io_uring where it
    /// works, else epoll), io_uring or epoll. Default: what RINGIO_BACKEND says, else
    /// auto. One flag for both ends, as the environment variable also sets both: a run
    /// measures one backend, not a mix (to pair them otherwise, run echo_server and
    /// echo_client, each with its own --backend).
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
    if let Err(msg) = check_workers(args.load.conns, args.load.workers, &[]) {
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
    // Both ends of every connection live in this process, and the server's core too.
    let reserve = echo::client_fd_reserve(args.load.workers + 1);
    if let Err(fit) = check_fd_budget(args.load.conns, 2, limit, reserve) {
        eprintln!(
            "--conns {} does not fit the file-descriptor limit {limit} (two per connection \
             here): at most {fit} connections fit",
            args.load.conns
        );
        return ExitCode::from(2);
    }
    let cpus = echo::allowed_cpus();
    let (server_cpu, client_cpu) = match cpus.as_slice() {
        [a, b, ..] => (*a, *b),
        [a] => (*a, *a),
        [] => (0, 0),
    };
    if server_cpu == client_cpu {
        eprintln!(
            "only one CPU available: server and load generator share CPU {server_cpu}, \
             so they compete for it and the figures are lower than on two cores"
        );
    }
    // Client cores take the CPUs after the server's in turn; with one CPU, the server's.
    let others: Vec<usize> = cpus.iter().copied().filter(|&c| c != server_cpu).collect();
    let client_cpus: Vec<usize> = if others.is_empty() {
        vec![client_cpu; args.load.workers]
    } else {
        (0..args.load.workers)
            .map(|i| others[i % others.len()])
            .collect()
    };
    let load = if args.load.rate == 0 {
        "closed loop".to_string()
    } else {
        format!("open loop at {} req/s", args.load.rate)
    };
    eprintln!(
        "echo bench: server on CPU {server_cpu} (--recv {:?}), load generator on CPUs \
         {client_cpus:?}; {} connections × {} bytes, {load}, {} s after {} s warm-up",
        args.recv, args.load.conns, args.load.size, args.load.duration, args.load.warmup
    );

    let phase = Arc::new(AtomicU8::new(WARMUP));
    let (addr_tx, addr_rx) = mpsc::channel();
    let server = {
        let phase = phase.clone();
        let (recv, backend) = (args.recv, args.backend);
        std::thread::Builder::new()
            .name("echo-server".into())
            .spawn(move || run_server(server_cpu, client_cpu, recv, backend, &phase, addr_tx))
            .expect("spawning a thread at start-up does not fail")
    };
    let addr: SocketAddr = match addr_rx.recv() {
        Ok(Ok(addr)) => addr,
        Ok(Err(msg)) => {
            eprintln!("echo server failed to start: {msg}");
            return ExitCode::FAILURE;
        }
        Err(_) => {
            eprintln!("echo server thread ended before it was listening");
            return ExitCode::FAILURE;
        }
    };

    let report = match run_client(client_cpus, &args, addr, &phase) {
        Ok(r) => r,
        Err(msg) => {
            eprintln!("load generator failed to start: {msg}");
            phase.store(SHUTDOWN, Ordering::Release);
            return ExitCode::FAILURE;
        }
    };
    phase.store(SHUTDOWN, Ordering::Release);
    let figures = match server.join() {
        Ok(Ok(f)) => f,
        Ok(Err(msg)) => {
            eprintln!("echo server failed: {msg}");
            return ExitCode::FAILURE;
        }
        Err(_) => {
            eprintln!("echo server thread panicked");
            return ExitCode::FAILURE;
        }
    };
    if args.load.json {
        println!("{}", format_json(&report, Some(&figures)));
    } else {
        print!("{}", format_text(&report, Some(&figures)));
    }
    if report.errors.total() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The server thread: pin, start a runtime, listen, send the address, echo until
/// [`SHUTDOWN`], and return the counters of the measured window.
fn run_server(
    cpu: usize,
    client_cpu: usize,
    recv: echo::server::RecvMode,
    backend: Option<Backend>,
    phase: &AtomicU8,
    addr_tx: mpsc::Sender<Result<SocketAddr, String>>,
) -> Result<ServerFigures, String> {
    let started = (|| {
        echo::pin_current_thread(cpu)?;
        let rt = echo::one_core_runtime(backend)?;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        Ok::<_, std::io::Error>((rt, listener, addr))
    })();
    let (rt, listener, addr) = match started {
        Ok(s) => s,
        Err(e) => {
            let _ = addr_tx.send(Err(e.to_string()));
            return Err(e.to_string());
        }
    };
    let _ = addr_tx.send(Ok(addr));
    rt.block_on(async move {
        drop(ringio::spawn(echo::server::serve(
            listener,
            recv,
            echo::DEFAULT_SERVER_BUF,
        )));
        wait_for_phase(phase, MEASURING).await;
        let start = ringio::metrics();
        wait_for_phase(phase, WINDOW_CLOSED).await;
        let end = ringio::metrics();
        wait_for_phase(phase, SHUTDOWN).await;
        // Returning cancels the accept loop and every connection task (all idle now).
        Ok(ServerFigures {
            enters: end.enters - start.enters,
            ops_submitted: end.ops_submitted - start.ops_submitted,
            ring_flags: end.ring_flags.to_string(),
            cpus: (cpu, client_cpu),
            backend: end.backend,
            fallback_reason: end.fallback_reason,
        })
    })
}

/// Sleeps in steps of [`PHASE_POLL`] until the run has reached `at_least`.
async fn wait_for_phase(phase: &AtomicU8, at_least: u8) {
    while phase.load(Ordering::Acquire) < at_least {
        ringio::time::sleep(PHASE_POLL).await;
    }
}

/// The load generator: core 0 on this thread, core `i` pinned to `cpus[i]`.
fn run_client(
    cpus: Vec<usize>,
    args: &Args,
    addr: SocketAddr,
    phase: &AtomicU8,
) -> Result<echo::report::Report, String> {
    let cfg = args.load.config(addr, cpus, args.backend);
    run_load(&cfg, |p| {
        let next = match p {
            Phase::Measuring => MEASURING,
            Phase::Done => WINDOW_CLOSED,
        };
        phase.store(next, Ordering::Release);
    })
}
