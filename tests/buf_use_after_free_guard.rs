//! A poisoning, quarantining allocator catches the kernel writing into freed memory.
//!
//! Every block freed while the guard is on is filled with a pattern and never reused;
//! at the end each one is checked. valgrind and ASan cannot see writes made by the kernel,
//! this can: a recv buffer freed while its op is still in flight would be overwritten by
//! the data the peer sends afterwards.

mod support;

use ringio::net::TcpStream;
use std::future::Future;
use std::io::Write;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use support::alloc;

#[global_allocator]
static ALLOC: alloc::Guard = alloc::Guard;

#[test]
fn reads_dropped_in_flight_never_let_the_kernel_write_freed_memory() {
    let _serial = support::serial();
    support::watchdog("use_after_free_guard", Duration::from_secs(120));
    ringio::run(async {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let s = TcpStream::connect(addr).await.unwrap();
        let (mut peer, _) = std_listener.accept().unwrap();
        alloc::quarantine_on();
        let mut sent = Vec::new();
        let mut received = Vec::new();
        for i in 0..3000u32 {
            let chunk = [(i % 256) as u8; 100];
            let mut read = Box::pin(s.read(vec![0u8; 4096]));
            let mut cx = Context::from_waker(Waker::noop());
            if let Poll::Ready((res, buf)) = read.as_mut().poll(&mut cx) {
                // Bytes a dropped read had received come back first, at once.
                received.extend_from_slice(&buf[..res.unwrap()]);
                peer.write_all(&chunk).unwrap();
                sent.extend_from_slice(&chunk);
                continue;
            }
            match i % 3 {
                // Data lands before the recv is even submitted: it completes inline.
                0 => {
                    peer.write_all(&chunk).unwrap();
                    drop(read);
                }
                // The recv is armed in the kernel, then data races the cancel.
                1 => {
                    ringio::yield_now().await;
                    peer.write_all(&chunk).unwrap();
                    drop(read);
                }
                // Dropped and cancelled first, data afterwards.
                _ => {
                    drop(read);
                    ringio::yield_now().await;
                    peer.write_all(&chunk).unwrap();
                }
            }
            sent.extend_from_slice(&chunk);
            ringio::yield_now().await;
        }
        // Every byte arrives, in order, though thousands of reads were dropped.
        let rest = sent.len() - received.len();
        let tail =
            ringio::time::timeout(Duration::from_secs(5), s.read_exact(vec![0u8; rest])).await;
        // Check the quarantine first: a use-after-free would also lose bytes.
        assert_eq!(
            alloc::corrupted_blocks(),
            0,
            "the kernel wrote into freed memory"
        );
        let (res, tail) = tail.expect("bytes lost by cancelled reads");
        res.unwrap();
        received.extend_from_slice(&tail);
        assert!(
            received == sent,
            "bytes lost or reordered by cancelled reads"
        );
        assert!(
            support::settle(Duration::from_secs(5), || ringio::metrics().ops_in_flight
                == 0)
            .await
        );
    });
    let checked = alloc::quarantined();
    assert!(checked > 3000, "the quarantine saw only {checked} frees");
    assert_eq!(
        alloc::verify_and_release(),
        0,
        "the kernel wrote into freed memory"
    );
}
