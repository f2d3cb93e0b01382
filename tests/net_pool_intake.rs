//! The epoll backend takes in no more ready sockets per wait than the buffer pool can give
//! (its rule 7): with many more busy connections than pool buffers, receives find a
//! buffer instead of falling back to a peek, an ENOBUFS completion and an owned receive.
//!
//! The server runs on epoll whatever `RINGIO_BACKEND` says; its clients run on a second
//! runtime in another thread, on the default backend.

mod support;

use ringio::Runtime;
use ringio::net::{TcpListener, TcpStream};
use ringio::runtime::Backend;
use std::time::Duration;
use support::{echo_stream_until_eof, serial, watchdog};

const CONNS: usize = 2_000;
const ROUNDS: usize = 20;
const SIZE: usize = 64;
/// Far fewer buffers than busy connections.
const POOL_BUFFERS: u16 = 256;

/// `CONNS` connections to `addr` from a runtime of their own, each sending `SIZE` bytes
/// and reading their echo back, `ROUNDS` times.
fn run_clients(addr: std::net::SocketAddr) {
    let rt = Runtime::builder().workers(1).build().unwrap();
    rt.block_on(async move {
        let mut tasks = Vec::new();
        for conn in 0..CONNS {
            tasks.push(ringio::spawn(async move {
                let s = TcpStream::connect(addr).await.unwrap();
                let mut buf = vec![0u8; SIZE];
                for round in 0..ROUNDS {
                    let byte = (conn + round) as u8;
                    s.write_all(vec![byte; SIZE]).await.0.unwrap();
                    let (res, b) = s.read_exact(buf).await;
                    res.unwrap();
                    assert!(b.iter().all(|&x| x == byte), "echo mixed up");
                    buf = b;
                }
            }));
        }
        for t in tasks {
            t.await.expect("a client task failed");
        }
    });
}

/// Every connection sends `SIZE` bytes and waits for their echo, `ROUNDS` times, all at
/// once; returns the server core's count of receives that found the pool empty.
fn exhausted_under_load() -> u64 {
    let server = Runtime::builder()
        .workers(1)
        .backend(Backend::Epoll)
        .buffer_pool(POOL_BUFFERS, 4096)
        .build()
        .unwrap();
    server.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let clients = std::thread::spawn(move || run_clients(addr));
        let serve = ringio::spawn(async move {
            loop {
                let (s, _) = listener.accept().await.unwrap();
                ringio::spawn(echo_stream_until_eof(s));
            }
        });
        while !clients.is_finished() {
            ringio::time::sleep(Duration::from_millis(5)).await;
        }
        serve.cancel();
        clients.join().unwrap();
    });
    server.metrics().pool_exhausted
}

#[test]
fn busy_connections_beyond_the_pool_rarely_find_it_empty() {
    let _serial = serial();
    let limit = support::rlimit::raise_nofile_limit().expect("raise the descriptor limit");
    assert!(
        limit >= 3 * CONNS as u64,
        "RLIMIT_NOFILE {limit} is too low for {CONNS} connections"
    );
    watchdog("pool intake", Duration::from_secs(120));
    let requests = (CONNS * ROUNDS) as u64;
    let exhausted = exhausted_under_load();
    println!("{exhausted} of {requests} receives found the pool of {POOL_BUFFERS} empty");
    // Taking in every ready socket at once (up to 1,024 a wait) found the pool empty for
    // 35,080 of these 40,000 receives; within the limit only waits that take the floor of
    // 64 events while fewer buffers are free can.
    assert!(
        exhausted * 100 <= requests,
        "{exhausted} of {requests} receives found the pool of {POOL_BUFFERS} empty"
    );
}
