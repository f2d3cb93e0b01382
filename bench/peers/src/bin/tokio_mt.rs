//! Echo server on tokio's multi-thread (work-stealing) runtime.
//!
//! `cargo run --release -p ringio-peers --bin peer-tokio-mt -- --workers 2`
//! (`--workers`: worker threads, default every CPU this process may use).

#[path = "../tokio_echo.rs"]
mod tokio_echo;

const USAGE: &str = "peer-tokio-mt [--addr 127.0.0.1:7000] [--workers N]";

fn main() -> std::io::Result<()> {
    let args = ringio_peers::server_args(USAGE);
    ringio_peers::raise_fd_limit()?;
    let workers = args
        .workers
        .unwrap_or_else(|| ringio_peers::allowed_cpus().len().max(1));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    let note = format!("tokio multi-thread, {workers} workers");
    rt.block_on(tokio_echo::serve(args.addr, &note))
}
