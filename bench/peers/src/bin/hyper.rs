//! hyper on tokio: the service of ringio's `examples/hyper_server.rs` (the same file,
//! `examples/common/http_service.rs`: routes, bodies, hyper settings) on tokio's
//! current-thread or multi-thread runtime, for the HTTP benchmark (`bench/http.sh`).
//!
//! `GET /` answers `Hello, world!`; `POST /echo` answers with the request body (413 past
//! 16 MiB); anything else is a 404. hyper-util's auto builder serves HTTP/1.1 with
//! keep-alive (and HTTP/2 by prior knowledge), TCP_NODELAY on every accepted socket.
//!
//! ```text
//! cargo run --release -p ringio-peers --bin peer-hyper -- --flavor ct --addr 127.0.0.1:8080
//! cargo run --release -p ringio-peers --bin peer-hyper -- --flavor mt --threads 2
//! curl http://127.0.0.1:8080/
//! ```
//!
//! Prints `listening on http://ADDR (...)` once the listener is bound.

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

const USAGE: &str = "peer-hyper [--addr 127.0.0.1:8080] [--flavor ct|mt] [--threads 1]";

/// The service and hyper settings of ringio's hyper_server, the same file.
#[path = "../../../../examples/common/http_service.rs"]
mod service;

/// Which tokio runtime serves.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Flavor {
    /// `new_current_thread`: one thread runs everything.
    CurrentThread,
    /// `new_multi_thread` with `--threads` workers.
    MultiThread,
}

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = "127.0.0.1:8080".parse().expect("a literal address");
    let mut flavor = Flavor::CurrentThread;
    let mut threads: usize = 1;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--addr" => addr = ringio_peers::parse_value(&flag, it.next(), USAGE),
            "--threads" => threads = ringio_peers::parse_value(&flag, it.next(), USAGE),
            "--flavor" => {
                flavor = match it.next().as_deref() {
                    Some("ct") => Flavor::CurrentThread,
                    Some("mt") => Flavor::MultiThread,
                    _ => ringio_peers::bad_usage("--flavor takes ct or mt", USAGE),
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            _ => ringio_peers::bad_usage(&format!("unknown flag {flag}"), USAGE),
        }
    }
    if threads == 0 {
        ringio_peers::bad_usage("--threads must be at least 1", USAGE);
    }
    ringio_peers::raise_fd_limit()?;
    let (rt, note) = match flavor {
        Flavor::CurrentThread => (
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            "hyper on tokio current-thread".to_string(),
        ),
        Flavor::MultiThread => (
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .enable_all()
                .build()?,
            format!("hyper on tokio multi-thread, {threads} workers"),
        ),
    };
    rt.block_on(serve(addr, &note))
}

/// Accepts forever, one spawned task per connection.
async fn serve(addr: SocketAddr, note: &str) -> io::Result<()> {
    let std_listener = ringio_peers::listener(addr, false)?;
    std_listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(std_listener)?;
    {
        let mut out = io::stdout().lock();
        let _ = writeln!(
            out,
            "listening on http://{} ({note})",
            listener.local_addr()?
        );
        let _ = out.flush();
    }
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(async move {
                    let _ = stream.set_nodelay(true);
                    // A client's error ends its connection only.
                    let builder = service::builder(
                        TokioExecutor::new(),
                        TokioTimer::new(),
                        service::HEADER_TIMEOUT,
                    );
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service_fn(service::handle))
                        .await;
                });
            }
            // EMFILE/ENFILE and friends: keep serving what is open, try again shortly.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(ringio_peers::ACCEPT_BACKOFF_MS)).await
            }
        }
    }
}
