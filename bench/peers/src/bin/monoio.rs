//! Echo server on monoio's io_uring driver: one thread per core, each pinned, each with
//! its own SO_REUSEPORT listener, one task per connection, owned-buffer reads and writes.
//!
//! `cargo run --release -p ringio-peers --bin peer-monoio -- --workers 1`
//! (`--workers`: threads, default 1).

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

const USAGE: &str = "peer-monoio [--addr 127.0.0.1:7000] [--workers N]";
/// Ring entries per thread, monoio's own default.
const RING_ENTRIES: u32 = 1024;

fn main() -> std::io::Result<()> {
    let args = ringio_peers::server_args(USAGE);
    ringio_peers::raise_fd_limit()?;
    let workers = args.workers.unwrap_or(1);
    let cpus = ringio_peers::allowed_cpus();
    // The first listener binds (port 0 picks a port), the others share its address.
    let first = ringio_peers::listener(args.addr, true)?;
    let addr = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..workers {
        listeners.push(ringio_peers::listener(addr, true)?);
    }
    let (ready_tx, ready_rx) = mpsc::channel::<std::io::Result<()>>();
    let mut threads = Vec::new();
    for (i, std_listener) in listeners.into_iter().enumerate() {
        let cpu = cpus[i % cpus.len()];
        let ready = ready_tx.clone();
        threads.push(std::thread::spawn(move || {
            ringio_peers::pin_current_thread(cpu);
            let rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
                .with_entries(RING_ENTRIES)
                .enable_timer()
                .build();
            let mut rt = match rt {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready.send(Err(e));
                    return;
                }
            };
            rt.block_on(async move {
                let listener = match TcpListener::from_std(std_listener) {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                let _ = ready.send(Ok(()));
                serve(listener).await;
            });
        }));
    }
    drop(ready_tx);
    for _ in 0..workers {
        ready_rx
            .recv()
            .map_err(|_| std::io::Error::other("a monoio worker died while starting"))??;
    }
    ringio_peers::announce(addr, &format!("monoio io_uring, {workers} workers"));
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

/// Accepts forever, one task per connection.
async fn serve(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                monoio::spawn(echo(stream));
            }
            // EMFILE/ENFILE and friends: keep serving what is open, try again shortly.
            Err(_) => {
                monoio::time::sleep(Duration::from_millis(ringio_peers::ACCEPT_BACKOFF_MS)).await
            }
        }
    }
}

/// Reads up to 4 KiB into an owned buffer, writes it all back, until EOF or an error.
async fn echo(mut stream: TcpStream) {
    if stream.set_nodelay(true).is_err() {
        return;
    }
    let mut buf = Vec::with_capacity(ringio_peers::BUF_SIZE);
    loop {
        // monoio reads into the spare capacity and sets the length to what arrived.
        let (res, b) = stream.read(buf).await;
        match res {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let (res, mut b) = stream.write_all(b).await;
        if res.is_err() {
            return;
        }
        b.clear();
        buf = b;
    }
}
