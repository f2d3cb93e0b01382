//! An echo load generator on tokio's current-thread runtime: a client that shares no code
//! with ringio, to judge ringio's servers by a second opinion beside ringio's own
//! `echo_client`. Closed loop: each connection writes `--size` bytes, reads them back,
//! checks them and goes again. Prints one JSON line: requests a second over the measured
//! window and latency percentiles (microseconds).
//!
//! `cargo run --release -p ringio-peers --bin peer-client -- --addr 127.0.0.1:7000 --conns 1000`

use ringio_peers::LoadArgs;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const USAGE: &str = "peer-client [--addr 127.0.0.1:7000] [--conns 1000] [--size 64] \
                     [--duration 10] [--warmup 2]";

fn args() -> LoadArgs {
    let mut a = LoadArgs::default();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut v = it.next();
        if !a.take(&flag, &mut v, USAGE) {
            ringio_peers::bad_usage(&format!("unknown flag {flag}"), USAGE);
        }
    }
    a
}

/// Per-connection latencies (µs) of requests that ended inside the measured window.
type Samples = Rc<RefCell<Vec<u32>>>;

async fn connection(
    addr: std::net::SocketAddr,
    size: usize,
    id: usize,
    window: (Instant, Instant),
    connects: Rc<tokio::sync::Semaphore>,
    samples: Samples,
) -> std::io::Result<()> {
    let permit = connects.acquire().await.expect("never closed");
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    drop(permit);
    s.set_nodelay(true)?;
    let mut out = vec![0u8; size];
    let mut back = vec![0u8; size];
    let mut n: u64 = 0;
    loop {
        let now = Instant::now();
        if now >= window.1 {
            return Ok(());
        }
        out[..8.min(size)].copy_from_slice(&(n ^ id as u64).to_le_bytes()[..8.min(size)]);
        s.write_all(&out).await?;
        s.read_exact(&mut back).await?;
        if back != out {
            return Err(std::io::Error::other("echo returned other bytes"));
        }
        let end = Instant::now();
        if now >= window.0 && end <= window.1 {
            samples
                .borrow_mut()
                .push((end - now).as_micros().min(u128::from(u32::MAX)) as u32);
        }
        n += 1;
    }
}

fn main() -> std::io::Result<()> {
    let a = args();
    ringio_peers::raise_fd_limit()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let samples: Samples = Rc::new(RefCell::new(Vec::new()));
    let errors = local.block_on(&rt, async {
        let connects = Rc::new(tokio::sync::Semaphore::new(256));
        let start = Instant::now() + a.warmup;
        let window = (start, start + a.duration);
        let tasks: Vec<_> = (0..a.conns)
            .map(|id| {
                tokio::task::spawn_local(connection(
                    a.addr,
                    a.size,
                    id,
                    window,
                    connects.clone(),
                    samples.clone(),
                ))
            })
            .collect();
        let mut errors = 0usize;
        for t in tasks {
            if !matches!(t.await, Ok(Ok(()))) {
                errors += 1;
            }
        }
        errors
    });
    let mut s = samples.take();
    s.sort_unstable();
    let pct = |p: f64| {
        s.get(((s.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(0)
    };
    println!(
        "{{\"client\":\"tokio-ct\",\"connections\":{},\"size\":{},\"requests\":{},\"req_per_s\":{:.1},\"errors\":{},\"p50_us\":{},\"p99_us\":{},\"p999_us\":{}}}",
        a.conns,
        a.size,
        s.len(),
        s.len() as f64 / a.duration.as_secs_f64(),
        errors,
        pct(0.5),
        pct(0.99),
        pct(0.999)
    );
    Ok(())
}
