//! A TCP echo server on ringio: one task per connection, every byte sent back, one
//! SO_REUSEPORT listener per core so the kernel spreads connections over the cores.
//!
//! Shows the accept loop, receives into the core's buffer pool (an idle connection holds
//! no buffer) or owned-buffer reads and writes (`read(buf)` then `write_all` of the `..n`
//! slice, reusing the buffer), `Runtime::run_per_core`, and how fd exhaustion
//! is survived: the listener backs off by itself and the server keeps serving the
//! connections it has.
//!
//! Run it, then drive it with the load generator:
//!
//! ```text
//! cargo run --release --example echo_server -- --addr 127.0.0.1:7000
//! cargo run --release --example echo_client -- --addr 127.0.0.1:7000 --conns 1000
//! ```
//!
//! Flags: `--addr` (default 127.0.0.1:7000), `--recv stream|pooled|owned|compat` (default
//! stream: multishot receives into the core's buffer pool; `compat`, built with
//! `--features tokio-io`, echoes through `compat::Compat` and `tokio::io::copy_buf`; see
//! `common/echo/server.rs`),
//! `--buf` (read buffer bytes with `--recv owned`, default 4096), `--pool-buffers` and
//! `--pool-buffer-size` (each core's receive pool, default 1,024 × 4,096), `--workers`
//! (cores, each pinned to its own CPU; default: every CPU this process may use),
//! `--backend auto|io_uring|epoll` (default: `RINGIO_BACKEND`, else auto: io_uring where
//! it works, epoll where it is denied), `--max-conns` (connections open at once over all
//! cores, default 100,000: past it a new connection is accepted and closed at once, the
//! first such on stderr, the count at shutdown). The `listening on` line names the
//! backend that runs and, if auto fell back to epoll, why.
//!
//! Graceful shutdown: on SIGTERM or Ctrl-C (SIGINT) each core stops accepting (its
//! listener closes), lets its open connections finish for up to `--grace` seconds
//! (default 5), then closes the rest; the process prints one `shutdown:` line (how many
//! connections were open, how many were cut), then the cores' totals (`io_uring_enter`
//! calls, ops submitted, how often the receive pool ran empty), and exits 0. Each core
//! listens for the signals itself (`ringio::signal::signal`): every listener wakes, on
//! every core.

#[allow(dead_code)] // shared by the three echo examples; each uses part of it
#[path = "common/echo.rs"]
mod echo;
#[path = "common/per_core.rs"]
mod per_core;

use clap::Parser;
use ringio::runtime::Backend;
use ringio::signal::{Signal, SignalKind, signal};
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// ringio echo server.
#[derive(Parser, Debug)]
#[command(about = "TCP echo server, one SO_REUSEPORT listener per ringio core")]
struct Args {
    /// Address to listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1:7000")]
    addr: SocketAddr,
    /// How to receive: multishot into the core's buffer pool (stream), one pooled
    /// receive per message (pooled), or into each connection's own buffer (owned).
    #[arg(long, value_enum, default_value_t = echo::server::RecvMode::Stream)]
    recv: echo::server::RecvMode,
    /// Read buffer per connection with `--recv owned`, in bytes.
    #[arg(long, default_value_t = echo::DEFAULT_SERVER_BUF)]
    buf: usize,
    /// Cores to serve on (default: every CPU this process may use).
    #[arg(long)]
    workers: Option<usize>,
    /// Buffers in each core's receive pool (a power of two; `--recv stream|pooled`).
    #[arg(long, default_value_t = ringio::runtime::DEFAULT_POOL_BUFFERS)]
    pool_buffers: u16,
    /// Bytes per pool buffer: the most one receive returns.
    #[arg(long, default_value_t = ringio::runtime::DEFAULT_POOL_BUFFER_SIZE)]
    pool_buffer_size: usize,
    /// I/O backend: auto (io_uring where it works, else epoll), io_uring or epoll.
    /// Default: what RINGIO_BACKEND says, else auto.
    #[arg(long, value_name = "auto|io_uring|epoll")]
    backend: Option<Backend>,
    /// Seconds the open connections may go on after SIGTERM or Ctrl-C before they are
    /// closed.
    #[arg(long, default_value_t = 5.0, value_parser = parse_grace)]
    grace: f64,
    /// Connections open at once, over all cores; past it new ones are accepted and
    /// closed at once (counted, and reported at shutdown).
    #[arg(long, default_value_t = echo::server::DEFAULT_MAX_CONNS)]
    max_conns: usize,
}

