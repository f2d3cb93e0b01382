//! On the epoll backend a receive into the pool takes the buffer given back last (its
//! `BufRing::peek_published`): a light load keeps reusing a few buffers, warm in the
//! cache, instead of walking the whole pool in ring order, a new cold buffer (and page)
//! for every receive. The io_uring kernel picks buffers in ring order itself; it is not
//! tested here.
//!
//! The server runs on epoll whatever `RINGIO_BACKEND` says; its peer is a std socket in
//! another thread.

mod support;

use ringio::Runtime;
use ringio::net::TcpListener;
use ringio::runtime::Backend;
use std::collections::HashSet;
use std::io::{Read, Write};
use std::time::Duration;
use support::{serial, watchdog};

const BUFFERS: u16 = 64;
/// Messages sent one at a time: several rounds of the pool.
const MESSAGES: usize = 8 * BUFFERS as usize;
const SIZE: usize = 32;

fn epoll_core() -> Runtime {
    Runtime::builder()
        .workers(1)
        .backend(Backend::Epoll)
        .buffer_pool(BUFFERS, 1024)
        .build()
        .expect("an epoll runtime starts")
}

/// A std peer sends `MESSAGES` messages, each after the server's one-byte reply to the
/// last; `recv` receives one message into the pool and returns the buffer's address,
/// giving the buffer back before it returns. Returns the distinct addresses seen.
fn addresses_of_sequential_receives(stream: bool) -> usize {
    let rt = epoll_core();
    rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.set_nodelay(true).unwrap();
            let mut ack = [0u8; 1];
            for i in 0..MESSAGES {
                s.write_all(&[i as u8; SIZE]).unwrap();
                s.read_exact(&mut ack).unwrap();
            }
        });
        let (s, _) = listener.accept().await.unwrap();
        let mut seen = HashSet::new();
        let mut received = 0;
        let mut data = stream.then(|| s.recv_stream());
        while received < MESSAGES * SIZE {
            let buf = match &mut data {
                Some(d) => d.next().await.expect("the peer is still sending"),
                None => s.recv_pooled().await,
            }
            .unwrap_or_else(|e| panic!("receive {}: {e}", seen.len()));
            assert!(!buf.is_empty(), "the peer closed early");
            received += buf.len();
            seen.insert(buf.as_slice().as_ptr() as usize);
            // The buffer goes back to the pool before the peer sends again.
            drop(buf);
            let (res, _) = s.write_all(vec![0u8]).await;
            res.unwrap();
        }
        peer.join().unwrap();
        assert_eq!(ringio::metrics().pool_in_use, 0, "every buffer came back");
        seen.len()
    })
}

/// A receive that finds buffers given back takes the newest: one message at a time, each
/// buffer given back before the next arrives, is served by one buffer (two, if the
/// multishot receive's next attempt ever comes before the drop), not by every buffer of
/// the pool in turn.
#[test]
fn sequential_receives_reuse_the_buffer_given_back_last() {
    let _serial = serial();
    watchdog("pool_reuse", Duration::from_secs(60));
    for stream in [false, true] {
        let what = if stream { "recv_stream" } else { "recv_pooled" };
        let distinct = addresses_of_sequential_receives(stream);
        assert!(
            distinct <= 2,
            "{what}: {MESSAGES} sequential receives used {distinct} of the pool's {BUFFERS} \
             buffers; each should take the one given back last"
        );
    }
}
