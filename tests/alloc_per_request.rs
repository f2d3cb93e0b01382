//! The echo hot path allocates nothing per request: ops reuse slab slots, op futures are
//! not boxed, pooled buffers come from the ring, wakers are reference counts.
//!
//! This file holds one test so that its counting allocator sees only that test.

use std::rc::Rc;

use ringio::net::{TcpListener, TcpStream};

mod support;

// Counts every allocation (a grown buffer too): `support::alloc::allocations()`.
#[global_allocator]
static ALLOC: support::alloc::Guard = support::alloc::Guard;

const CONNS: usize = 50;
/// Round trips per connection before counting, so queues and slabs reach their size.
const WARM_UP: usize = 200;
const MEASURED: usize = 1_000;
const MSG: usize = 64;

/// Allocations per request over `MEASURED` round trips on each of `CONNS` connections,
/// server and client (both on this runtime) together.
fn allocations_per_request(pooled: bool) -> f64 {
    ringio::run(async move {
        let listener = Rc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        let l = listener.clone();
        ringio::spawn(async move {
            loop {
                let (s, _) = l.accept().await.unwrap();
                if pooled {
                    ringio::spawn(support::echo_stream_until_eof(s));
                } else {
                    ringio::spawn(support::echo_until_eof(s));
                }
            }
        });
        let start = Rc::new(std::cell::Cell::new(None));
        let barrier = Rc::new(ringio::sync::Barrier::new(CONNS));
        let mut clients = Vec::new();
        for _ in 0..CONNS {
            let (start, barrier) = (start.clone(), barrier.clone());
            clients.push(ringio::spawn(async move {
                let s = TcpStream::connect(addr).await.unwrap();
                let mut out = vec![7u8; MSG];
                let mut back = vec![0u8; MSG];
                for i in 0..WARM_UP + MEASURED {
                    if i == WARM_UP {
                        barrier.wait().await;
                        if start.get().is_none() {
                            start.set(Some(support::alloc::allocations()));
                        }
                    }
                    out[0] = i as u8;
                    let (res, o) = s.write_all(out).await;
                    res.unwrap();
                    let (res, b) = s.read_exact(back).await;
                    res.unwrap();
                    assert_eq!(b[0], i as u8);
                    out = o;
                    back = b;
                }
            }));
        }
        for c in clients {
            c.await.unwrap();
        }
        let allocations = support::alloc::allocations() - start.get().unwrap();
        allocations as f64 / (CONNS * MEASURED) as f64
    })
}

#[test]
fn echo_round_trips_allocate_nothing_per_request() {
    let _serial = support::serial();
    for pooled in [true, false] {
        let per_request = allocations_per_request(pooled);
        eprintln!("pooled={pooled}: {per_request:.4} allocations per request");
        // A few allocations over the whole window (a queue growing once, a barrier's
        // waiters) are fine; one per request or per op is what this guards against.
        assert!(
            per_request < 0.01,
            "pooled={pooled}: {per_request:.4} allocations per request"
        );
    }
}