fn parse_grace(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(g) if Duration::try_from_secs_f64(g).is_ok() => Ok(g),
        _ => Err(format!("`{s}` is not a number of seconds (0 or more)")),
    }
}

/// What one core saw of the shutdown.
struct Shutdown {
    /// Connections open when the signal came.
    open: usize,
    /// Connections still open after the grace period, closed by the server.
    cut: usize,
    /// The signal that ended serving.
    by: SignalKind,
}

/// Waits for SIGTERM or SIGINT; returns which came.
async fn stop_signal(term: &mut Signal, int: &mut Signal) -> SignalKind {
    let (which, _) = ringio::task::race([term.recv(), int.recv()]).await;
    [SignalKind::terminate(), SignalKind::interrupt()][which]
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.buf == 0 {
        eprintln!("--buf must be at least 1 byte");
        return ExitCode::from(2);
    }
    if args.max_conns == 0 {
        eprintln!("--max-conns must be at least 1 connection");
        return ExitCode::from(2);
    }
    let limit = match echo::raise_fd_limit() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let workers = args
        .workers
        .unwrap_or_else(|| ringio::runtime::available_cpus().len().max(1));
    let builder = ringio::Runtime::builder()
        .workers(workers)
        .pin_cores(true)
        .buffer_pool(args.pool_buffers, args.pool_buffer_size);
    let rt = match echo::with_backend(builder, args.backend).build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let grace = Duration::from_secs_f64(args.grace);
    let bound = per_core::Bound::new();
    // Cores listening for the stop signals: core 0 says it listens once all do, so that
    // a signal sent after that line reaches every core.
    let armed = AtomicUsize::new(0);
    let max_conns = echo::server::ConnLimit::new(args.max_conns);
    let ends = rt.run_per_core(|core| {
        let (bound, armed, addr, buf, recv) = (&bound, &armed, args.addr, args.buf, args.recv);
        let max_conns = max_conns.clone();
        async move {
            let signals = signal(SignalKind::terminate())
                .and_then(|term| Ok((term, signal(SignalKind::interrupt())?)));
            let (mut term, mut int) = match signals {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("core {core}: {e}");
                    return Err(());
                }
            };
            armed.fetch_add(1, Ordering::SeqCst);
            let Some(listener) = per_core::bind(core, addr, bound).await else {
                return Err(());
            };
            if core == 0 {
                while armed.load(Ordering::SeqCst) < workers {
                    ringio::time::sleep(Duration::from_millis(1)).await;
                }
                let local = listener.local_addr().unwrap_or(addr);
                let m = ringio::metrics();
                let backend = echo::backend_summary(m.backend, m.fallback_reason);
                println!("listening on {local} ({workers} cores, backend {backend})");
                let _ = std::io::stdout().flush();
                eprintln!("fd limit {limit}; ring flags {}", m.ring_flags);
                per_core::announce(bound, local);
            }
            let conns = Rc::new(echo::server::Connections::with_limit(max_conns));
            let accepting =
                ringio::spawn(echo::server::serve_with(listener, recv, buf, conns.clone()));
            let by = stop_signal(&mut term, &mut int).await;
            // Dropping the accept loop closes the listener: new connections are refused.
            accepting.cancel();
            let _ = accepting.await;
            let open = conns.open();
            let cut = conns.close_within(grace).await;
            Ok(Shutdown { open, cut, by })
        }
    });
    let (mut open, mut cut, mut by) = (0, 0, SignalKind::terminate());
    for end in ends {
        let Ok(end) = end else {
            return ExitCode::FAILURE;
        };
        (open, cut, by) = (open + end.open, cut + end.cut, end.by);
    }
    println!("shutdown on {by}: {open} connections open, {cut} cut after the {grace:?} grace");
    if max_conns.refused() > 0 {
        println!(
            "max-conns: {} connections closed at once, over the limit of {}",
            max_conns.refused(),
            max_conns.max()
        );
    }
    let m = rt.metrics();
    println!(
        "server totals: {} enters, {} ops submitted; receive pool empty {} times, {} receives \
         into owned buffers",
        m.enters, m.ops_submitted, m.pool_exhausted, m.pool_fallbacks
    );
    ExitCode::SUCCESS
}
