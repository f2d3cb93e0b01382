//! Buffer pool sizes that cannot work are refused by `build()` with the numbers and the
//! bound, and a receive that finds the pool dry allocates what a read needs (64 KiB at
//! most), not the configured buffer size, without losing a byte.
//!
//! The counting allocator sees the whole process, so every test here takes
//! `support::serial()`.

mod support;

use ringio::Runtime;
use ringio::net::{TcpListener, TcpStream};
use ringio::runtime::{MAX_POOL_BUFFER_SIZE, MAX_POOL_BYTES};
use std::io::{ErrorKind, Write};
use std::time::Duration;
use support::alloc;

#[global_allocator]
static ALLOC: alloc::Guard = alloc::Guard;

#[test]
fn oversized_pools_are_refused_at_build() {
    let _serial = support::serial();
    for (buffers, size, says) in [
        (
            32768,
            1 << 20,
            "32768 buffers × 1048576 bytes = 34359738368 bytes per core",
        ),
        (
            1,
            i32::MAX as usize,
            "buffer size 2147483647 bytes is not in 1..=1048576",
        ),
        (1, MAX_POOL_BUFFER_SIZE + 1, "MAX_POOL_BUFFER_SIZE"),
        (4096, 512 * 1024, "MAX_POOL_BYTES"),
    ] {
        let err = Runtime::builder()
            .workers(1)
            .buffer_pool(buffers, size)
            .build()
            .expect_err("an oversized pool was accepted");
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        let msg = err.to_string();
        assert!(msg.contains(says), "buffer_pool({buffers}, {size}): {msg}");
    }
    // The bounds themselves are accepted.
    assert_eq!(MAX_POOL_BYTES / MAX_POOL_BUFFER_SIZE, 1024);
    Runtime::builder()
        .workers(1)
        .buffer_pool(1024, MAX_POOL_BUFFER_SIZE)
        .build()
        .unwrap();
}

#[test]
fn dry_pool_receive_allocates_a_bounded_buffer_and_loses_nothing() {
    let _serial = support::serial();
    support::watchdog("dry_pool_receive", Duration::from_secs(120));
    const BYTES: usize = 4 << 20;
    // One pooled buffer of 1 MiB: once a receive holds it, the pool is dry.
    let rt = Runtime::builder()
        .workers(1)
        .buffer_pool(1, MAX_POOL_BUFFER_SIZE)
        .build()
        .unwrap();
    let writer = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let holder_peer = TcpStream::connect(addr).await.unwrap();
        let (holder, _) = listener.accept().await.unwrap();
        holder_peer.write_all(b"hold").await.0.unwrap();
        let held = holder.recv_pooled().await.unwrap();
        assert_eq!(&held[..], b"hold");
        assert_eq!(ringio::metrics().pool_in_use, 1, "the only buffer is held");

        let writer = std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            let data: Vec<u8> = (0..BYTES).map(|i| (i % 251) as u8).collect();
            s.write_all(&data).unwrap();
        });
        let (s, _) = listener.accept().await.unwrap();
        // Let the whole stream reach the socket, so a receive could take a lot at once.
        ringio::time::sleep(Duration::from_millis(50)).await;
        let fallbacks = ringio::metrics().pool_fallbacks;
        let base = alloc::live_bytes();
        alloc::reset_peak();
        let (mut got, mut biggest) = (0, 0);
        while got < BYTES {
            let buf = s.recv_pooled().await.unwrap();
            assert!(!buf.is_empty(), "the stream ended after {got} bytes");
            for (i, &b) in buf.iter().enumerate() {
                assert_eq!(b, ((got + i) % 251) as u8, "byte {} is wrong", got + i);
            }
            got += buf.len();
            biggest = biggest.max(buf.len());
        }
        let peak = alloc::peak_bytes() - base;
        let used = ringio::metrics().pool_fallbacks - fallbacks;
        eprintln!("{used} fallback receives, biggest {biggest} bytes, peak heap {peak} bytes");
        assert!(
            used > 0,
            "the pool was dry: receives must have used owned buffers"
        );
        assert!(
            biggest <= 64 * 1024,
            "a fallback receive returned {biggest} bytes"
        );
        assert!(
            peak < 512 * 1024,
            "fallback receives held {peak} bytes at peak; the pool's buffer size is 1 MiB"
        );
        drop(held);
        writer
    });
    writer.join().unwrap();
}
