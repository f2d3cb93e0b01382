//! Echo server on tokio's current-thread runtime: one task per connection, one thread.
//!
//! `cargo run --release -p ringio-peers --bin peer-tokio-ct -- --addr 127.0.0.1:7000`

#[path = "../tokio_echo.rs"]
mod tokio_echo;

const USAGE: &str = "peer-tokio-ct [--addr 127.0.0.1:7000]";

fn main() -> std::io::Result<()> {
    let args = ringio_peers::server_args(USAGE);
    ringio_peers::raise_fd_limit()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(tokio_echo::serve(args.addr, "tokio current-thread"))
}
