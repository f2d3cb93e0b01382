#![cfg(any(feature = "tokio-io", feature = "futures-io"))]
//! Echo round trips through `Compat` allocate nothing per read or write once warmed up:
//! the receive and the send live in the `Compat` (allocated once each), the write buffer
//! is reused, receives take pool buffers.
//!
//! This file holds one test so that its counting allocator sees only that test.

use std::cell::Cell;
use std::rc::Rc;

use ringio::compat::Compat;
use ringio::net::{TcpListener, TcpStream};

mod support;

// Counts every allocation (a grown buffer too): `support::alloc::allocations()`.
#[global_allocator]
static ALLOC: support::alloc::Guard = support::alloc::Guard;

const CONNS: usize = 50;
/// Round trips per connection before counting, so queues, slabs and each Compat's
/// buffers reach their size.
const WARM_UP: usize = 200;
const MEASURED: usize = 1_000;
const MSG: usize = 64;

/// Which traits the round trips go through, on both ends.
#[derive(Clone, Copy, Debug)]
enum Traits {
    #[cfg(feature = "tokio-io")]
    Tokio,
    #[cfg(feature = "futures-io")]
    Futures,
}

/// Echoes through `Compat` halves with the traits' own copy loop until the peer closes.
async fn echo(stream: TcpStream, traits: Traits) {
    let (read, write) = stream.into_split();
    let (read, mut write) = (Compat::new(read), Compat::new(write));
    match traits {
        #[cfg(feature = "tokio-io")]
        Traits::Tokio => {
            let mut read = read;
            let _ = tokio::io::copy(&mut read, &mut write).await;
        }
        #[cfg(feature = "futures-io")]
        Traits::Futures => {
            let _ = futures_util::io::copy_buf(read, &mut write).await;
        }
    }
}

/// One round trip from the client: write `out`, read `back.len()` bytes into `back`.
async fn round_trip(c: &mut Compat<TcpStream>, traits: Traits, out: &[u8], back: &mut [u8]) {
    match traits {
        #[cfg(feature = "tokio-io")]
        Traits::Tokio => {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            c.write_all(out).await.unwrap();
            c.read_exact(back).await.unwrap();
        }
        #[cfg(feature = "futures-io")]
        Traits::Futures => {
            use futures_util::io::{AsyncReadExt, AsyncWriteExt};
            c.write_all(out).await.unwrap();
            c.read_exact(back).await.unwrap();
        }
    }
}

/// Allocations per round trip over `MEASURED` round trips on each of `CONNS`
/// connections, server and client (both on this runtime, both through `Compat`) together.
fn allocations_per_round_trip(traits: Traits) -> f64 {
    ringio::run(async move {
        let listener = Rc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        let l = listener.clone();
        ringio::spawn(async move {
            loop {
                let (s, _) = l.accept().await.unwrap();
                ringio::spawn(echo(s, traits));
            }
        });
        let start = Rc::new(Cell::new(None));
        let barrier = Rc::new(ringio::sync::Barrier::new(CONNS));
        let mut clients = Vec::new();
        for _ in 0..CONNS {
            let (start, barrier) = (start.clone(), barrier.clone());
            clients.push(ringio::spawn(async move {
                let mut c = Compat::new(TcpStream::connect(addr).await.unwrap());
                let mut out = [7u8; MSG];
                let mut back = [0u8; MSG];
                for i in 0..WARM_UP + MEASURED {
                    if i == WARM_UP {
                        barrier.wait().await;
                        if start.get().is_none() {
                            start.set(Some(support::alloc::allocations()));
                        }
                    }
                    out[0] = i as u8;
                    round_trip(&mut c, traits, &out, &mut back).await;
                    assert_eq!(back, out);
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
fn compat_round_trips_allocate_nothing_per_read_or_write() {
    let _serial = support::serial();
    let all = [
        #[cfg(feature = "tokio-io")]
        Traits::Tokio,
        #[cfg(feature = "futures-io")]
        Traits::Futures,
    ];
    for traits in all {
        let per_round_trip = allocations_per_round_trip(traits);
        eprintln!("{traits:?}: {per_round_trip:.4} allocations per round trip");
        // A few allocations over the whole window (a queue growing once, a barrier's
        // waiters) are fine; one per read, write or round trip is what this guards
        // against (each round trip is two writes and at least two reads).
        assert!(
            per_round_trip < 0.01,
            "{traits:?}: {per_round_trip:.4} allocations per round trip"
        );
    }
}
