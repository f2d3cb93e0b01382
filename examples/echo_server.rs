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
//! it works, epoll where it is denied). The `listening on` line names the backend that
//! runs and, if auto fell back to epoll, why.

#[allow(dead_code)] // shared by the three echo examples; each uses part of it
#[path = "common/echo.rs"]
mod echo;
#[path = "common/per_core.rs"]
mod per_core;

use clap::Parser;
use ringio::runtime::Backend;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

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
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.buf == 0 {
        eprintln!("--buf must be at least 1 byte");
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
    let bound = per_core::Bound::new();
    let codes = rt.run_per_core(|core| {
        let (bound, addr, buf, recv) = (&bound, args.addr, args.buf, args.recv);
        async move {
            let Some(listener) = per_core::bind(core, addr, bound).await else {
                return ExitCode::FAILURE;
            };
            if core == 0 {
                let local = listener.local_addr().unwrap_or(addr);
                let m = ringio::metrics();
                let backend = echo::backend_summary(m.backend, m.fallback_reason);
                println!("listening on {local} ({workers} cores, backend {backend})");
                let _ = std::io::stdout().flush();
                eprintln!("fd limit {limit}; ring flags {}", m.ring_flags);
                per_core::announce(bound, local);
            }
            echo::server::serve(listener, recv, buf).await;
            ExitCode::SUCCESS
        }
    });
    codes
        .into_iter()
        .find(|c| *c != ExitCode::SUCCESS)
        .unwrap_or(ExitCode::SUCCESS)
}
